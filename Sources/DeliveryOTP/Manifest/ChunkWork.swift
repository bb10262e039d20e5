import Foundation

/// Parses and issues one chunk of manifest records (one thread's share of a round).
struct ChunkWork: Sendable {
    let keyring: Keyring
    let options: ManifestIssuer.Options
    let columns: ManifestIssuer.Columns

    /// Scratch space for one worker thread, kept across its chunks so that
    /// buffers and the (date, scope) generators are made once, not per chunk.
    func makeState() -> State {
        var state = State(work: self)
        state.reserveOutput(options.chunkSize + options.chunkSize / 2 + 4096)
        return state
    }

    /// Line numbers in the result (rejects, lines) are relative to the chunk's first line, 0.
    func process(_ chunk: [UInt8], state: inout State) -> ManifestIssuer.ChunkResult {
        state.result = ManifestIssuer.ChunkResult()
        state.outputCount = 0
        chunk.withUnsafeBytes { bytes in
            switch options.format {
            case .csv: state.csv(bytes, firstLine: 0)
            case .jsonLines: state.jsonLines(bytes, firstLine: 0)
            }
        }
        state.result.output = Array(UnsafeRawBufferPointer(start: state.output.baseAddress, count: state.outputCount))
        return state.result
    }

    /// A (date, scope) pair with its generator and the text every row of it repeats.
    final class Slot {
        let generator: CodeGenerator?
        let failure: String?
        /// CSV: `,DATE,SCOPE,`; JSON: `","delivery_date":"DATE","scope":"SCOPE","code_required":`.
        let prefix: UnsafeRawBufferPointer
        let keyID: UnsafeRawBufferPointer
        let validUntil: UnsafeRawBufferPointer
        private let storage: UnsafeMutableRawBufferPointer

        /// The texts live in one block of their own, so that copying them into a row takes no reference counting.
        init(generator: CodeGenerator?, failure: String?, prefix: [UInt8], keyID: [UInt8], validUntil: [UInt8]) {
            self.generator = generator
            self.failure = failure
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(prefix.count + keyID.count + validUntil.count, 1),
                                                               alignment: 8)
            var offset = 0
            func place(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
                bytes.withUnsafeBytes { source in
                    if source.count > 0 { (block.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count) }
                }
                defer { offset += bytes.count }
                return UnsafeRawBufferPointer(start: block.baseAddress! + offset, count: bytes.count)
            }
            self.prefix = place(prefix)
            self.keyID = place(keyID)
            self.validUntil = place(validUntil)
            storage = block
        }

