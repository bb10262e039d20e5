import CertificateDER
import FuzzSupport

/// The DER walk behind `verify-ca`'s check of trust roots (`DERElement`, and
/// `CertificateFields.subjectPublicKeyInfo(ofCertificate:)` over it). In the service it reads the
/// TLS library's own encoding of certificates the library has parsed (from the system's bundle and
/// an operator's `sslrootcert`), so this is defence in depth: any bytes at all, not only those.
/// Properties:
/// - an element equals a plain model's reading of the same bytes: tag, contents and rest;
/// - tag, length and contents put back together give the bytes read, and with the rest the input;
/// - where the bytes lie in memory changes nothing: the same input at an offset of a larger array
///   reads the same (slices keep their parent's indices, the kind of slip a walk makes);
/// - the key found equals the one a walk over the model finds; it is a SEQUENCE inside the input,
///   and bytes after the certificate's outer element do not change it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDER(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(input(data, count))
    let shifted = [0xA5, 0x30, 0x82] + bytes
    checkElements(bytes[...], shifted: shifted[3...], depth: 0)

    let key = CertificateFields.subjectPublicKeyInfo(ofCertificate: bytes[...])
    property(key.map(Array.init) == modelKey(bytes), "the key found in \(printable(bytes)) is not the model's")
    property(
        CertificateFields.subjectPublicKeyInfo(ofCertificate: shifted[3...]).map(Array.init) == key.map(Array.init),
        "the key read at an offset differs, in \(printable(bytes))")
    if DERElement(bytes[...]) != nil {
        property(
            CertificateFields.subjectPublicKeyInfo(ofCertificate: (bytes + [0x30, 0x00, 0xFF])[...]).map(Array.init) == key.map(Array.init),
            "bytes after the certificate change its key, in \(printable(bytes))")
    }
    if let key {
        property(key.startIndex >= 0 && key.endIndex <= bytes.count, "the key lies outside the input")
        property(key.first == 0x30, "the key is not a SEQUENCE")
    }
    return 0
}

/// Reads the elements one after another in `bytes`, and inside each constructed one, checking each
/// against the model and against the same bytes at an offset (`shifted`). A certificate nests five
/// deep (certificate, tbsCertificate, name, RDN, attribute) and its fields are a few dozen, so eight
/// levels of 64 elements reach every element of one, and keep a run short on any input.
private func checkElements(_ bytes: ArraySlice<UInt8>, shifted: ArraySlice<UInt8>, depth: Int) {
    var bytes = bytes, shifted = shifted
    var read = 0
    while depth < 8, read < 64 {
        let element = DERElement(bytes), moved = DERElement(shifted), expected = model(Array(bytes))
        property(
            (element == nil) == (expected == nil), "DERElement and the model disagree on whether \(printable(bytes)) starts with an element"
        )
        property((moved == nil) == (element == nil), "an offset changes whether \(printable(bytes)) starts with an element")
        guard let element, let moved, let expected else { return }
        property(
            element.tag == expected.tag && Array(element.contents) == expected.contents && Array(element.rest) == expected.rest,
            "DERElement reads \(printable(bytes)) unlike the model")
        property(
            element.whole.startIndex == bytes.startIndex && element.whole.endIndex == element.contents.endIndex
                && element.contents.endIndex == element.rest.startIndex && element.rest.endIndex == bytes.endIndex,
            "the slices of \(printable(bytes)) do not tile it")
        property(
            Array(element.whole) == header(element.tag, count: element.contents.count, form: element.whole.count - element.contents.count)
                + Array(element.contents),
            "tag, length and contents do not give back \(printable(element.whole))")
        property(
            moved.tag == element.tag && Array(moved.whole) == Array(element.whole) && Array(moved.rest) == Array(element.rest),
            "the element at an offset differs, in \(printable(bytes))")
        if element.tag & 0x20 != 0 { checkElements(element.contents, shifted: moved.contents, depth: depth + 1) }
        bytes = element.rest
        shifted = moved.rest
        read += 1
    }
}

/// A plain reading of one element: tag (low five bits not all set), then a length of one byte under
/// 0x80, or 0x81 to 0x83 and that many bytes of length, big-endian; then that many bytes.
private func model(_ bytes: [UInt8]) -> (tag: UInt8, contents: [UInt8], rest: [UInt8])? {
    guard bytes.count >= 2, bytes[0] & 0x1F != 0x1F else { return nil }
    var headerCount = 2
    var length = UInt64(bytes[1])
    if bytes[1] >= 0x80 {
        let lengthBytes = Int(bytes[1] - 0x80)
        guard lengthBytes >= 1, lengthBytes <= 3, bytes.count >= 2 + lengthBytes else { return nil }
        length = bytes[2..<2 + lengthBytes].reduce(0) { $0 * 256 + UInt64($1) }
        headerCount += lengthBytes
    }
    guard UInt64(bytes.count - headerCount) >= length else { return nil }
    let end = headerCount + Int(length)
    return (bytes[0], Array(bytes[headerCount..<end]), Array(bytes[end...]))
}

/// The key as a walk over the model finds it: the seventh element of tbsCertificate with a
/// `[0]` version first, the sixth without, if it is a SEQUENCE.
private func modelKey(_ bytes: [UInt8]) -> [UInt8]? {
    guard let certificate = model(bytes), certificate.tag == 0x30, let tbs = model(certificate.contents), tbs.tag == 0x30
    else { return nil }
    var fields: [(tag: UInt8, whole: [UInt8])] = []
    var rest = tbs.contents
    while fields.count < 7, let field = model(rest) {
        fields.append((field.tag, Array(rest[..<(rest.count - field.rest.count)])))
        rest = field.rest
    }
    let index = fields.first?.tag == 0xA0 ? 6 : 5
    guard fields.count > index, fields[index].tag == 0x30 else { return nil }
    return fields[index].whole
}

/// The header an element of `count` content bytes has, in the form read: `form` bytes in all.
private func header(_ tag: UInt8, count: Int, form: Int) -> [UInt8] {
    guard form > 2 else { return [tag, UInt8(truncatingIfNeeded: count)] }
    let lengthBytes = form - 2
    return [tag, 0x80 | UInt8(truncatingIfNeeded: lengthBytes)]
        + (0..<lengthBytes).reversed().map { UInt8(truncatingIfNeeded: count >> (8 * $0)) }
}
