#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A JSON string member that holds a secret (a key's base64): decoded like a `String`,
/// and its storage wiped when the last reference goes away, on error paths too.
///
/// `JSONDecoder` hands a string member over as a new heap `String` (base64 of a 16-byte or
/// longer secret is too long to be stored inline); without this, that copy of the secret
/// would be freed unwiped and stay readable in the heap. A member written with escapes
/// (`\/` for `/`, which this project's writers never emit) is assembled by the decoder
/// from pieces, and those intermediate pieces are not reached.
final class SecretText: Decodable, @unchecked Sendable {
    // Written once in init, read-only until deinit wipes it.
    let text: String

    init(from decoder: any Decoder) throws {
        text = try decoder.singleValueContainer().decode(String.self)
    }

    deinit {
        // A native String's UTF-8 is its own storage: wipe it in place. `withUTF8` on a
        // uniquely held native string hands out that storage, not a copy.
        var storage = text
        storage.withUTF8 { bytes in
            SecureMemory.wipe(UnsafeMutableRawBufferPointer(mutating: UnsafeRawBufferPointer(bytes)))
        }
    }
}
