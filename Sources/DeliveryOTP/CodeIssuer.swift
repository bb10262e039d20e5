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
    /// Generators for all (scope, date) pairs are made first, on this thread, so
    /// an uncovered date fails before any work; the rows are then split into one
    /// contiguous chunk per thread, each writing its own part of the result.
    public mutating func codes(for requests: [IssueRequest], threads: Int) throws(KeyringError) -> [DeliveryCode] {
        for request in requests { _ = try generator(scope: request.scope, date: request.date) }
        let table = generators
        let workers = max(1, min(threads, requests.count))
        return [DeliveryCode](unsafeUninitializedCapacity: requests.count) { output, initialized in
            // Each worker writes a disjoint range of the output.
            nonisolated(unsafe) let base = output.baseAddress!
            requests.withUnsafeBufferPointer { buffer in
                nonisolated(unsafe) let rows = buffer
                let chunk = (rows.count + workers - 1) / workers
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let start = worker * chunk
                    let end = min(start + chunk, rows.count)
                    guard start < end else { return }
                    // Rows of one manifest mostly share a slot with the row before:
                    // such neighbours are derived two at a time.
                    var index = start
                    var slot = Slot(scope: rows[start].scope, date: rows[start].date)
                    var generator = table[slot]!.generator
                    while index < end {
                        let row = rows[index]
                        if row.date != slot.date || row.scope != slot.scope {
                            slot = Slot(scope: row.scope, date: row.date)
                            generator = table[slot]!.generator
                        }
                        if index + 1 < end, rows[index + 1].scope == row.scope, rows[index + 1].date == row.date {
                            let (a, b) = generator.codes(for: row.shipment, rows[index + 1].shipment)
                            (base + index).initialize(to: a)
                            (base + index + 1).initialize(to: b)
                            index += 2
                        } else {
                            (base + index).initialize(to: generator.code(for: row.shipment))
                            index += 1
                        }
                    }
                }
            }
            initialized = requests.count
        }
    }
}
