import DeliveryOTP
import FuzzSupport

/// Uploaded attempt logs (the body of the service's device upload, and `attempts` files):
/// JSON lines read by `AttemptRecord.records(jsonLines:)`. Whatever reads, written out line by
/// line, reads back as the same records, and every field was validated on the way in.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAttemptLog(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: input(data, count), as: UTF8.self)
    guard let records = try? AttemptRecord.records(jsonLines: text) else { return 0 }
    let written = records.map(\.jsonLine).joined()
    let again = try? AttemptRecord.records(jsonLines: written)
    property(again == records, "\(records.count) records written out read back as \(String(describing: again?.count))")
    for record in records {
        property((try? ShipmentID(record.shipment.rawValue)) != nil, "an invalid shipment ID was read")
        property(record.attempt.map { $0 >= 1 } ?? true, "attempt number \(String(describing: record.attempt))")
    }
    // Every line it took is one JSON object that names no member twice, as for every other
    // JSON document the service reads (RFC 8259 leaves the meaning of a repeated name open).
    for line in Array(text.utf8).split(separator: 0x0A) {
        let trimmed = line.last == 0x0D ? line.dropLast() : line
        if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
        let finding = Array(trimmed).withUnsafeBytes { JSONDuplicateMembers.check($0) }
        property(finding == nil, "a line the reader took names a member twice, or is not one object: \"\(printable(trimmed))\"")
    }
    return 0
}
