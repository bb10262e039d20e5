import Foundation

/// Parses and issues manifest chunks, one at a time on each worker thread.
struct ChunkWork: Sendable {
    let keyring: Keyring
    let options: ManifestIssuer.Options
    let columns: ManifestIssuer.Columns

    /// Scratch space for one worker thread, kept across its chunks so that
    /// buffers and the (date, scope) generators are made once, not per chunk.
    func makeState() -> State { State(work: self) }

    /// Issues the job's input into its output. Line numbers in the result
    /// (rejects, lines) are relative to the chunk's first line, 0.
    func process(_ job: ChunkPipeline.Job, state: inout State) {
        state.result = ManifestIssuer.ChunkResult()
        swap(&state.output, &job.output)
        state.output.count = 0
        let input = job.input.bytes
        switch options.format {
        case .csv: state.csv(input)
        case .jsonLines: state.jsonLines(input)
        }
        swap(&state.output, &job.output)
        job.result = state.result
    }

    /// A (date, scope) pair with its generator and the text every row of it repeats.
    final class Slot {
        let generator: CodeGenerator?
        let failure: String?
        /// The record before the ID (JSON: `{"shipment_id":"`; CSV: nothing).
        let recordStart: UnsafeRawBufferPointer
        /// The record after the ID up to the code, when a code is required
        /// (CSV: `,DATE,SCOPE,true,`), and after the code (`,KEY,UNTIL` and the line end).
        let requiredHead: UnsafeRawBufferPointer
        let requiredTail: UnsafeRawBufferPointer
        /// The record after the ID when no code is required (CSV: `,DATE,SCOPE,false,,,UNTIL`).
        let notRequired: UnsafeRawBufferPointer
        private let storage: UnsafeMutableRawBufferPointer

        /// The texts live in one block of their own, each followed by 16 spare
        /// bytes for ``ByteWords/copy(_:_:count:)``, so a row copies them with
        /// no reference counting and no libc call.
        init(
            generator: CodeGenerator?, failure: String?, recordStart: [UInt8], requiredHead: [UInt8], requiredTail: [UInt8],
            notRequired: [UInt8]
        ) {
            self.generator = generator
            self.failure = failure
            let texts = [recordStart, requiredHead, requiredTail, notRequired]
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: texts.reduce(0) { $0 + $1.count + 16 }, alignment: 16)
            block.initializeMemory(as: UInt8.self, repeating: 0)
            var offset = 0
            let placed = texts.map { text in
                defer { offset += text.count + 16 }
                UnsafeMutableRawBufferPointer(rebasing: block[offset..<offset + text.count]).copyBytes(from: text)
                return UnsafeRawBufferPointer(start: block.baseAddress! + offset, count: text.count)
            }
            (self.recordStart, self.requiredHead, self.requiredTail, self.notRequired) = (placed[0], placed[1], placed[2], placed[3])
            storage = block
        }

