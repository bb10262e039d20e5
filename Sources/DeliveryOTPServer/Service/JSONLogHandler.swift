import DeliveryOTP
import Foundation
import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error:
/// `{"time": ..., "level": ..., "message": ..., "label": ..., <metadata>...}`.
///
/// What goes in is decided by the callers: the service logs routes, statuses, durations,
/// token names and error kinds, never a token, a code, a shipment ID or a key.
public struct JSONLogHandler: LogHandler {
    /// Lines are written whole, one writer at a time.
    private static let output = Locked<Int32>(2)

    /// The logger's label.
    public let label: String
    /// Metadata on every line.
    public var metadata: Logger.Metadata = [:]
    /// The lowest level written.
    public var logLevel: Logger.Level = .info

    /// A handler for `label`.
    public init(label: String) { self.label = label }

    /// Metadata by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line, built by hand (no encoder: this runs for every request).
    public func log(event: LogEvent) {
        var fields: [(String, JSONText.Scalar)] = [
            ("time", .string(Self.timestamp())), ("level", .string(event.level.rawValue)),
            ("message", .string(event.message.description)), ("label", .string(label)),
        ]
        // The handler's own metadata is usually empty: then the event's is the line's, unmerged.
        let merged = event.metadata.map { metadata.isEmpty ? $0 : metadata.merging($0, uniquingKeysWith: { $1 }) } ?? metadata
        for key in merged.keys.sorted() where key != "hb.request.id" {
            fields.append((key, .string(Self.flatten(merged[key]!))))
        }
        let line = JSONText.lineBytes(scalars: fields)
        Self.output.withLock { fd in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }
    }

    private static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let item): item.description
        case .array(let items): items.map(flatten).joined(separator: ",")
        case .dictionary(let items): items.map { "\($0.key)=\(flatten($0.value))" }.sorted().joined(separator: ",")
        }
    }

    /// UTC with milliseconds: `2024-01-17T09:30:00.123Z`.
    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return timestamp(seconds: Int64(now.tv_sec), nanoseconds: Int(now.tv_nsec))
    }

    /// `seconds` since 1970 and the `nanoseconds` within that second (as `clock_gettime` gives
    /// them; taken as whole milliseconds, 0 to 999) as ``Timestamp``'s text with milliseconds,
    /// written digit by digit into one string of 24 bytes (every request's line has one; an
    /// interpolation made a string per field). A date outside years 0001 to 9999 is written
    /// `????-??-??`, as there.
    static func timestamp(seconds: Int64, nanoseconds: Int) -> String {
        let date = Timestamp(secondsSinceEpoch: seconds).utcDate
        let second = Int((seconds % 86_400 + 86_400) % 86_400)
        let millis = min(max(nanoseconds, 0) / 1_000_000, 999)
        return String(unsafeUninitializedCapacity: 24) { text in
            var at = 0
            func digits(_ value: Int, _ width: Int) {
                precondition(at + width <= text.count, "a log line's time is 24 bytes")
                var rest = value
                for offset in stride(from: width - 1, through: 0, by: -1) {
                    text[at + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                at += width
            }
            func mark(_ character: Unicode.Scalar) {
                precondition(at < text.count, "a log line's time is 24 bytes")
                text[at] = UInt8(ascii: character)
                at += 1
            }
            if let date {
                digits(date.year, 4)
                mark("-")
                digits(date.month, 2)
                mark("-")
                digits(date.day, 2)
            } else {
                for character in "????-??-??".unicodeScalars { mark(character) }
            }
            mark("T")
            digits(second / 3600, 2)
            mark(":")
            digits(second / 60 % 60, 2)
            mark(":")
            digits(second % 60, 2)
            mark(".")
            digits(millis, 3)
            mark("Z")
            return at
        }
    }
}
