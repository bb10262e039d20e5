import DeliveryOTP
import FuzzSupport

/// Device-key files: what parses writes itself out as JSON that parses, and writing that out
/// again gives the same bytes; every day key it holds can be looked up by its own scope and date.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeviceKeys(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = input(data, count)
    guard let keys = try? DeviceKeys(json: bytes) else { return 0 }
    let written = keys.jsonBytes()
    let again: DeviceKeys
    do { again = try DeviceKeys(json: written) } catch {
        property(false, "parsed device keys, written out, do not parse: \(error)")
        return 0
    }
    property(again.jsonBytes() == written, "writing the device keys is not stable")
    property(
        again.scope == keys.scope && again.entries.count == keys.entries.count && again.attemptLimit == keys.attemptLimit
            && again.deviceID == keys.deviceID && again.isExample == keys.isExample,
        "the device keys changed in the round trip")
    for entry in keys.entries {
        let found = try? keys.dayKey(scope: keys.scope, date: entry.date)
        property(found?.keyID == entry.keyID, "the day key for \(entry.date) is not found by its own scope and date")
    }
    return 0
}
