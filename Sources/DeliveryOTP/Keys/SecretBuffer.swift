#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Wipes a caller's copy of secret bytes (a keyring or device keys as JSON, a passphrase)
/// with `OPENSSL_cleanse`, which the compiler cannot optimise away.
///
/// The library wipes every buffer it owns; these are for the buffers it hands out
/// (``Keyring/jsonBytes()``, ``DeviceKeys/jsonBytes()``) and for bytes a caller read
/// from its own store before parsing them. Copies made before the call (an array
/// that was copied and then changed) are not reached.
public enum SecretBuffer {
    /// Overwrites every byte of `bytes` with zeros, keeping its count.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { SecureMemory.wipe($0) }
    }

    /// Overwrites every byte of `data` with zeros, keeping its count.
    public static func wipe(_ data: inout Data) {
        data.withUnsafeMutableBytes { SecureMemory.wipe($0) }
    }
}
