internal import NIOCore

/// How many threads read, parse and write the service's connections (SwiftNIO's event loops),
/// and the PostgreSQL store's.
///
/// SwiftNIO runs one per core the process may use, which suits a replica that has the machine to
/// itself. Replicas that share a machine's cores each run that many, and their threads then
/// contend for the same cores: two replicas on two cores cost a verify about 3 % less of the
/// replicas' CPU (against the database's) with one each (BENCHMARKS.md, "One event loop a replica").
package enum EventLoops {
    /// What `serve --event-loops` accepts.
    package static let allowed = 1...64

    /// Runs `count` event loops in this process, whatever `NIO_SINGLETON_GROUP_LOOP_COUNT` says.
    /// Call it once, before anything starts the service, its store or any other user of SwiftNIO's
    /// shared event loops: SwiftNIO stops the process if the count is set twice, or after anything
    /// has read it (starting its loops does).
    package static func use(_ count: Int) {
        precondition(allowed.contains(count), "an event-loop count of \(count) is outside \(allowed)")
        NIOSingletons.groupLoopCountSuggestion = count
    }
}
