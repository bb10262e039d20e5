import DeliveryOTP
import Foundation
import FuzzSupport

/// The strict gate every JSON document from outside passes first (`JSONDuplicateMembers`: the
/// service's request bodies, keyring and device-key files, encrypted envelopes): one object in
/// UTF-8, nested at most 64 deep, no member named twice, every value spelt as RFC 8259 says. What
/// it lets through, Foundation reads as an object; what Foundation writes, it lets through. And
/// the verify body's one-pass reader (`JSONStringMembers`) reads nothing the gate refuses, and
/// reads what it reads as `JSONDecoder` does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONMembers(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = input(data, count)
    let finding = JSONDuplicateMembers.check(bytes)
    let parsed = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    // The verify body's one-pass reader: what it reads, the gate lets through and JSONDecoder
    // reads as the same members, byte for byte.
    if let members = JSONStringMembers.members(of: bytes) {
        property(finding == nil, "the one-pass reader reads \"\(printable(bytes))\", which the gate refuses")
        let decoded = try? JSONDecoder().decode([String: String].self, from: Data(bytes))
        let same = members.allSatisfy { name, value in decoded?[name].map { Array($0.utf8) } == Array(value.utf8) }
        property(
            decoded?.count == members.count && same, "the one-pass reader reads \"\(printable(bytes))\" otherwise than JSONDecoder")
    }
    switch finding {
    case nil:
        property(parsed is [String: Any], "the gate lets \"\(printable(bytes))\" through, which Foundation does not read as an object")
    case .duplicate:
        // Reported as soon as a name repeats, before the rest is read: such a body is refused
        // either way, and Foundation, which keeps the last value, cannot say more.
        break
    case .unreadable:
        // Foundation also reads what RFC 8259 does not allow (a trailing comma, for one), so the
        // converse is checked on what Foundation writes, within the gate's nesting bound.
        guard let object = parsed as? [String: Any], nesting(object) <= JSONDuplicateMembers.maximumDepth, !hasLoneSurrogate(bytes),
            let canonical = try? JSONSerialization.data(withJSONObject: object)
        else { break }
        let again = Array(canonical).withUnsafeBytes { JSONDuplicateMembers.check($0) }
        property(again == nil, "the gate refuses \"\(printable(canonical))\", which Foundation wrote")
    }
    return 0
}

/// How deep objects and arrays nest in a parsed value.
private func nesting(_ value: Any) -> Int {
    if let object = value as? [String: Any] { return 1 + (object.values.map(nesting).max() ?? 0) }
    if let array = value as? [Any] { return 1 + (array.map(nesting).max() ?? 0) }
    return 0
}

/// RFC 8259 §8.2: what a reader makes of an unpaired surrogate escape is unpredictable.
private func hasLoneSurrogate(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let text = String(decoding: bytes, as: UTF8.self).lowercased()
    return ["\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"].contains { text.contains($0) }
}
