import DeliveryOTP
import Foundation
import FuzzSupport

/// The manifest's byte-level JSON-lines reader (`JSONRecord`) against Foundation's JSON parser.
/// A line the reader accepts is one JSON object to Foundation too, with the same value for every
/// member the reader reports; a line Foundation takes as an object is accepted by the reader,
/// when Foundation writes it (Foundation reads some text RFC 8259 does not allow).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONRecord(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    // The reader gets a line without its line end, as the manifest issuer gives it one.
    guard count < 1 << 16, !UnsafeBufferPointer(start: data, count: count).contains(0x0A) else { return 0 }
    // In a buffer with the slack the manifest's chunks have after each line (zeroed, as there),
    // and no more: AddressSanitizer catches a read beyond it.
    let padded = UnsafeMutableRawBufferPointer.allocate(byteCount: count + ByteBuffer.slack, alignment: 8)
    defer { padded.deallocate() }
    padded.initializeMemory(as: UInt8.self, repeating: 0)
    if count > 0 { padded.baseAddress!.copyMemory(from: data!, byteCount: count) }
    let bytes = UnsafeRawBufferPointer(rebasing: padded[0..<count])
    let names = JSONRecord.names.map { String(decoding: $0, as: UTF8.self) }
    // As the issuer allocates it: 256 bytes per field, and the slack.
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 256 * names.count + ByteBuffer.slack, alignment: 8)
    defer { scratch.deallocate() }
    var members: [String: JSONRecord.Value] = [:]
    var copies: [String: [UInt8]] = [:]
    let parsed = Result { () throws(JSONRecord.Failure) in
        try JSONRecord.parse(bytes, scratch: scratch) { field, value in
            members[names[field]] = value
            if case .text(let text) = value { copies[names[field]] = text.count > 256 ? Array(repeating: 0, count: 257) : Array(text) }
        }
    }
    var outOfRange = false
    let foundation: [String: Any]?
    do {
        foundation = try JSONSerialization.jsonObject(with: escapingByteOrderMarks(bytes), options: [.fragmentsAllowed]) as? [String: Any]
    } catch {
        foundation = nil
        // RFC 8259 §6 lets a reader limit the range of numbers: Foundation refuses a document
        // with one a Double cannot hold; the reader skips a member it does not use unread.
        outOfRange = "\(error)".contains("is not representable")
    }

    switch parsed {
    case .success:
        guard let object = foundation else {
            // RFC 8259 §8.2: what a reader makes of an unpaired surrogate is unpredictable; the
            // reader refuses one in a member it uses and skips it elsewhere, Foundation refuses it.
            property(
                outOfRange || hasLoneSurrogate(bytes),
                "the reader accepts \"\(printable(bytes))\", which Foundation does not read as an object")
            return 0
        }
        for (name, value) in members {
            let theirs = object[name]
            switch value {
            case .text:
                let ours = copies[name]!
                if ours.count == 257 { continue }  // cut at 256 bytes: reported as too long, never used
                if let string = theirs as? String {
                    property(
                        Array(string.utf8) == ours, "\(name): \"\(printable(ours))\" against Foundation's \"\(printable(string.utf8))\"")
                } else if let number = theirs as? NSNumber, name == "order_value" {
                    let literal = String(decoding: ours, as: UTF8.self)
                    property(
                        isNumberLiteral(literal) && (sameNumber(literal, number) || isOutOfDoubleRange(literal)),
                        "\(name): \(literal) against \(number)")
                } else {
                    property(false, "\(name): the reader has text \"\(printable(ours))\", Foundation has \(String(describing: theirs))")
                }
            case .null:
                property(theirs is NSNull, "\(name): the reader has null, Foundation has \(String(describing: theirs))")
            case .wrongType:
                property(
                    !(theirs is String) && !(name == "order_value" && theirs is NSNumber && !(theirs is Bool)) && !(theirs is NSNull),
                    "\(name): the reader has a wrong type, Foundation has \(String(describing: theirs))")
            }
        }
    case .failure(.duplicate(let name)):
        property(names.contains(name), "a duplicate of \(name), which is not a member of interest")
    case .failure(.notAnObject):
        // Foundation also reads what RFC 8259 does not allow (a trailing comma, for one), so the
        // converse is checked on what Foundation writes: every object it writes, the reader reads.
        guard let object = foundation, !hasLoneSurrogate(bytes),
            let canonical = try? JSONSerialization.data(withJSONObject: object)
        else { break }
        let padded = Array(canonical) + Array(repeating: 0, count: ByteBuffer.slack)
        let again = padded.withUnsafeBytes { buffer in
            Result { () throws(JSONRecord.Failure) in
                try JSONRecord.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<canonical.count]), scratch: scratch) { _, _ in }
            }
        }
        if case .failure = again {
            property(false, "the reader refuses \"\(printable(canonical))\", which Foundation wrote")
        }
    }
    return 0
}