        deinit { storage.deallocate() }
    }

    /// The date field's 10 bytes and the scope's up to 32, as they appear in the
    /// input: a row finds its slot without parsing the date. Only a date that
    /// parses and a scope that validates ever enter the table.
    struct SlotKey: Hashable {
        var date: UInt64 = 0
        var dateTail: UInt16 = 0
        var length: UInt8 = 0
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        /// Nil unless the date field is 10 bytes and the scope at most 32.
        @inline(__always)
        init?(date: UnsafeRawBufferPointer, scope: UnsafeRawBufferPointer) {
            guard date.count == 10, scope.count <= Scope.maximumLength else { return nil }
            self.date = ByteWords.load(date.baseAddress!)
            dateTail = date.baseAddress!.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
            length = UInt8(scope.count)
            if let pointer = scope.baseAddress {
                words = (
                    ByteWords.load(pointer, count: scope.count), ByteWords.load(pointer + 8, count: scope.count - 8),
                    ByteWords.load(pointer + 16, count: scope.count - 16), ByteWords.load(pointer + 24, count: scope.count - 24)
                )
            }
        }

        @inline(__always)
        static func == (a: SlotKey, b: SlotKey) -> Bool {
            (a.date ^ b.date) | UInt64(a.dateTail ^ b.dateTail) | UInt64(a.length ^ b.length) | (a.words.0 ^ b.words.0)
                | (a.words.1 ^ b.words.1) | (a.words.2 ^ b.words.2) | (a.words.3 ^ b.words.3) == 0
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(date)
            hasher.combine(dateTail)
            hasher.combine(length)
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }

        /// A cheap multiplicative hash for the open-addressing table. The table
        /// holds only valid (date, scope) pairs, a few thousand at most per day.
        @inline(__always)
        var quickHash: UInt64 {
            var h = (date ^ UInt64(dateTail) &<< 48 ^ UInt64(length)) &* 0x9E37_79B9_7F4A_7C15
            h = (h ^ words.0 ^ h &>> 29) &* 0xC2B2_AE3D_27D4_EB4F
            h = (h ^ words.1 ^ h &>> 29) &* 0x1656_67B1_9E37_79F9
            h = (h ^ words.2 ^ (words.3 &<< 1) ^ h &>> 29) &* 0x9E37_79B9_7F4A_7C15
            return h
        }
    }

    /// The columns a row needs, as pointers into the chunk (or into the
    /// quoted-field buffers), valid while the row is processed.
    enum Field: Int, CaseIterable {
        case shipment, date, scope, value, currency

        /// The CSV column and JSON member it is read from.
        var name: String {
            switch self {
            case .shipment: "shipment_id"
            case .date: "delivery_date"
            case .scope: "scope"
            case .value: "order_value"
            case .currency: "currency"
            }
        }
    }

    /// One worker's scratch space and caches. A struct, so that the compiler
    /// checks exclusive access statically and the per-row path has no runtime checks.
    struct State {
        let work: ChunkWork
        var result = ManifestIssuer.ChunkResult()
        var scratch: [UInt8] = []
        /// The output records of the chunk in hand (swapped in from its job), written with a cursor.
        var output = ByteBuffer(capacity: 64)
        /// 256 bytes per field for the unquoted copies of quoted fields (and JSON
        /// values), plus slack for word loads.
        let quotedCopies = UnsafeMutableRawBufferPointer.allocate(
            byteCount: 256 * Field.allCases.count + ByteBuffer.slack,
            alignment: 16)
        // Per-row field views and flags, in memory of their own so that writing them needs no uniqueness checks.
        let fields = UnsafeMutableBufferPointer<UnsafeRawBufferPointer>.allocate(capacity: Field.allCases.count)
        let present = UnsafeMutableBufferPointer<Bool>.allocate(capacity: Field.allCases.count)
        /// Column index -> field, -1 for columns the issuer ignores.
        let columnFields: UnsafeMutableBufferPointer<Int>
        let thresholds: [(currency: UInt32, micros: Int64)]

        /// The slots by (date, scope): open addressing over `tableSize` entries
        /// while at most half are used, then a Dictionary (seeded hashing) for
        /// the rare manifest with more pairs. The table holds unretained
        /// references, so a lookup costs no reference counting; `slots` owns them.
        struct TableEntry {
            var key: SlotKey?
            var slot: Unmanaged<Slot>?
        }
        static let tableSize = 1024
        let table = UnsafeMutableBufferPointer<TableEntry>.allocate(capacity: State.tableSize)
        var tableCount = 0
        var overflow: [SlotKey: Slot] = [:]
        var slots: [Slot] = []

        init(work: ChunkWork) {
            self.work = work
            var map = [Int](repeating: -1, count: work.columns.count)
            let columns = work.columns
            for (field, column) in [
                (Field.shipment, columns.shipment as Int?), (.date, columns.date), (.scope, columns.scope),
                (.value, columns.value), (.currency, columns.currency),
            ] {
                if let column, column < map.count { map[column] = field.rawValue }
            }
            columnFields = .allocate(capacity: max(map.count, 1))
            _ = columnFields.initialize(from: map)
            fields.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0))
            present.initialize(repeating: false)
            quotedCopies.initializeMemory(as: UInt8.self, repeating: 0)
            table.initialize(repeating: TableEntry())
            thresholds = work.options.policy.thresholds.map { (Self.currencyNumber(Array($0.key.utf8)), $0.value.micros) }
        }

        /// Frees the buffers; the state is not used again.
        func release() {
            output.deallocate()
            quotedCopies.deallocate()
            fields.deallocate()
            present.deallocate()
            columnFields.deallocate()
            table.deallocate()
        }

        /// A currency code as a number: its three bytes, big-endian.
        @inline(__always)
        static func currencyNumber(_ bytes: some Collection<UInt8>) -> UInt32 {
            bytes.reduce(0) { $0 << 8 | UInt32($1) }
        }

        @inline(__always) private func byte(_ base: UnsafeRawPointer, _ index: Int) -> UInt8 {
            base.load(fromByteOffset: index, as: UInt8.self)
        }

        /// Issues the CSV records of a chunk, which ends with a line end.
        mutating func csv(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            // The scan below stops at line ends only: the chunk must end with one.
            precondition(byte(base, bytes.count - 1) == UInt8(ascii: "\n"), "a manifest chunk must end with a line end")
            let expected = work.columns.count
            let map = columnFields, mapCount = work.columns.count
            var index = 0, line = 0
            while index < bytes.count {
                if work.options.strict && result.firstReject != nil { break }
                // A blank line is not a record.
                let first = byte(base, index)
                if first == UInt8(ascii: "\n") { index += 1; line += 1; continue }
                if first == UInt8(ascii: "\r"), index + 1 < bytes.count, byte(base, index + 1) == UInt8(ascii: "\n") {
                    index += 2; line += 1; continue
                }
                for field in 0..<present.count { present[field] = false }
                result.rows += 1
                // Fast path: a record without quotes, split in place eight bytes at
                // a time. Each word gives a bit per comma, line end and quote.
                var column = 0, fieldStart = index, position = index, quoted = false, lineEnd = index
                scan: while true {
                    let word = ByteWords.load(base + position)
                    var marks =
                        ByteWords.bytes(word, equalTo: UInt8(ascii: ",")) | ByteWords.bytes(word, equalTo: UInt8(ascii: "\n"))
                        | ByteWords.bytes(word, equalTo: UInt8(ascii: "\""))
                    while marks != 0 {
                        let at = position + marks.trailingZeroBitCount >> 3
                        let mark = byte(base, at)
                        if mark == UInt8(ascii: "\"") { quoted = true; break scan }
                        if column < mapCount, map[column] >= 0 {
                            present[map[column]] = true
                            fields[map[column]] = UnsafeRawBufferPointer(start: base + fieldStart, count: at - fieldStart)
                        }
                        column += 1
                        if mark == UInt8(ascii: "\n") { lineEnd = at; break scan }
                        fieldStart = at + 1
                        marks &= marks &- 1
                    }
                    position += 8
                }
                var next = lineEnd + 1, lines = 1
                if !quoted {
                    // A CR before the line end ends the line, not the last field.
                    if lineEnd > fieldStart && byte(base, lineEnd - 1) == UInt8(ascii: "\r"),
                        column - 1 < mapCount, map[column - 1] >= 0
                    {
                        let last = fields[map[column - 1]]
                        fields[map[column - 1]] = UnsafeRawBufferPointer(start: last.baseAddress, count: last.count - 1)
                    }
                } else {
                    // Quoted fields live in the scratch buffer only during the callback: copy them aside.
                    for field in 0..<present.count { present[field] = false }
                    column = 0
                    let parsed = CSVScanner.record(bytes, from: index, scratch: &scratch) { _, value in
                        defer { column += 1 }
                        guard column < mapCount, map[column] >= 0 else { return }
                        let field = map[column]
                        present[field] = true
                        let copy = quotedCopies.baseAddress! + 256 * field
                        let length = min(value.count, 256)
                        if length > 0 { copy.copyMemory(from: value.baseAddress!, byteCount: length) }
                        fields[field] = UnsafeRawBufferPointer(start: copy, count: value.count > 256 ? 257 : length)
                    }
                    guard let parsed else {
                        // Only the input's last record can be open at the end of a chunk.
                        reject(line: line, "unterminated quoted field")
                        break
                    }
                    next = parsed.next
                    lines = parsed.lines
                    if let problem = parsed.problem {
                        reject(line: line, "malformed CSV: \(problem)")
                        index = next
                        line += lines
                        continue
                    }
                }
                if column != expected {
                    reject(line: line, "expected \(expected) fields, found \(column)")
                } else {
                    issueRow(line: line)
                }
                index = next
                line += lines
            }
            result.lines = line
        }

        /// Issues the JSON-lines records of a chunk.
        mutating func jsonLines(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress else { return }
            var line = 0, start = 0
            defer { result.lines = line }
            while start < bytes.count {
                if work.options.strict && result.firstReject != nil { return }
                let end =
                    memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
                    .map { UnsafeRawPointer($0) - base } ?? bytes.count
                defer { start = end + 1; line += 1 }
                let text = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if text.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                result.rows += 1
                for field in 0..<present.count { present[field] = false }
                var wrongType = false
                let (fields, present) = (fields, present)
                do throws(JSONRecord.Failure) {
                    try JSONRecord.parse(text, scratch: quotedCopies.baseAddress!) { field, value in
                        switch value {
                        case .text(let bytes):
                            present[field] = true
                            fields[field] = bytes
                        case .null: break
                        case .wrongType: wrongType = true
                        }
                    }
                } catch {
                    switch error {
                    case .notAnObject: reject(line: line, "not a JSON object")
                    case .duplicate(let name): reject(line: line, "\(name) appears twice")
                    }
                    continue
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
            guard id.count >= 1, id.count <= ShipmentID.maximumLength, ByteWords.isPrintable(id.baseAddress!, count: id.count) else {
                var reason = "invalid shipment ID"
                do { _ = try ShipmentID(text(.shipment)) } catch { reason = error.description }
                reject(line: line, reason)
                return
            }
            let date = fields[Field.date.rawValue]
            let scope = present[Field.scope.rawValue] ? fields[Field.scope.rawValue] : UnsafeRawBufferPointer(start: nil, count: 0)
            let key = SlotKey(date: date, scope: scope)
            guard let slotReference = key.flatMap({ slot(for: $0) }) ?? newSlot(key: key, date: date, scope: scope, line: line)
            else { return }
            // A date no key covers: the slot holds the reason.
            if let failure = slotReference._withUnsafeGuaranteedRef({ $0.generator == nil ? $0.failure : nil }) {
                reject(line: line, failure)
                return
            }
            // The value policy; an empty field is a missing value.
            var micros: Int64?
            let value = fields[Field.value.rawValue]
            if present[Field.value.rawValue] && value.count > 0 {
                guard let amount = ValuePolicy.Amount(bytes: value) else {
                    reject(
                        line: line,
                        ValuePolicy.Amount.isWellFormed(value)
                            ? "order_value \(Printable.quoted(text(.value))) is out of range (at most \(ValuePolicy.Amount.maximum) with 6 decimals)"
                            : "malformed order_value \(Printable.quoted(text(.value))): expected a decimal such as 149.90")
                    return
                }
                micros = amount.micros
            }
            var currency: UInt32?
            let currencyField = fields[Field.currency.rawValue]
            if present[Field.currency.rawValue] && currencyField.count > 0 {
                guard ValuePolicy.isCurrencyCode(currencyField) else {
                    reject(line: line, "malformed currency \(Printable.quoted(text(.currency))): expected an ISO 4217 code such as EUR")
                    return
                }
                currency = Self.currencyNumber(currencyField)
            }
            var required = true
            if !work.options.policy.requireAll, let micros, let currency,
                let threshold = thresholds.first(where: { $0.currency == currency })
            {
                required = micros >= threshold.micros
            }
            if required { result.issued += 1 } else { result.notRequired += 1 }
            slotReference._withUnsafeGuaranteedRef { slot in
                write(id: id, slot: slot, code: required ? slot.generator!.code(forValidatedBytes: id) : nil)
            }
        }

        /// The slot of a (date, scope) pair not in the table: parsed, derived
        /// and added to it; nil, with the row rejected, when the date or scope is bad.
        mutating func newSlot(
            key: SlotKey?, date: UnsafeRawBufferPointer, scope: UnsafeRawBufferPointer,
            line: Int
        ) -> Unmanaged<Slot>? {
            let parsedDate = Result { () throws(InputError) in try DeliveryDate(asciiBytes: date) }
            guard case .success(let deliveryDate) = parsedDate else {
                if case .failure(let error) = parsedDate { reject(line: line, error.description) }
                return nil
            }
            guard let key, let slot = makeSlot(deliveryDate, scope: scope) else {
                reject(line: line, "invalid scope: \(Printable.quoted(text(.scope)))")
                return nil
            }
            slots.append(slot)
            if tableCount < Self.tableSize / 2 {
                var bucket = Int(truncatingIfNeeded: key.quickHash >> 54)
                while table[bucket].key != nil { bucket = (bucket + 1) & (Self.tableSize - 1) }
                table[bucket] = TableEntry(key: key, slot: Unmanaged.passUnretained(slot))
                tableCount += 1
            } else {
                overflow[key] = slot
            }
            return Unmanaged.passUnretained(slot)
        }

        /// The slot for `key` if it has been made.
        @inline(__always)
        func slot(for key: SlotKey) -> Unmanaged<Slot>? {
            var bucket = Int(truncatingIfNeeded: key.quickHash >> 54)
            while let existing = table[bucket].key {
                if existing == key { return table[bucket].slot }
                bucket = (bucket + 1) & (Self.tableSize - 1)
            }
            return overflow.isEmpty ? nil : overflow[key].map { Unmanaged.passUnretained($0) }
        }

        /// Appends one output record: the ID (escaped if need be), then the slot's
        /// texts around the code, copied 16 bytes at a time.
        @inline(__always)
        mutating func write(id: UnsafeRawBufferPointer, slot: Slot, code: DeliveryCode?) {
            // At most 2 x 64 bytes for an escaped ID, the slot's texts, and 16 for each copy's overrun.
            output.reserve(
                output.count + 2 * id.count + slot.recordStart.count + slot.requiredHead.count
                    + slot.requiredTail.count + slot.notRequired.count + 6 + 5 * 16)
            copy(slot.recordStart)
            let source = id.baseAddress!
            var special: UInt64 = 0
            for offset in stride(from: 0, to: id.count, by: 8) {
                let word = ByteWords.load(source + offset, count: id.count - offset)
                special |= ByteWords.bytes(word, equalTo: UInt8(ascii: "\""))
                special |=
                    work.options.format == .csv
                    ? ByteWords.bytes(word, equalTo: UInt8(ascii: ","))
                    : ByteWords.bytes(word, equalTo: UInt8(ascii: "\\"))
            }
            if special == 0 {
                copy(id)
            } else {
                writeEscaped(id)
            }
            guard let code else {
                copy(slot.notRequired)
                return
            }
            copy(slot.requiredHead)
            var rest = code.value, digits: UInt64 = 0
            for _ in 0..<DeliveryCode.digits {
                digits = digits << 8 | UInt64(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10))
                rest /= 10
            }
            output.base.storeBytes(of: digits.littleEndian, toByteOffset: output.count, as: UInt64.self)
            output.count += DeliveryCode.digits
            copy(slot.requiredTail)
        }

        @inline(__always)
        private mutating func copy(_ text: UnsafeRawBufferPointer) {
            ByteWords.copy(output.base + output.count, text.baseAddress!, count: text.count)
            output.count += text.count
        }

        /// An ID with a quote or comma (CSV: quoted, quotes doubled) or a quote or backslash (JSON: backslash-escaped).
        private mutating func writeEscaped(_ id: UnsafeRawBufferPointer) {
            func put(_ byte: UInt8) {
                output.base.storeBytes(of: byte, toByteOffset: output.count, as: UInt8.self)
                output.count += 1
            }
            switch work.options.format {
            case .csv:
                put(UInt8(ascii: "\""))
                for byte in id {
                    if byte == UInt8(ascii: "\"") { put(byte) }
                    put(byte)
                }
                put(UInt8(ascii: "\""))
            case .jsonLines:
                for byte in id {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { put(UInt8(ascii: "\\")) }
                    put(byte)
                }
            }
        }

        func makeSlot(_ deliveryDate: DeliveryDate, scope bytes: UnsafeRawBufferPointer) -> Slot? {
            guard bytes.count <= Scope.maximumLength,
                let scopeValue = try? Scope(String(decoding: bytes, as: UTF8.self))
            else { return nil }
            let validUntil = work.options.timeZone.format(work.options.timeZone.endOfDay(deliveryDate))
            let date = deliveryDate.description, scope = scopeValue.rawValue
            func slot(generator: CodeGenerator?, failure: String?, keyID: String) -> Slot {
                switch work.options.format {
                case .csv:
                    Slot(
                        generator: generator, failure: failure, recordStart: [],
                        requiredHead: Array(",\(date),\(scope),true,".utf8),
                        requiredTail: Array(",\(keyID),\(validUntil)\n".utf8),
                        notRequired: Array(",\(date),\(scope),false,,,\(validUntil)\n".utf8))
                case .jsonLines:
                    Slot(
                        generator: generator, failure: failure, recordStart: Array(#"{"shipment_id":""#.utf8),
                        requiredHead: Array(#"","delivery_date":"\#(date)","scope":"\#(scope)","code_required":true,"code":""#.utf8),
                        requiredTail: Array((#"","key_id":"\#(keyID)","valid_until":"\#(validUntil)"}"# + "\n").utf8),
                        notRequired: Array(
                            (#"","delivery_date":"\#(date)","scope":"\#(scope)","code_required":false,"code":"","key_id":"","valid_until":"\#(validUntil)"}"#
                                + "\n").utf8))
                }
            }
            do {
                let (dayKey, keyID) = try work.keyring.dayKey(scope: scopeValue, date: deliveryDate)
                return slot(generator: CodeGenerator(dayKey: dayKey), failure: nil, keyID: keyID.rawValue)
            } catch {
                return slot(generator: nil, failure: error.description, keyID: "")
            }
        }
    }
}
