import DeliveryOTP
import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import DeliveryOTPServer

/// `POST /v1/manifests` makes, writes and reads back files in the temporary folder: a disk there
/// that stops answering must hold up no other request, nor more manifests than their bound.
/// Serialized: both tests use the manifests' two threads, which the first holds while its disk is frozen.
@Suite("Manifests and a temporary folder's disk that stops answering", .serialized)
struct ManifestDiskTests {
    static let csv = "shipment_id,delivery_date,scope,order_value,currency\nTBA123456789000,2024-01-17,,900,EUR\n"

    @Test(
        "Manifests that wait on a frozen temporary folder hold no verify up, a third is refused at once, and both are answered whole once it thaws",
        .enabled(if: FreezableDisk.isAvailable || FreezableDisk.isRequired, "needs root and a loop device"))
    func manifestsWaitOffTheSharedPool() async throws {
        let disk = try FreezableDisk()
        let harness = try ServiceHarness(temporaryFolder: disk.mountPoint)
        try disk.freeze()

        try await harness.test { client in
            try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                // Thawed before the group waits for its manifests, whatever happens here.
                defer { disk.thaw() }
                // As many manifests as may run at once: enough to take every thread of Swift's
                // shared pool on this two-core machine, had they waited on it.
                for _ in 0..<2 {
                    group.addTask {
                        let answer = try await client.post("/v1/manifests", harness, token: "web", json: Self.csv, contentType: "text/csv")
                        return (answer.status, answer.text)
                    }
                }
                let waiting = await Self.threadsWaitingOnAFrozenDisk(atLeast: 2)
                #expect(waiting.count == 2, "threads waiting on the frozen disk: \(waiting)")
                // NIOThreadPool.start() names its threads TP-#0, TP-#1, ... (NIO's singleton
                // pool is SGLTN-TP-#); Swift's pool leaves them the process's name.
                #expect(waiting.allSatisfy { $0.hasPrefix("TP-#") }, "a thread other than the manifests' own waits on the disk: \(waiting)")

                let third = try await client.post("/v1/manifests", harness, token: "web", json: Self.csv, contentType: "text/csv")
                let verify = try await client.verify(harness, shipment: "TBA123456789000", code: "000000")
                let thawedByWatchdog = disk.thawedByWatchdog
                disk.thaw()
                #expect(third.status == .serviceUnavailable && third.text.contains("two manifests are being issued already"))
                #expect(verify.status == .ok)
                #expect(!thawedByWatchdog, "the third manifest and the verify were answered only once the disk thawed")

                var answers: [(HTTPResponse.Status, String)] = []
                for try await answer in group { answers.append(answer) }
                #expect(answers.count == 2)
                for (status, text) in answers {
                    #expect(status == .ok)
                    #expect(text.contains("TBA123456789000,2024-01-17,,true,208328,"), "a feed without its row: \(text)")
                    #expect(text.hasSuffix("--\r\n"), "an answer without its closing boundary")
                }
            }
            // Both slots come back once the thawed files are closed: a manifest is issued again.
            var again: HTTPResponse.Status = .serviceUnavailable
            var tries = 0
            while again == .serviceUnavailable && tries < 600 {
                tries += 1
                again = try await client.post("/v1/manifests", harness, token: "web", json: Self.csv, contentType: "text/csv").status
                if again == .serviceUnavailable { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(again == .ok)
        }
    }

    @Test("A feed that cannot be read back cuts the answer off, rather than ending it as if the feed had ended")
    func aFeedThatCannotBeReadIsNotEndedQuietly() async throws {
        let folder = try TemporaryDirectory()
        let slots = RequestSlots(maximum: 1)
        #expect(slots.take())
        var files: ManifestFiles? = try await ManifestFiles.make(in: folder.path, slot: slots)
        // read() on a directory fails (EISDIR), as a read of a failing disk does (EIO).
        let directory = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(directory >= 0)
        defer { close(directory) }
        var writer: any ResponseBodyWriter = CollectingWriter()
        await #expect(throws: APIError.self) { try await files?.stream(directory, to: &writer) }
        // Released, the files are closed on their threads, and the slot is given back.
        files = nil
        var given = slots.take()
        var tries = 0
        while !given && tries < 600 {
            tries += 1
            try await Task.sleep(for: .milliseconds(100))
            given = slots.take()
        }
        #expect(given, "the slot was not given back")
    }

    /// The names of this process's threads that wait in the kernel for a frozen file system, once
    /// at least `count` do or 60 s have passed.
    static func threadsWaitingOnAFrozenDisk(atLeast count: Int) async -> [String] {
        await threadsWaiting(in: { $0.hasPrefix("percpu_rwsem") }, atLeast: count, seconds: 60)
    }
}

/// A response body that keeps what is written to it.
struct CollectingWriter: ResponseBodyWriter {
    var written = ByteBuffer()
    mutating func write(_ buffer: ByteBuffer) async throws { written.writeImmutableBuffer(buffer) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
