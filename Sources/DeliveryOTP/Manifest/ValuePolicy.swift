/// Which parcels need a code: those whose order value is at or above the
/// threshold for their currency (README, "Issuing a delivery day").
///
/// Fail safe: a row with no value, or in a currency without a threshold, gets a code.
public struct ValuePolicy: Sendable, Hashable {
    /// 100 EUR, 100 GBP and 500 INR, as a large marketplace's shipping API publishes.
    public static let defaultThresholds: [String: Amount] = [
        "EUR": Amount(units: 100), "GBP": Amount(units: 100), "INR": Amount(units: 500),
    ]

    /// Every parcel needs a code.
    public static let all = ValuePolicy(thresholds: [:], requireAll: true)

    /// The threshold for each currency code, such as `EUR`; a currency not listed always needs a code.
    public private(set) var thresholds: [String: Amount]
    /// True when every parcel needs a code, whatever its value.
    public let requireAll: Bool

    /// A policy with `thresholds` (the defaults unless given); `requireAll` makes every parcel need a code.
    public init(thresholds: [String: Amount] = ValuePolicy.defaultThresholds, requireAll: Bool = false) {
        self.thresholds = thresholds
        self.requireAll = requireAll
    }

    /// Adds or replaces the threshold for `currency`.
    public mutating func setThreshold(_ amount: Amount, for currency: String) {
        thresholds[currency] = amount
    }

    /// Whether a parcel of this value needs a code.
    public func requiresCode(value: Amount?, currency: String?) -> Bool {
        if requireAll { return true }
        guard let value, let currency, let threshold = thresholds[currency] else { return true }
        return value >= threshold
    }

    /// A non-negative decimal amount, exact to 1/1,000,000 of a unit.
    public struct Amount: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The number of micros in one unit: 1,000,000.
        public static let scale: Int64 = 1_000_000
        /// The amount times 1,000,000.
        public let micros: Int64

        /// An amount of whole units, e.g. `Amount(units: 100)` for 100. `units` must be at most
        /// 9,223,372,036,854 (``maximum``): a larger value overflows and traps.
        public init(units: Int64) { micros = units * Self.scale }

        /// The largest amount there is: 9223372036854.775807.
        public static let maximum = Amount(micros: .max)

        /// Parses `123`, `99.99` or `0.5`: digits, an optional point and up to six decimals;
        /// nil for anything else and for amounts above ``maximum``.
        public init?(_ text: some StringProtocol) {
            guard let amount = Self.parse(UnsafeRawBufferPointer?.none, text: Array(text.utf8)) else { return nil }
            self = amount
        }

        /// The same, from bytes of a manifest field.
        public init?(bytes: UnsafeRawBufferPointer) {
            guard let amount = Self.parse(bytes, text: nil) else { return nil }
            self = amount
        }

        private init(micros: Int64) { self.micros = micros }

        /// True for the shape ``init(bytes:)`` reads (digits, then optionally a point and 1 to 6
        /// digits), whatever the size: such text that does not parse is out of range, not malformed.
        public static func isWellFormed(_ bytes: UnsafeRawBufferPointer) -> Bool {
            let digit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
            guard let point = bytes.firstIndex(of: UInt8(ascii: ".")) else { return !bytes.isEmpty && bytes.allSatisfy(digit) }
            let whole = bytes[..<point], fraction = bytes[(point + 1)...]
            return !whole.isEmpty && whole.allSatisfy(digit) && (1...6).contains(fraction.count) && fraction.allSatisfy(digit)
        }

        private static func parse(_ bytes: UnsafeRawBufferPointer?, text: [UInt8]?) -> Amount? {
            let count = bytes?.count ?? text!.count
            @inline(__always) func at(_ index: Int) -> UInt8 { bytes?[index] ?? text![index] }
            guard count > 0, count <= 24 else { return nil }
            var units: Int64 = 0, fraction: Int64 = 0, fractionDigits = 0, seenPoint = false, digits = 0
            for index in 0..<count {
                let byte = at(index)
                if byte == UInt8(ascii: ".") {
                    guard !seenPoint, digits > 0 else { return nil }
                    seenPoint = true
                    continue
                }
                guard byte >= 48 && byte <= 57 else { return nil }
                if seenPoint {
                    guard fractionDigits < 6 else { return nil }
                    fraction = fraction * 10 + Int64(byte - 48)
                    fractionDigits += 1
                } else {
                    guard units < 1_000_000_000_000 else { return nil }
                    units = units * 10 + Int64(byte - 48)
                    digits += 1
                }
            }
            guard digits > 0, !seenPoint || fractionDigits > 0 else { return nil }
            var scaledFraction = fraction
            for _ in fractionDigits..<6 { scaledFraction *= 10 }
            // Up to 9,223,372,036,854.775807: beyond that micros would not fit in 64 bits.
            let (scaled, overflow) = units.multipliedReportingOverflow(by: scale)
            let (micros, carry) = scaled.addingReportingOverflow(scaledFraction)
            guard !overflow, !carry else { return nil }
            return Amount(micros: micros)
        }

        /// Smaller amounts come first.
        public static func < (lhs: Amount, rhs: Amount) -> Bool { lhs.micros < rhs.micros }

        /// The amount in decimal without trailing zeros, e.g. `100`, `99.9` or `0.5`.
        public var description: String {
            let units = micros / Self.scale, fraction = micros % Self.scale
            guard fraction != 0 else { return String(units) }
            var digits = String(fraction).leftPadded(to: 6)
            while digits.hasSuffix("0") { digits.removeLast() }
            return "\(units).\(digits)"
        }
    }

    /// True for three ASCII capital letters, the shape of an ISO 4217 code.
    public static func isCurrencyCode(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count == 3 && bytes.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
    }
}
