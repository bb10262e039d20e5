import Dispatch

/// One row to issue: a shipment delivered from `scope` on `date`.
public struct IssueRequest: Sendable, Hashable {
    public let shipment: ShipmentID
    public let date: DeliveryDate
    public let scope: Scope

    public init(shipment: ShipmentID, date: DeliveryDate, scope: Scope) {
        self.shipment = shipment
        self.date = date
        self.scope = scope
    }
}

/// Issues codes for many rows across dates and scopes. The day key and HMAC
/// midstates are made once per (scope, date), never per row.
public struct CodeIssuer: Sendable {
    public struct Slot: Hashable, Sendable {
        public let scope: Scope
        public let date: DeliveryDate
    }

    public let keyring: Keyring
    private var generators: [Slot: (generator: CodeGenerator, keyID: KeyID)] = [:]

    public init(keyring: Keyring) {
        self.keyring = keyring
    }

    /// The generator for `scope` and `date`, derived on first use.
    public mutating func generator(scope: Scope, date: DeliveryDate) throws(KeyringError) -> (generator: CodeGenerator, keyID: KeyID) {
        let slot = Slot(scope: scope, date: date)
        if let cached = generators[slot] { return cached }
        let (dayKey, keyID) = try keyring.dayKey(scope: scope, date: date)
        let entry = (CodeGenerator(dayKey: dayKey), keyID)
        generators[slot] = entry
        return entry
    }

    /// The codes for `requests`, in order, computed on `threads` threads.
    ///
    /// The rows are split into one contiguous chunk per thread; each thread
    /// writes its own part of the result and derives the generators its chunk
    /// needs (taking those already cached here), so no pass over the rows is
    /// serial. A row whose date no key covers fails the whole batch with the
    /// error of the first such row.
    public mutating func codes(for requests: [IssueRequest], threads: Int) throws(KeyringError) -> [DeliveryCode] {
        let workers = max(1, min(threads, requests.count))
        let known = generators
        let keyring = self.keyring
        var outcomes = [WorkerOutcome](repeating: WorkerOutcome(), count: workers)
        let codes = [DeliveryCode](unsafeUninitializedCapacity: requests.count) { output, initialized in
            // Each worker writes a disjoint range of the output and its own outcome slot.
            nonisolated(unsafe) let base = output.baseAddress!
            outcomes.withUnsafeMutableBufferPointer { outcomeBuffer in
                nonisolated(unsafe) let outcomeSlots = outcomeBuffer
                requests.withUnsafeBufferPointer { buffer in
                    nonisolated(unsafe) let rows = buffer
                    let chunk = (rows.count + workers - 1) / workers
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        let start = worker * chunk
                        let end = min(start + chunk, rows.count)
                        outcomeSlots[worker] = Self.issue(rows: rows, start..<end, into: base, known: known, keyring: keyring)
                    }
                }
            }
            initialized = requests.count
        }
        for outcome in outcomes {
            if let (_, error) = outcome.failure { throw error }
            generators.merge(outcome.derived) { cached, _ in cached }
        }
        return codes
    }

    /// What one worker derived, and the first row it could not issue.
    private struct WorkerOutcome {
        var derived: [Slot: (generator: CodeGenerator, keyID: KeyID)] = [:]
        var failure: (row: Int, error: KeyringError)?
    }

    /// Issues `range` of `rows` into `output`, two neighbours at a time when they share a slot.
    private static func issue(
        rows: UnsafeBufferPointer<IssueRequest>, _ range: Range<Int>, into output: UnsafeMutablePointer<DeliveryCode>,
        known: [Slot: (generator: CodeGenerator, keyID: KeyID)], keyring: Keyring
    ) -> WorkerOutcome {
        var outcome = WorkerOutcome()
        guard !range.isEmpty else { return outcome }
        var slot = Slot(scope: rows[range.lowerBound].scope, date: rows[range.lowerBound].date)
        var generator: CodeGenerator?
        var index = range.lowerBound
        func lookUp(_ slot: Slot) -> CodeGenerator? {
            if let entry = known[slot] ?? outcome.derived[slot] { return entry.generator }
            do throws(KeyringError) {
                let (dayKey, keyID) = try keyring.dayKey(scope: slot.scope, date: slot.date)
                let entry = (CodeGenerator(dayKey: dayKey), keyID)
                outcome.derived[slot] = entry
                return entry.0
            } catch {
                if outcome.failure == nil { outcome.failure = (index, error) }
                return nil
            }
        }
        generator = lookUp(slot)
        while index < range.upperBound {
            let row = rows.baseAddress! + index
            if row.pointee.date != slot.date || row.pointee.scope != slot.scope {
                slot = Slot(scope: row.pointee.scope, date: row.pointee.date)
                generator = lookUp(slot)
            }
            guard let generator else {
                // Rows of an uncovered slot get a placeholder; the batch fails anyway.
                (output + index).initialize(to: DeliveryCode(unchecked: 0))
                index += 1
                continue
            }
            if index + 1 < range.upperBound, row[1].scope == slot.scope, row[1].date == slot.date {
                let (a, b) = generator.codes(for: row.pointee.shipment, row[1].shipment)
                (output + index).initialize(to: a)
                (output + index + 1).initialize(to: b)
                index += 2
            } else {
                (output + index).initialize(to: generator.code(for: row.pointee.shipment))
                index += 1
            }
        }
        return outcome
    }
}
