/// Why a manifest run stopped. Bad rows do not stop a run (they go to the
/// rejects) unless it is strict.
public enum ManifestError: DeliveryOTPError, Hashable {
    /// The CSV header lacks a required column.
    case missingColumn(String)
    /// The input is empty (no header).
    case empty
    /// `--strict`: the first bad row.
    case rejectedRow(line: Int, reason: String)
    /// A record (or the header) that goes on past 16 MiB (16,777,216
    /// bytes), starting at this byte offset: most likely an unterminated quote.
    /// It stops the run, as memory must stay bounded.
    case recordTooLong(offset: Int)
    /// The CSV header cannot be read as one: an unterminated quote, a column named twice,
    /// CR-only line ends, or text that looks like JSON lines; with how to fix it.
    case badHeader(String, hint: String)

    static let headerHint = "the header must name each column once: shipment_id, delivery_date, and optionally scope, order_value, currency"
    package static let jsonLinesHint = "this looks like JSON lines: read it as JSON lines (a .jsonl file)"
    /// Reading or writing failed.
    case io(String)

    /// One line for a person.
    public var description: String {
        switch self {
        case .missingColumn(let name): "the manifest has no '\(name)' column"
        case .empty: "the manifest is empty"
        case .rejectedRow(let line, let reason): "line \(line): \(reason)"
        case .recordTooLong(let offset): "the record at byte \(offset) runs past \(ChunkReader.maximumRecord >> 20) MiB"
        case .badHeader(let reason, _): "the CSV header \(reason)"
        case .io(let message): message
        }
    }

    /// How to fix it; nil for ``io(_:)``.
    public var hint: String? {
        switch self {
        case .missingColumn, .empty: "the header must name shipment_id and delivery_date (scope, order_value, currency are optional)"
        case .rejectedRow: "fix the row, or issue without strict mode to send bad rows to the rejects"
        case .recordTooLong: "look for an unterminated quote there; no real record is that long"
        case .badHeader(_, let hint): hint
        case .io: nil
        }
    }
}
