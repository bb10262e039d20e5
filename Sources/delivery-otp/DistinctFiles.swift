import DeliveryOTP
import Foundation

/// Refuses, before any work is done, an output that is the same file as an
/// input (the keyring, the passphrase file, the manifest) or as another output:
/// writing it would destroy what the command reads, or mix two outputs.
enum DistinctFiles {
    /// A file named on the command line; `-` is standard input for inputs and standard output for outputs.
    struct Named {
        var option: String
        var path: String
    }

    static func check(outputs: [Named], inputs: [Named]) throws {
        for (index, output) in outputs.enumerated() {
            for other in outputs[..<index] where same(output.path, other.path, bothOutputs: true) {
                throw conflict(output, other)
            }
            for input in inputs where output.path != "-" && input.path != "-" && same(output.path, input.path, bothOutputs: false) {
                throw conflict(output, input)
            }
        }
    }

    private static func same(_ a: String, _ b: String, bothOutputs: Bool) -> Bool {
        if a == "-" || b == "-" { return a == b }
        // Two outputs to one terminal or /dev/null are harmless; to one file or pipe they are not.
        if bothOutputs && isCharacterDevice(a) { return false }
        return FileIdentity(of: a) == FileIdentity(of: b)
    }

    private static func isCharacterDevice(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR
    }

    private static func conflict(_ output: Named, _ other: Named) -> CommandFailure {
        let what = output.path == "-" ? "standard output" : "the same file (\(output.path))"
        return CommandFailure(message: "\(output.option) and \(other.option) name \(what); nothing was written",
                              hint: "give \(output.option) a file of its own", exitCode: .usage)
    }
}
