/// Derives and verifies the codes of one day key (spec §2 and §3).
///
/// Make one per (key, scope, date): it precomputes the HMAC-SHA256 inner and
/// outer midstates, so each code then costs two SHA-256 compressions (three
/// for IDs of 46 characters or more) and no heap allocation. It is immutable
/// and safe to share between threads; its key material is wiped on release.
public struct CodeGenerator: Sendable {
    public let scope: Scope
    public let date: DeliveryDate
    private let state: State

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
        var tag: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &tag) { tag in
            state.contents.pointee.midstate.authenticate(id, state.dateBytes, into: tag.baseAddress!)
            return DynamicTruncation.code(fromTag: tag.baseAddress!)
        }
    }

    /// Checks a code in constant time: the comparison has no early exit and
    /// the expected code never decides a branch before the final answer.
    public func verify(_ code: DeliveryCode, for shipment: ShipmentID) -> VerificationOutcome {
        self.code(for: shipment) == code ? .accepted : .rejected
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
            var date: (UInt64, UInt64) // the first 10 bytes hold `YYYY-MM-DD`
        }

        // Written once in init, read-only afterwards; wiped in deinit.
        let contents: UnsafeMutablePointer<Contents>
        let dateBytes: UnsafeRawBufferPointer

        init(dayKey: DayKey) {
            contents = .allocate(capacity: 1)
            var midstate = dayKey.secret.withUnsafeBytes { HMACSHA256Midstate(key: $0) }
            contents.initialize(to: Contents(midstate: midstate, date: (0, 0)))
            midstate.wipe()
            let dateOffset = MemoryLayout<Contents>.offset(of: \Contents.date)!
            let datePointer = UnsafeMutableRawPointer(contents) + dateOffset
            let ascii = dayKey.date.asciiBytes
            ascii.withUnsafeBytes { datePointer.copyMemory(from: $0.baseAddress!, byteCount: ascii.count) }
            dateBytes = UnsafeRawBufferPointer(start: datePointer, count: ascii.count)
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
    case accepted
    case rejected
}
