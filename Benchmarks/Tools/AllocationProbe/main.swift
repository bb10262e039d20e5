// Derives N codes with one generator so that valgrind's heap summary can show
// whether a code costs any allocation: the total must not grow with N.
// Run by scripts/check-allocations on a release build.
import DeliveryOTP

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let secret = SecretKey(copying: (0..<32).map { UInt8($0) })
let dayKey = DayKey(masterSecret: secret, scope: try! Scope("DEPOT-12"), date: try! DeliveryDate("2024-01-17"))
let generator = CodeGenerator(dayKey: dayKey)

// IDs of typical length (18 characters), rewritten in place in one buffer.
var id = Array("TBA000000000000000".utf8)
var checksum: UInt32 = 0
id.withUnsafeMutableBytes { buffer in
    for n in 0..<count {
        var rest = n
        for position in stride(from: buffer.count - 1, through: 3, by: -1) {
            buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        checksum &+= generator.code(forValidatedBytes: UnsafeRawBufferPointer(buffer)).value
    }
}
// Output of the same length for every N, so that printing allocates the same.
print(checksum == 0x5EED ? "done." : "done")
