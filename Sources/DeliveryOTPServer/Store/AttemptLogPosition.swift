import DeliveryOTP

/// A line's place in the central attempt log, which is read oldest first: its time, then the
/// order in which the store took it. A read that is cut off gives the position of the last row
/// it read (`X-Next-After` of `GET /v1/attempts`), and the next read starts after it, so that pages
/// end anywhere, even inside a second that holds more lines than a page: a time alone
/// (`since`) cannot page past such a second.
public struct AttemptLogPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The line's time, in seconds since the epoch (negative before 1970).
    public let time: Int64
    /// The store's number for the line, which grows with each line stored.
    public let sequence: Int64

    public init(time: Int64, sequence: Int64) {
        self.time = time
        self.sequence = sequence
    }

    /// Parses the text form that ``description`` writes, `TIME_SEQUENCE`: the time as a decimal
    /// number, with a minus sign before 1970, and the sequence as a decimal number, each of at
    /// most 19 digits and fitting 64 bits (so `Int64.min`, which no RFC 3339 time reaches, is not
    /// read). Nil for anything else (a sign before the sequence, a plus, a space, an empty part).
    public init?(_ text: some StringProtocol) {
        let parts = Array(text.utf8).split(separator: UInt8(ascii: "_"), omittingEmptySubsequences: false)
        guard parts.count == 2, let time = Self.number(parts[0], signed: true), let sequence = Self.number(parts[1], signed: false)
        else { return nil }
        self.init(time: time, sequence: sequence)
    }

    /// `TIME_SEQUENCE`, for instance `1705485600_17`: only characters that a URL's query takes as they are.
    public var description: String { "\(time)_\(sequence)" }

    public static func < (a: Self, b: Self) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }

    /// A decimal number of 1 to 19 digits, with a leading minus when `signed`; nil when it is not
    /// one or does not fit an `Int64`.
    private static func number(_ bytes: ArraySlice<UInt8>, signed: Bool) -> Int64? {
        var digits = bytes
        let negative = signed && digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard (1...19).contains(digits.count), digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        var value: Int64 = 0
        for digit in digits {
            let (shifted, overflowShift) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowAdd) = shifted.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
            guard !overflowShift && !overflowAdd else { return nil }
            value = sum
        }
        return negative ? -value : value
    }
}

/// Where a read of the central attempt log starts.
public enum AttemptLogStart: Sendable, Hashable {
    /// The first line.
    case beginning
    /// The first line of that second or later: inclusive, so a read from the last line's time
    /// gives the lines of that second again.
    case since(Timestamp)
    /// The first line after that position: the rest of a read that was cut off.
    case after(AttemptLogPosition)

    /// The read's bound for the stores' SQL: the lines after (`time`, `sequence`), that is of a
    /// later second than `time`, or of that second with a sequence above `sequence` (store
    /// sequences start at 1, so a bound at `.min` takes the whole second).
    var bound: (time: Int64, sequence: Int64) {
        switch self {
        case .beginning: (.min, .min)
        case .since(let time): (time.secondsSinceEpoch, .min)
        case .after(let position): (position.time, position.sequence)
        }
    }
}

/// A page of the central attempt log: its lines, and where the next page starts.
public struct AttemptLogPage: Sendable, Hashable {
    /// The lines, oldest first.
    public let lines: [AttemptLogLine]
    /// The position of the last row the store read for this page, when the log goes on past it;
    /// nil at the end of the log. It is that row's even when the row could not be read
    /// as a line (a damaged row, or an outcome of a later release), so such a row neither ends
    /// the log early nor stops the reader.
    public let next: AttemptLogPosition?

    public init(lines: [AttemptLogLine], next: AttemptLogPosition?) {
        self.lines = lines
        self.next = next
    }

    /// The lines a page of `limit` holds at most: none for a limit below one, 2^30 for one past it.
    static func size(forLimit limit: Int) -> Int { min(max(limit, 0), 1 << 30) }

    /// How many rows a store reads for a page of `limit` lines: one more than the page, which
    /// tells whether the log goes on (none for a page of none).
    static func rowsToRead(forLimit limit: Int) -> Int {
        let size = size(forLimit: limit)
        return size == 0 ? 0 : size + 1
    }

    /// The page of `limit` lines from the rows a store read (``rowsToRead(forLimit:)`` of them),
    /// each with its record, or nil for a row that is not a line.
    init(rows: [(position: AttemptLogPosition, record: AttemptRecord?)], limit: Int) {
        let kept = rows.prefix(Self.size(forLimit: limit))
        lines = kept.compactMap { row in row.record.map { AttemptLogLine(position: row.position, record: $0) } }
        next = rows.count > kept.count ? kept.last?.position : nil
    }
}

/// A line of the central attempt log and its place in it.
public struct AttemptLogLine: Sendable, Hashable {
    /// Where the line is: the start of the next read, when this is the last line of a page.
    public let position: AttemptLogPosition
    /// The line.
    public let record: AttemptRecord

    public init(position: AttemptLogPosition, record: AttemptRecord) {
        self.position = position
        self.record = record
    }
}
