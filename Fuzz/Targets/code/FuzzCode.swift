import DeliveryOTP
import FuzzSupport

/// Typed codes (`DeliveryCode(typed:)`) against a plain model: white space (space, tab, CR, LF)
/// around exactly six ASCII digits is a code, anything else is not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCode(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = input(data, count)
    let text = String(decoding: bytes, as: UTF8.self)
    let parsed = DeliveryCode(typed: text)
    property(
        parsed?.value == model(Array(text.utf8)), "DeliveryCode(typed: \"\(printable(text.utf8))\") is \(String(describing: parsed?.value))"
    )
    if let parsed {
        property(
            parsed.description.utf8.count == 6 && DeliveryCode(typed: parsed.description)?.value == parsed.value, "round trip of \(parsed)")
    }
    return 0
}

private func model(_ bytes: [UInt8]) -> UInt32? {
    let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
    guard let first = bytes.firstIndex(where: { !space.contains($0) }), let last = bytes.lastIndex(where: { !space.contains($0) })
    else { return nil }
    let digits = bytes[first...last]
    guard digits.count == 6, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
    return digits.reduce(0) { $0 * 10 + UInt32($1 - 0x30) }
}
