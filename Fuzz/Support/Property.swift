#if canImport(Glibc)
    import Glibc
#endif

/// Checks a property of one fuzz input. When it fails, the message goes to standard error and the
/// process aborts: libFuzzer reports a deadly signal and keeps the input as `crash-<sha1>`, so a
/// broken property is a finding exactly like a crash.
public func property(
    _ holds: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    guard !holds() else { return }
    let text = Array("property failed (\(file):\(line)): \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The fuzz input as a buffer; libFuzzer may pass a null pointer for the empty input.
public func input(_ data: UnsafePointer<UInt8>?, _ count: Int) -> UnsafeRawBufferPointer {
    guard let data, count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: count)
}

/// A printable rendering of bytes for a property's message: ASCII as it is, the rest as \xNN.
public func printable(_ bytes: some Sequence<UInt8>) -> String {
    var text = ""
    for byte in bytes.prefix(200) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
        }
    }
    return text
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
