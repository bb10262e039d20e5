import DeliveryOTP
import FuzzSupport

/// RFC 3339 times (`Timestamp(rfc3339:)`) and delivery dates (`DeliveryDate`), from text and from
/// bytes: whatever parses prints as text that parses back to the same value, the two date parsers
/// agree, and a date is exactly what its fields say.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTime(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = input(data, count)
    let text = String(decoding: bytes, as: UTF8.self)
    if let time = Timestamp(rfc3339: text) {
        property(Timestamp.supportedRange.contains(time.secondsSinceEpoch), "\(time.secondsSinceEpoch) is out of range")
        let again = Timestamp(rfc3339: time.description)
        property(again == time, "\"\(printable(text.utf8))\" is \(time), which reads back as \(String(describing: again))")
        if let date = time.utcDate {
            property(time.description.hasPrefix(date.description), "\(time) is on \(date)")
        }
    }
    let fromText = try? DeliveryDate(text)
    let fromBytes = try? DeliveryDate(asciiBytes: bytes)
    if bytes.allSatisfy({ $0 < 0x80 }) {
        property(
            fromText == fromBytes, "\"\(printable(bytes))\": text \(String(describing: fromText)), bytes \(String(describing: fromBytes))")
    }
    if let date = fromText {
        property(date.description == text, "\"\(printable(text.utf8))\" reads as \(date)")
        property(DeliveryDate(daysSinceEpoch: date.daysSinceEpoch) == date, "\(date) by its day number")
        property((try? DeliveryDate(year: date.year, month: date.month, day: date.day)) == date, "\(date) by its fields")
        property(date >= DeliveryDate.earliest && date <= DeliveryDate.latest, "\(date) out of range")
    }
    return 0
}