        deinit { storage.deallocate() }
    }

    /// The date and up to 32 scope bytes, compared and hashed as words.
    struct SlotKey: Hashable {
        var days: Int32 = 0
        var length: UInt8 = 0
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        init(days: Int, scope: UnsafeRawBufferPointer) {
            self.days = Int32(truncatingIfNeeded: days)
            length = UInt8(min(scope.count, 33))
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: scope.prefix(32))) }
        }

        static func == (a: SlotKey, b: SlotKey) -> Bool {
            a.days == b.days && a.length == b.length && a.words.0 == b.words.0 && a.words.1 == b.words.1
                && a.words.2 == b.words.2 && a.words.3 == b.words.3
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(days)
            hasher.combine(length)
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }

        /// A cheap multiplicative hash for the open-addressing table (not for untrusted adversarial keys at scale:
        /// the table is per chunk and falls back to a Dictionary past a few hundred slots).
        var quickHash: UInt64 {
            var h = UInt64(UInt32(bitPattern: days)) &* 0x9E37_79B9_7F4A_7C15
            h = (h ^ words.0) &* 0xC2B2_AE3D_27D4_EB4F
            h = (h ^ words.1 ^ UInt64(length)) &* 0x1656_67B1_9E37_79F9
            h = (h ^ words.2 ^ (words.3 &<< 1)) &* 0x9E37_79B9_7F4A_7C15
            return h
        }
    }

    /// The columns a row needs, as pointers into the chunk (or into the
    /// quoted-field buffers), valid while the row is processed.
    enum Field: Int, CaseIterable { case shipment, date, scope, value, currency }

    /// One worker's scratch space and caches. A struct, so that the compiler
    /// checks exclusive access statically and the per-row path has no runtime checks.
    struct State {
        let work: ChunkWork
        var result = ManifestIssuer.ChunkResult()
        var scratch: [UInt8] = []
        /// The chunk's output records, written with a cursor (no per-append checks).
        var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var outputCount = 0

        mutating func reserveOutput(_ capacity: Int) {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
            if outputCount > 0 { grown.baseAddress!.copyMemory(from: output.baseAddress!, byteCount: outputCount) }
            if output.baseAddress != nil { output.deallocate() }
            output = grown
        }

        /// Frees the buffers; the state is not used again.
        func release() {
            output.deallocate()
            quotedCopies.deallocate()
            fields.deallocate()
            present.deallocate()
            columnFields.deallocate()
        }

        @inline(__always) mutating func put(_ bytes: UnsafeRawBufferPointer) {
            if bytes.count > 0 { (output.baseAddress! + outputCount).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            outputCount += bytes.count
        }

        @inline(__always) mutating func put(_ byte: UInt8) {
            output[outputCount] = byte
            outputCount += 1
        }

        @inline(__always) mutating func put(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { put($0) }
        }
        /// 256 bytes per field for the unquoted copies of quoted fields.
        let quotedCopies = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * Field.allCases.count, alignment: 16)
        // Per-row field views and flags, in memory of their own so that writing them needs no uniqueness checks.
        let fields = UnsafeMutableBufferPointer<UnsafeRawBufferPointer>.allocate(capacity: Field.allCases.count)
        let present = UnsafeMutableBufferPointer<Bool>.allocate(capacity: Field.allCases.count)
        /// Column index -> field, -1 for columns the issuer ignores.
        let columnFields: UnsafeMutableBufferPointer<Int>
        let thresholds: [(currency: UInt32, micros: Int64)]

        // Open addressing, 1024 buckets; a Dictionary once more than 512 slots appear.
        var tableKeys = [SlotKey?](repeating: nil, count: 1024)
        var tableSlots = [Slot?](repeating: nil, count: 1024)
        var tableCount = 0
        var overflow: [SlotKey: Slot] = [:]

        static let trueCSV = Array("true,".utf8), falseCSV = Array("false,,".utf8)
        static let trueJSON = Array(#"true,"code":""#.utf8), keyJSON = Array(#"","key_id":""#.utf8)
        static let falseJSON = Array(#"false,"code":"","key_id":"""#.utf8), untilJSON = Array(#","valid_until":""#.utf8)
        static let startJSON = Array(#"{"shipment_id":""#.utf8), endJSON = Array("\"}\n".utf8)

        init(work: ChunkWork) {
            self.work = work
            var map = [Int](repeating: -1, count: work.columns.count)
            let columns = work.columns
            for (field, column) in [(Field.shipment, columns.shipment as Int?), (.date, columns.date), (.scope, columns.scope),
                                    (.value, columns.value), (.currency, columns.currency)] {
                if let column, column < map.count { map[column] = field.rawValue }
            }
            columnFields = .allocate(capacity: max(map.count, 1))
            _ = columnFields.initialize(from: map)
            fields.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0))
            present.initialize(repeating: false)
            thresholds = work.options.policy.thresholds.map { (Self.pack(Array($0.key.utf8)), $0.value.micros) }
        }

        static func pack(_ bytes: some Collection<UInt8>) -> UInt32 {
            bytes.reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func csv(_ bytes: UnsafeRawBufferPointer, firstLine: Int) {
            let expected = work.columns.count
            var index = 0, line = firstLine
            let map = columnFields
            let mapCount = work.columns.count
            while index < bytes.count {
                if work.options.strict && result.firstReject != nil { break }
                // A blank line is not a record.
                if bytes[index] == UInt8(ascii: "\n") { index += 1; line += 1; continue }
                if bytes[index] == UInt8(ascii: "\r"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") {
                    index += 2; line += 1; continue
                }
                for field in 0..<present.count { present[field] = false }
                result.rows += 1
                // Fast path: a record without quotes, split in place. memchr finds the
                // line end and each comma (vectorised in glibc), instead of a byte loop.
                var count = 0, cursor = index, quoted = false
                let base = bytes.baseAddress!
                let lineEnd: Int = memchr(base + index, Int32(UInt8(ascii: "\n")), bytes.count - index)
                    .map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? bytes.count
                var contentEnd = lineEnd
                if contentEnd > index && bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
                while true {
                    if cursor < contentEnd && bytes[cursor] == UInt8(ascii: "\"") { quoted = true; break }
                    let fieldStart = cursor
                    let comma = memchr(base + cursor, Int32(UInt8(ascii: ",")), contentEnd - cursor)
                    let fieldEnd = comma.map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? contentEnd
                    if count < mapCount, map[count] >= 0 {
                        present[map[count]] = true
                        fields[map[count]] = UnsafeRawBufferPointer(start: base + fieldStart, count: fieldEnd - fieldStart)
                    }
                    count += 1
                    if comma != nil { cursor = fieldEnd + 1; continue }
                    cursor = min(lineEnd + 1, bytes.count)
                    break
                }
                var next = cursor, lines = 1
                if quoted {
                    for field in 0..<present.count { present[field] = false }
                    count = 0
                    let chunk = bytes
                    var seen = 0
                    let parsed = CSVScanner.record(bytes, from: index, scratch: &scratch) { column, value in
                        seen += 1
                        _ = chunk
                    }
                    guard let (end, spanned) = parsed else {
                        reject(line: line, "unterminated quoted field")
                        break
                    }
                    count = seen
                    // Quoted fields live in the scratch buffer only during the callback; re-parse to copy them aside.
                    var column = 0
                    _ = CSVScanner.record(bytes, from: index, scratch: &scratch) { _, value in
                        defer { column += 1 }
                        guard column < mapCount, map[column] >= 0 else { return }
                        let field = map[column]
                        present[field] = true
                        let copy = quotedCopies.baseAddress! + 256 * field
                        let length = min(value.count, 256)
                        if length > 0 { copy.copyMemory(from: value.baseAddress!, byteCount: length) }
                        fields[field] = UnsafeRawBufferPointer(start: copy, count: value.count > 256 ? 257 : length)
                    }
                    next = end
                    lines = spanned
                }
                if count != expected {
                    reject(line: line, "expected \(expected) fields, found \(count)")
                } else {
                    issueRow(line: line)
                }
                index = next
                line += lines
            }
            result.lines = line - firstLine
        }

        mutating func jsonLines(_ bytes: UnsafeRawBufferPointer, firstLine: Int) {
            var line = firstLine, start = 0
            defer { result.lines = line - firstLine }
            while start < bytes.count {
                if work.options.strict && result.firstReject != nil { return }
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                defer { start = end + 1; line += 1 }
                let text = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if text.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                result.rows += 1
                let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: text.baseAddress!), count: text.count, deallocator: .none)
                guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                    reject(line: line, "not a JSON object")
                    continue
                }
                var wrongType = false
                for (field, key) in [(Field.shipment, "shipment_id"), (.date, "delivery_date"), (.scope, "scope"),
                                     (.value, "order_value"), (.currency, "currency")] {
                    var text: String?
                    switch object[key] {
                    case nil, is NSNull: text = nil
                    case let string as String: text = string
                    case is Bool: wrongType = true
                    case let number as Int where field == .value: text = String(number)
                    case let number as Double where field == .value: text = "\(number)"
                    case let number as NSNumber where field == .value: text = number.stringValue
                    default: wrongType = true
                    }
                    present[field.rawValue] = text != nil
                    if let text {
                        let copy = quotedCopies.baseAddress! + 256 * field.rawValue
                        let utf8 = Array(text.utf8)
                        utf8.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(copy), byteCount: min($0.count, 256)) }
                        fields[field.rawValue] = UnsafeRawBufferPointer(start: copy, count: utf8.count > 256 ? 257 : utf8.count)
                    }
                }
                if wrongType {
                    reject(line: line, "shipment_id, delivery_date, scope and currency must be strings, order_value a number or string")
                } else if !present[Field.shipment.rawValue] {
                    reject(line: line, "missing shipment_id")
                } else if !present[Field.date.rawValue] {
                    reject(line: line, "missing delivery_date")
                } else {
                    issueRow(line: line)
                }
            }
        }

        mutating func reject(line: Int, _ reason: String) {
            result.rejected += 1
            if result.firstReject == nil { result.firstReject = (line, reason) }
            result.rejectList.append((line, reason))
        }

        private func text(_ field: Field) -> String { String(decoding: fields[field.rawValue].prefix(256), as: UTF8.self) }

        /// Validates the fields of one row and writes its output record.
        mutating func issueRow(line: Int) {
            let id = fields[Field.shipment.rawValue]
            guard ShipmentID.isValid(bytes: id) else {
                var reason = "invalid shipment ID"
                do { _ = try ShipmentID(text(.shipment)) } catch { reason = error.description }
                reject(line: line, reason)
                return
            }
            let parsedDate = Result { () throws(InputError) in try DeliveryDate(asciiBytes: fields[Field.date.rawValue]) }
            guard case .success(let deliveryDate) = parsedDate else {
                if case .failure(let error) = parsedDate { reject(line: line, error.description) }
                return
            }
            let scope = present[Field.scope.rawValue] ? fields[Field.scope.rawValue] : UnsafeRawBufferPointer(start: nil, count: 0)
            guard let slot = slot(for: SlotKey(days: deliveryDate.daysSinceEpoch, scope: scope), date: deliveryDate, scope: scope) else {
                reject(line: line, "invalid scope: \(Printable.quoted(text(.scope)))")
                return
            }
            if let failure = slot.failure {
                reject(line: line, failure)
                return
            }
            // The value policy; an empty field is a missing value.
            var micros: Int64?
            if present[Field.value.rawValue] && fields[Field.value.rawValue].count > 0 {
                guard let amount = ValuePolicy.Amount(bytes: fields[Field.value.rawValue]) else {
                    reject(line: line, "malformed order_value \(Printable.quoted(text(.value))): expected a decimal such as 149.90")
                    return
                }
                micros = amount.micros
            }
            var currency: UInt32?
            if present[Field.currency.rawValue] && fields[Field.currency.rawValue].count > 0 {
                guard ValuePolicy.isCurrencyCode(fields[Field.currency.rawValue]) else {
                    reject(line: line, "malformed currency \(Printable.quoted(text(.currency))): expected an ISO 4217 code such as EUR")
                    return
                }
                currency = Self.pack(fields[Field.currency.rawValue])
            }
            var required = true
            if !work.options.policy.requireAll, let micros, let currency,
               let threshold = thresholds.first(where: { $0.currency == currency }) {
                required = micros >= threshold.micros
            }
            if required { result.issued += 1 } else { result.notRequired += 1 }
            var digits: UInt64 = 0
            if required {
                var rest = slot.generator!.code(forValidatedBytes: id).value
                withUnsafeMutableBytes(of: &digits) { out in
                    for position in stride(from: 5, through: 0, by: -1) {
                        out[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                        rest /= 10
                    }
                }
            }
            write(id: id, slot: slot, required: required, digits: digits)
        }

        /// Appends one output record.
        mutating func write(id: UnsafeRawBufferPointer, slot: Slot, required: Bool, digits: UInt64) {
            // A record is at most 2 x 64 (an escaped ID) plus the slot's texts plus 64 bytes of punctuation.
            let worst = 2 * id.count + slot.prefix.count + slot.keyID.count + slot.validUntil.count + 96
            if outputCount + worst > output.count { reserveOutput(max(output.count * 2, outputCount + worst)) }
            var digits = digits
            let code = withUnsafeBytes(of: &digits) { UnsafeRawBufferPointer(rebasing: $0.prefix(6)) }
            switch work.options.format {
            case .csv:
                if memchr(id.baseAddress!, Int32(UInt8(ascii: ",")), id.count) != nil
                    || memchr(id.baseAddress!, Int32(UInt8(ascii: "\"")), id.count) != nil {
                    put(UInt8(ascii: "\""))
                    for byte in id {
                        if byte == UInt8(ascii: "\"") { put(byte) }
                        put(byte)
                    }
                    put(UInt8(ascii: "\""))
                } else {
                    put(id)
                }
                put(slot.prefix)
                if required {
                    put(Self.trueCSV)
                    put(code)
                    put(UInt8(ascii: ","))
                    put(slot.keyID)
                } else {
                    put(Self.falseCSV)
                }
                put(UInt8(ascii: ","))
                put(slot.validUntil)
                put(UInt8(ascii: "\n"))
            case .jsonLines:
                put(Self.startJSON)
                for byte in id {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { put(UInt8(ascii: "\\")) }
                    put(byte)
                }
                put(slot.prefix)
                if required {
                    put(Self.trueJSON)
                    put(code)
                    put(Self.keyJSON)
                    put(slot.keyID)
                    put(UInt8(ascii: "\""))
                } else {
                    put(Self.falseJSON)
                }
                put(Self.untilJSON)
                put(slot.validUntil)
                put(Self.endJSON)
            }
        }

        /// The cached slot for `key`, made on first use; nil for an invalid scope.
        mutating func slot(for key: SlotKey, date: DeliveryDate, scope: UnsafeRawBufferPointer) -> Slot? {
            if tableCount > 512 {
                if let slot = overflow[key] { return slot }
                guard let slot = makeSlot(date, scope: scope) else { return nil }
                overflow[key] = slot
                return slot
            }
            var bucket = Int(truncatingIfNeeded: key.quickHash >> 54)
            while let existing = tableKeys[bucket] {
                if existing == key { return tableSlots[bucket] }
                bucket = (bucket + 1) & 1023
            }
            guard let slot = makeSlot(date, scope: scope) else { return nil }
            tableKeys[bucket] = key
            tableSlots[bucket] = slot
            tableCount += 1
            return slot
        }

        func makeSlot(_ deliveryDate: DeliveryDate, scope bytes: UnsafeRawBufferPointer) -> Slot? {
            guard bytes.count <= Scope.maximumLength,
                  let scopeValue = try? Scope(String(decoding: bytes, as: UTF8.self)) else { return nil }
            let validUntil = Array(work.options.timeZone.endOfDay(deliveryDate).utf8)
            let prefix: [UInt8]
            switch work.options.format {
            case .csv: prefix = Array(",\(deliveryDate),\(scopeValue.rawValue),".utf8)
            case .jsonLines:
                prefix = Array(#"","delivery_date":"\#(deliveryDate)","scope":"\#(scopeValue.rawValue)","code_required":"#.utf8)
            }
            do {
                let (dayKey, keyID) = try work.keyring.dayKey(scope: scopeValue, date: deliveryDate)
                return Slot(generator: CodeGenerator(dayKey: dayKey), failure: nil, prefix: prefix,
                            keyID: Array(keyID.rawValue.utf8), validUntil: validUntil)
            } catch {
                return Slot(generator: nil, failure: error.description, prefix: prefix, keyID: [], validUntil: validUntil)
            }
        }
    }
}
