import Dispatch

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One row to issue: a shipment delivered from `scope` on `date`.
public struct IssueRequest: Sendable, Hashable {
    /// The shipment.
    public let shipment: ShipmentID
    /// Its delivery date.
    public let date: DeliveryDate
    /// The scope it is delivered from.
    public let scope: Scope

    /// A row to issue.
    public init(shipment: ShipmentID, date: DeliveryDate, scope: Scope) {
        self.shipment = shipment
        self.date = date
        self.scope = scope
    }
}

/// Issues codes for many rows across dates and scopes, from a keyring.
///
/// An issuer is immutable and can be shared between tasks. It holds a table of
/// code generators, one per (scope, date) slot, derived once when the issuer is
/// made; a slot outside the table is derived when it is needed (and not kept),
/// so prepare the slots you will use, as a batch does for its own rows.
public struct CodeIssuer: Sendable {
    /// A scope and a delivery date: what one day key covers.
    public struct Slot: Hashable, Sendable {
        /// The scope.
        public let scope: Scope
        /// The delivery date.
        public let date: DeliveryDate

        /// The slot of `scope` on `date`.
        public init(scope: Scope, date: DeliveryDate) {
            self.scope = scope
            self.date = date
        }
    }

    /// A slot's generator and the id of the master key its day key came from.
    public typealias Entry = (generator: CodeGenerator, keyID: KeyID)

    /// The keys codes come from.
    public let keyring: Keyring
    private let table: [Slot: Entry]

    /// An issuer whose table holds the generators for `slots` (none by default).
    /// Fails when no key covers one of the slots' dates.
    public init(keyring: Keyring, preparing slots: some Sequence<Slot> = [Slot]()) throws(KeyringError) {
        var table: [Slot: Entry] = [:]
        for slot in slots where table[slot] == nil {
            let (dayKey, keyID) = try keyring.dayKey(scope: slot.scope, date: slot.date)
            table[slot] = (CodeGenerator(dayKey: dayKey), keyID)
        }
        self.keyring = keyring
        self.table = table
    }

    /// The generator for `scope` and `date`: from the table, else derived now.
    public func generator(scope: Scope, date: DeliveryDate) throws(KeyringError) -> Entry {
        if let entry = table[Slot(scope: scope, date: date)] { return entry }
        let (dayKey, keyID) = try keyring.dayKey(scope: scope, date: date)
        return (CodeGenerator(dayKey: dayKey), keyID)
    }

    /// The codes for `requests`, in order, computed on `threads` threads; blocks the calling thread.
    ///
    /// The rows are split into one contiguous chunk per thread; each thread writes
    /// its own part of the result and derives the generators its chunk needs that
    /// the table lacks, so no pass over the rows is serial. A row whose date no key
    /// covers fails the whole batch with the error of the first such row.
    public func codes(for requests: [IssueRequest], threads: Int) throws(KeyringError) -> [DeliveryCode] {
        let workers = max(1, min(threads, requests.count))
        let table = self.table, keyring = self.keyring
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
                        let start = min(worker * chunk, rows.count)
                        let end = min(start + chunk, rows.count)
                        outcomeSlots[worker] = Self.issue(rows: rows, start..<end, into: base + start, table: table, keyring: keyring)
                    }
                }
            }
            initialized = requests.count
        }
        if let failure = outcomes.lazy.compactMap(\.failure).first { throw failure.error }
        return codes
    }

    /// The codes for `requests`, in order, from a task group: one child task per chunk of
    /// at least 16,384 rows, up to the number of cores. For a batch issued from async code,
    /// where blocking the calling thread is not an option. Fails like ``codes(for:threads:)``.
    public func codes(for requests: [IssueRequest]) async throws(KeyringError) -> [DeliveryCode] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let tasks = max(1, min(cores, requests.count / 16_384))
        let chunk = (requests.count + tasks - 1) / tasks
        let table = self.table, keyring = self.keyring
        let parts = await withTaskGroup(of: (Int, [DeliveryCode], WorkerOutcome).self) { group in
            for task in 0..<tasks {
                let range = min(task * chunk, requests.count)..<min((task + 1) * chunk, requests.count)
                group.addTask {
                    var outcome = WorkerOutcome()
                    let codes = [DeliveryCode](unsafeUninitializedCapacity: range.count) { output, initialized in
                        requests.withUnsafeBufferPointer { rows in
                            if let base = output.baseAddress {
                                outcome = Self.issue(rows: rows, range, into: base, table: table, keyring: keyring)
                            }
                        }
                        initialized = range.count
                    }
                    return (task, codes, outcome)
                }
            }
            var parts = [(Int, [DeliveryCode], WorkerOutcome)]()
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }
        }
        if let failure = parts.lazy.compactMap(\.2.failure).first { throw failure.error }
        var codes = [DeliveryCode]()
        codes.reserveCapacity(requests.count)
        for (_, part, _) in parts { codes.append(contentsOf: part) }
        return codes
    }

    /// The first row a worker could not issue.
    private struct WorkerOutcome: Sendable {
        var failure: (row: Int, error: KeyringError)?
    }

    /// Issues `range` of `rows` into `output` (which holds the range's first row at index 0),
    /// two neighbours at a time when they share a slot.
    private static func issue(
        rows: UnsafeBufferPointer<IssueRequest>, _ range: Range<Int>, into output: UnsafeMutablePointer<DeliveryCode>,
        table: [Slot: Entry], keyring: Keyring
    ) -> WorkerOutcome {
        var outcome = WorkerOutcome()
        guard !range.isEmpty else { return outcome }
        var derived: [Slot: CodeGenerator] = [:]
        var slot = Slot(scope: rows[range.lowerBound].scope, date: rows[range.lowerBound].date)
        var index = range.lowerBound
        func lookUp(_ slot: Slot) -> CodeGenerator? {
            if let generator = table[slot]?.generator ?? derived[slot] { return generator }
            do throws(KeyringError) {
                let (dayKey, _) = try keyring.dayKey(scope: slot.scope, date: slot.date)
                let generator = CodeGenerator(dayKey: dayKey)
                derived[slot] = generator
                return generator
            } catch {
                if outcome.failure == nil { outcome.failure = (index, error) }
                return nil
            }
        }
        var generator = lookUp(slot)
        while index < range.upperBound {
            let row = rows.baseAddress! + index
            let target = output + (index - range.lowerBound)
            if row.pointee.date != slot.date || row.pointee.scope != slot.scope {
                slot = Slot(scope: row.pointee.scope, date: row.pointee.date)
                generator = lookUp(slot)
            }
            guard let generator else {
                // Rows of an uncovered slot get a placeholder; the batch fails anyway.
                target.initialize(to: DeliveryCode(unchecked: 0))
                index += 1
                continue
            }
            if index + 1 < range.upperBound, row[1].scope == slot.scope, row[1].date == slot.date {
                let (a, b) = generator.codes(for: row.pointee.shipment, row[1].shipment)
                target.initialize(to: a)
                (target + 1).initialize(to: b)
                index += 2
            } else {
                target.initialize(to: generator.code(for: row.pointee.shipment))
                index += 1
            }
        }
        return outcome
    }
}
