import Foundation

/// The names of this process's threads whose kernel wait channel (`/proc/self/task/*/wchan`)
/// satisfies `channel`, once at least `count` of them do or `seconds` have passed: how the tests
/// that stall a disk see which threads wait on it.
func threadsWaiting(in channel: (String) -> Bool, atLeast count: Int, seconds: Int) async -> [String] {
    var waiting: [String] = []
    for _ in 0..<(seconds * 10) {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        waiting = tasks.compactMap { task in
            guard let wchan = try? String(contentsOfFile: "/proc/self/task/\(task)/wchan", encoding: .utf8), channel(wchan) else {
                return nil
            }
            return (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        }
        if waiting.count >= count { break }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return waiting
}
