@_spi(Tools) import DeliveryOTP
import FuzzSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Manifest chunks through the real `ManifestIssuer` path, CSV or JSON lines, with small chunks
/// and one to three threads. The run must give exactly what one thread reading the whole input
/// as one chunk gives (the output, the rejects, the counts, or the same error), every row read
/// is issued, not required or rejected, and every code in the output is the one the library's
/// `CodeGenerator` derives for that row.
///
/// The first byte chooses: bit 0 the format (CSV or JSON lines), bit 1 a standard CSV header put
/// in front, bits 2 and 3 the threads (1 to 3); the second byte the chunk size (1,024 + 16 × it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(input(data, count))
    guard bytes.count >= 2, bytes.count <= 1 << 16 else { return 0 }
    let format: ManifestIssuer.Format = bytes[0] & 1 == 0 ? .csv : .jsonLines
    let header = format == .csv && bytes[0] & 2 != 0 ? Array("shipment_id,delivery_date,scope,order_value,currency\n".utf8) : []
    let threads = 1 + Int(bytes[0] >> 2 & 3) % 3
    let chunkSize = 1024 + 16 * Int(bytes[1])
    let manifest = header + bytes[2...]

    let reference = Run(manifest, format: format, threads: 1, chunkSize: 1 << 20)
    let run = Run(manifest, format: format, threads: threads, chunkSize: chunkSize)
    property(
        run.error == reference.error,
        "\(threads) threads, \(chunkSize)-byte chunks: \(String(describing: run.error)); one chunk: \(String(describing: reference.error))")
    property(run.output == reference.output, "the output differs with \(threads) threads and \(chunkSize)-byte chunks")
    property(run.rejects == reference.rejects, "the rejects differ with \(threads) threads and \(chunkSize)-byte chunks")
    guard let summary = run.summary, let other = reference.summary else { return 0 }
    property(
        summary.rowsRead == other.rowsRead && summary.issued == other.issued && summary.notRequired == other.notRequired
            && summary.rejected == other.rejected, "the counts differ: \(summary) against \(other)")
    property(
        summary.rowsRead == summary.issued + summary.notRequired + summary.rejected,
        "\(summary.rowsRead) rows read, but \(summary.issued) + \(summary.notRequired) + \(summary.rejected) accounted for")
    checkCodes(run.output)
    return 0
}

/// One run of the issuer on in-memory files.
private struct Run {
    var output: [UInt8] = []
    var rejects: [UInt8] = []
    var summary: ManifestIssuer.Summary?
    var error: String?

    init(_ manifest: [UInt8], format: ManifestIssuer.Format, threads: Int, chunkSize: Int) {
        let input = memoryFile(manifest), output = memoryFile([]), rejects = memoryFile([])
        defer { close(input); close(output); close(rejects) }
        let issuer = ManifestIssuer(
            keyring: Fixture.keyring,
            options: .init(format: format, timeZone: Fixture.zone, threads: threads, chunkSize: chunkSize))
        do { summary = try issuer.run(input: input, output: output, rejects: rejects) } catch { self.error = "\(error)" }
        self.output = contents(output)
        self.rejects = contents(rejects)
    }
}

private enum Fixture {
    static let keyring = try! Keyring(keys: [
        Keyring.Key(
            id: KeyID("k-2000"), secret: SecretKey(copying: Array(repeating: UInt8(7), count: 32)),
            activeFrom: DeliveryDate("2000-01-01"), createdAt: nil)
    ])
    static let zone = try! DeliveryTimeZone("Europe/Berlin")
}

/// Every output record with a code holds the code the library derives for its shipment, scope and date.
private func checkCodes(_ output: [UInt8]) {
    for line in output.split(separator: 0x0A).dropFirst() {
        let fields = csvFields(Array(line))
        property(fields.count == ManifestIssuer.outputColumns.count, "an output line with \(fields.count) fields: \(printable(line))")
        guard fields.count == 7, fields[3] == "true" else { continue }
        guard let id = try? ShipmentID(fields[0]), let date = try? DeliveryDate(fields[1]), let scope = try? Scope(fields[2]),
            let (dayKey, keyID) = try? Fixture.keyring.dayKey(scope: scope, date: date)
        else {
            property(false, "an issued line whose fields do not parse: \(printable(line))")
            return
        }
        property(CodeGenerator(dayKey: dayKey).code(for: id).description == fields[4], "a wrong code in \(printable(line))")
        property(keyID.rawValue == fields[5], "a wrong key id in \(printable(line))")
    }
}

/// The fields of one output line (RFC 4180; the issuer writes no line ends inside fields).
private func csvFields(_ line: [UInt8]) -> [String] {
    var fields: [String] = [], field: [UInt8] = [], quoted = false, index = 0
    while index < line.count {
        let byte = line[index]
        if quoted {
            if byte == UInt8(ascii: "\"") {
                if index + 1 < line.count && line[index + 1] == UInt8(ascii: "\"") {
                    field.append(byte)
                    index += 1
                } else {
                    quoted = false
                }
            } else {
                field.append(byte)
            }
        } else if byte == UInt8(ascii: "\"") {
            quoted = true
        } else if byte == UInt8(ascii: ",") {
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
        } else {
            field.append(byte)
        }
        index += 1
    }
    fields.append(String(decoding: field, as: UTF8.self))
    return fields
}

/// An unnamed file in memory (tmpfs, unlinked at once) holding `bytes`, positioned at its start.
private func memoryFile(_ bytes: [UInt8]) -> Int32 {
    var template = Array("/dev/shm/delivery-otp-fuzz-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    property(fd >= 0, "mkstemp in /dev/shm failed: errno \(errno)")
    _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
    var written = 0
    while written < bytes.count {
        let result = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        property(result > 0, "write to a memory file failed")
        written += result
    }
    lseek(fd, 0, SEEK_SET)
    return fd
}

private func contents(_ fd: Int32) -> [UInt8] {
    let size = Int(lseek(fd, 0, SEEK_END))
    var bytes = [UInt8](repeating: 0, count: size)
    _ = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
    return bytes
}
