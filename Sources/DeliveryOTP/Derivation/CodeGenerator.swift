/// Derives and verifies the codes of one day key (spec §2 and §3).
///
/// Make one per (key, scope, date): it precomputes the HMAC-SHA256 inner and
/// outer midstates, so each code then costs two SHA-256 compressions (three
/// for IDs of 46 characters or more) and no heap allocation. It is immutable
/// and safe to share between threads; its key material is wiped on release.
public struct CodeGenerator: Sendable {
    /// The scope of the day key: codes are for this scope only.
    public let scope: Scope
    /// The date of the day key: codes are for this date only.
    public let date: DeliveryDate
    private let state: State

    /// A generator for the scope and date of `dayKey`; precomputes the HMAC midstates.
    public init(dayKey: DayKey) {
        scope = dayKey.scope
        date = dayKey.date
        state = State(dayKey: dayKey)
    }

    /// The code for `shipment` on this generator's date and scope.
    @inline(__always)
    public func code(for shipment: ShipmentID) -> DeliveryCode {
        shipment.withBytes { code(forValidatedBytes: $0) }
    }

    /// The code for a shipment ID given as bytes that ``ShipmentID/isValid(bytes:)`` accepted.
    /// For batch paths that parse IDs straight out of a buffer.
    @inline(__always)
    public func code(forValidatedBytes id: UnsafeRawBufferPointer) -> DeliveryCode {
        if id.count + DeliveryDate.encodedLength <= HMACSHA256Midstate.singleBlockCapacity {
            return DynamicTruncation.code(fromWords: HMACSHA256Midstate.authenticateShort(state.midstate, id, state.dateBytes))
        }
        var tag: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &tag) { tag in
            HMACSHA256Midstate.authenticate(state.midstate, id, state.dateBytes, into: tag.baseAddress!)
            return DynamicTruncation.code(fromTag: tag.baseAddress!)
        }
    }

    /// The codes for two shipments at once, about half again as fast as two
    /// calls of ``code(for:)`` on CPUs that overlap independent SHA-256 work.
    @inline(__always)
    public func codes(for first: ShipmentID, _ second: ShipmentID) -> (DeliveryCode, DeliveryCode) {
        first.withBytes { a in second.withBytes { b in codes(forValidatedBytes: a, b) } }
    }

    /// ``codes(for:_:)`` on bytes that ``ShipmentID/isValid(bytes:)`` accepted.
    @inline(__always)
    public func codes(forValidatedBytes first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer)
        -> (DeliveryCode, DeliveryCode)
    {
        guard max(first.count, second.count) + DeliveryDate.encodedLength <= HMACSHA256Midstate.singleBlockCapacity else {
            return (code(forValidatedBytes: first), code(forValidatedBytes: second))
        }
        let (a, b) = HMACSHA256Midstate.authenticateShortPair(state.midstate, first, second, state.dateBytes)
        return (DynamicTruncation.code(fromWords: a), DynamicTruncation.code(fromWords: b))
    }

    /// The codes for many shipments of this day and scope, in order, two at a time.
    public func codes(for shipments: some Collection<ShipmentID>) -> [DeliveryCode] {
        let count = shipments.count
        return [DeliveryCode](unsafeUninitializedCapacity: count) { output, initialized in
            var index = 0
            var iterator = shipments.makeIterator()
            while let first = iterator.next() {
                if let second = iterator.next() {
                    let (a, b) = codes(for: first, second)
                    output.initializeElement(at: index, to: a)
                    output.initializeElement(at: index + 1, to: b)
                    index += 2
                } else {
                    output.initializeElement(at: index, to: code(for: first))
                    index += 1
                }
            }
            precondition(index == count, "the collection's count did not match its elements")
            initialized = index
        }
    }

    /// Checks a code in constant time: the comparison has no early exit and
    /// the expected code never decides a branch before the final answer.
    public func verify(_ code: DeliveryCode, for shipment: ShipmentID) -> VerificationOutcome {
        // The one point where the secret-dependent answer becomes public.
        matchMask(code, for: shipment) & 1 == 1 ? .accepted : .rejected
    }

    /// All ones when `code` is the code for `shipment`, else zero, computed
    /// without a branch or memory index that depends on the key. The
    /// constant-time checks (Benchmarks/ConstantTimeCheck) stop here.
    @_spi(Tools) public func matchMask(_ code: DeliveryCode, for shipment: ShipmentID) -> UInt32 {
        ConstantTime.equalMask(self.code(for: shipment).value, code.value)
    }

    /// The full 32-byte tag `T` of spec §2, for tests and for the timing-leak
    /// harness's deliberately leaky comparison.
    @_spi(Tools) public func tag(for shipment: ShipmentID, into tag: UnsafeMutableRawPointer) {
        shipment.withBytes { id in
            HMACSHA256Midstate.authenticate(state.midstate, id, state.dateBytes, into: tag)
        }
    }

    /// Checks what a person typed. Anything that is not six digits (after
    /// trimming white space) is rejected, not an error.
    public func verify(typed: some StringProtocol, for shipment: ShipmentID) -> VerificationOutcome {
        guard let code = DeliveryCode(typed: typed) else { return .rejected }
        return verify(code, for: shipment)
    }

    /// Owns the midstates and the date bytes in one manually managed block,
    /// so the hot path reads them without reference counting or exclusivity checks.
    private final class State: @unchecked Sendable {
        struct Contents {
            var midstate: HMACSHA256Midstate
            var date: (UInt64, UInt64)  // the first 10 bytes hold `YYYY-MM-DD`
        }

        // Written once in init, read-only afterwards; wiped in deinit.
        let contents: UnsafeMutablePointer<Contents>
        let dateBytes: UnsafeRawBufferPointer
        let midstate: UnsafePointer<HMACSHA256Midstate>

        init(dayKey: DayKey) {
            contents = .allocate(capacity: 1)
            var keyed = dayKey.secret.withUnsafeBytes { HMACSHA256Midstate(key: $0) }
            contents.initialize(to: Contents(midstate: keyed, date: (0, 0)))
            keyed.wipe()
            let dateOffset = MemoryLayout<Contents>.offset(of: \Contents.date)!
            let datePointer = UnsafeMutableRawPointer(contents) + dateOffset
            let ascii = dayKey.date.asciiBytes
            ascii.withUnsafeBytes { datePointer.copyMemory(from: $0.baseAddress!, byteCount: ascii.count) }
            dateBytes = UnsafeRawBufferPointer(start: datePointer, count: ascii.count)
            midstate = (UnsafeRawPointer(contents) + MemoryLayout<Contents>.offset(of: \Contents.midstate)!)
                .assumingMemoryBound(to: HMACSHA256Midstate.self)
        }

        deinit {
            contents.pointee.midstate.wipe()
            contents.deinitialize(count: 1)
            contents.deallocate()
        }
    }
}

/// The answer to "does this code open this parcel today?".
public enum VerificationOutcome: String, Sendable, Hashable {
    /// The code is right.
    case accepted
    /// The code is wrong, or the text typed is not a six-digit code.
    case rejected
}