/// The line as Foundation is given it: each U+FEFF after the first byte, and not after a
/// backslash, spelt as the escape `\ufeff`. JSONSerialization builds a string from pieces, each an
/// NSString made from UTF-8, which drops a U+FEFF at its start as a byte-order mark: at the start
/// of a string and after each escape. RFC 8259 §7 makes the character and its escape the same
/// string, and Foundation keeps the escape; outside a string, where neither is allowed, both are
/// refused. A mark that begins the line is kept as it is, since both readers skip it (§8.1).
private func escapingByteOrderMarks(_ bytes: UnsafeRawBufferPointer) -> Data {
    var text = Data(capacity: bytes.count)
    var index = 0
    while index < bytes.count {
        if index > 0, index + 3 <= bytes.count, bytes[index] == 0xEF, bytes[index + 1] == 0xBB, bytes[index + 2] == 0xBF,
            !followsEscapeCharacter(bytes, index)
        {
            text.append(contentsOf: Array(#"\ufeff"#.utf8))
            index += 3
        } else {
            text.append(bytes[index])
            index += 1
        }
    }
    return text
}

/// Whether the byte at `index` follows an odd run of backslashes, and so would make an escape: left
/// raw, `"\<U+FEFF>"` is refused by both readers, where `"\\ufeff"` would be a valid string.
private func followsEscapeCharacter(_ bytes: UnsafeRawBufferPointer, _ index: Int) -> Bool {
    var backslashes = 0
    while index - backslashes > 0, bytes[index - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
    return backslashes % 2 == 1
}

/// Whether the text is a number as RFC 8259 §6 spells it, and nothing more: the reader passes a
/// number on as written, so its text must be exactly one.
private func isNumberLiteral(_ text: String) -> Bool {
    text.wholeMatch(of: /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/) != nil
}

/// Whether Foundation read the number the reader gives as text. Foundation reads one of more than
/// 17 digits as an NSDecimalNumber (38 digits), whose `doubleValue` can be an ulp from the nearest
/// Double; RFC 8259 §6 leaves precision beyond a Double's to the reader. So such a number is
/// compared as a Decimal.
private func sameNumber(_ literal: String, _ number: NSNumber) -> Bool {
    if Double(literal) == number.doubleValue { return true }
    guard let decimal = number as? NSDecimalNumber else { return false }
    return Decimal(string: literal) == decimal.decimalValue
}

/// RFC 8259 §6 lets a reader limit a number's range; Foundation refuses what a Double cannot hold.
private func isOutOfDoubleRange(_ literal: String) -> Bool {
    guard let value = Double(literal) else { return true }
    return value.isInfinite
}

/// RFC 8259 §8.2: a `\u` escape of an unpaired surrogate is not a Unicode character, and what a
/// reader makes of one is unpredictable; the reader refuses it, Foundation may replace it.
private func hasLoneSurrogate(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let b = Array(bytes)
    func escape(at index: Int) -> UInt32? {
        guard index + 5 < b.count, b[index] == UInt8(ascii: "\\"), b[index + 1] == UInt8(ascii: "u") else { return nil }
        return UInt32(String(decoding: b[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16)
    }
    var index = 0
    while index < b.count {
        if b[index] == UInt8(ascii: "\\"), index + 1 < b.count, b[index + 1] != UInt8(ascii: "u") {
            index += 2  // an escape such as \\ or \", which cannot start a \u
            continue
        }
        guard let unit = escape(at: index) else {
            index += 1
            continue
        }
        if (0xDC00...0xDFFF).contains(unit) { return true }
        if (0xD800...0xDBFF).contains(unit) {
            guard let low = escape(at: index + 6), (0xDC00...0xDFFF).contains(low) else { return true }
            index += 12
            continue
        }
        index += 6
    }
    return false
}
