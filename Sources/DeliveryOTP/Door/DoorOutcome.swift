/// The decision at the door (SPEC.md §9), as a ``CourierVerifier`` returns it.
public enum DoorOutcome: Sendable, Hashable {
    /// The code is right: hand the parcel over.
    case accepted
    /// The code is wrong; this many more wrong codes are allowed today.
    case rejected(attemptsLeft: Int)
    /// Too many wrong codes for this shipment today: the parcel goes back to the depot.
    case locked
    /// The shipment was handed over earlier today, at this time.
    case alreadyAccepted(at: Timestamp)
    /// What was typed is not six digits, so no code can match it: nothing was counted or
    /// recorded, and the courier can ask again (SPEC.md §9).
    case notACode
}
