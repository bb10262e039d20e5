import Testing

/// The schedule that spreads the crash tests' kills, against children whose moment is known.
@Suite("Kill schedule")
struct KillScheduleTests {
    /// Runs `kills` kills against a child whose moment comes `moment` µs after its start, and
    /// counts the kills on each side of it.
    static func kills(startingAt guess: Int, moment: Double, kills: Int) -> (before: Int, after: Int) {
        var schedule = KillSchedule(startingAtMilliseconds: guess)
        var before = 0, after = 0
        for _ in 0..<kills {
            let landedAfter = Double(schedule.nextDelay()) >= moment
            if landedAfter { after += 1 } else { before += 1 }
            schedule.record(killedAfterTheMoment: landedAfter)
        }
        return (before, after)
    }

    @Test(
        "kills land on both sides of the moment even when the first guess was far too long or far too short",
        arguments: [
            // CI's case, and worse: one slow timed run of 1,624 ms, for a commit about 100 ms in.
            (2_436, 100_000.0),
            // And the other way round: a quick guess for a child that takes 1.6 s.
            (5, 1_600_000.0),
        ] as [(Int, Double)])
    func bothSides(guess: Int, moment: Double) {
        let (before, after) = Self.kills(startingAt: guess, moment: moment, kills: 40)
        #expect(before >= 5 && after >= 5, "before \(before), after \(after)")
    }

    @Test("a child that never dies pulls the waits down to the shortest, and one that never gets there up to the longest")
    func bounds() {
        var schedule = KillSchedule(startingAtMilliseconds: 100)
        for _ in 0..<100 { schedule.record(killedAfterTheMoment: true) }
        #expect(schedule.step == KillSchedule.shortest)
        for _ in 0..<100 { schedule.record(killedAfterTheMoment: false) }
        #expect(schedule.step == KillSchedule.longest)
    }
}
