import DeliveryOTP
import FuzzSupport

/// Keyring files (format v1): a keyring that parses writes itself out as JSON that parses to the
/// same keys, and writing that out again gives the same bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyring(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = input(data, count)
    guard let keyring = try? Keyring(json: bytes) else { return 0 }
    let written = keyring.jsonBytes()
    let again: Keyring
    do { again = try Keyring(json: written) } catch {
        property(false, "a parsed keyring, written out, does not parse: \(error)")
        return 0
    }
    property(again.isExample == keyring.isExample, "isExample changed")
    property(again.keys.count == keyring.keys.count, "\(keyring.keys.count) keys became \(again.keys.count)")
    for (old, new) in zip(keyring.keys, again.keys) {
        property(
            old.id == new.id && old.secret == new.secret && old.activeFrom == new.activeFrom && old.createdAt == new.createdAt
                && old.revokedAt == new.revokedAt,
            "key \(old.id) changed in the round trip")
    }
    property(again.jsonBytes() == written, "writing the keyring is not stable")
    return 0
}
