/// When to kill the next child, so that a series of kills lands on both sides of the moment that
/// matters (a commit, a first print) however fast or slow the machine is while the test runs.
///
/// A single timing taken up front is not enough: on a loaded machine one slow run once set a window
/// so wide that all forty kills landed after the commit. This is a staircase instead: after a kill
/// that came too early (the child had not reached the moment yet) the next one waits longer, after
/// one that came too late it waits less. Each wait is drawn at random around the current step, so
/// the kills spread over the moment rather than hit one instant, and they gather where torn state
/// would show: around the moment itself.
struct KillSchedule {
    /// The current step, in microseconds.
    private(set) var step: Double

    static let shortest = 50.0
    /// Five seconds: a child that never reaches its moment (a regression) fails the test in minutes, not tens of them.
    static let longest = 5_000_000.0

    /// Starts from a guess, such as one timed run; the guess may be off by a lot either way.
    init(startingAtMilliseconds guess: Int) {
        step = min(max(Double(guess) * 1000, Self.shortest), Self.longest)
    }

    /// Every wait handed out so far, in microseconds, for a failure message.
    private(set) var delays: [UInt32] = []

    /// The wait before the next kill, in microseconds: between half and one and a half steps.
    mutating func nextDelay() -> UInt32 {
        let delay = UInt32(step * Double.random(in: 0.5...1.5))
        delays.append(delay)
        return delay
    }

    /// What the last kill found: the child had already passed the moment, or not yet.
    mutating func record(killedAfterTheMoment after: Bool) {
        step = min(max(step * (after ? 0.7 : 1.4), Self.shortest), Self.longest)
    }
}
