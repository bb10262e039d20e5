import CertificateDER
import Foundation
import NIOSSL

/// The public keys of a set of trust roots, to tell whether an authority given for `verify-ca`
/// is one of them.
///
/// Keys, not certificates: the TLS library takes any self-signed certificate of a root's key (a
/// re-issue, an older copy) as that root. A key is compared as the certificate's DER
/// SubjectPublicKeyInfo, read by `CertificateFields` (the `CertificateDER` target) without the
/// TLS library's key parser, which stops the process on a key type it does not know (brainpool,
/// RSA-PSS). The bytes are compared as they are: a copy of a root has them byte for byte; a
/// hand-made certificate of the same key in another encoding (a compressed curve point) would not
/// match. This guards against a mistaken setting, not a forger with the root's key.
package struct TrustRootKeys: Sendable {
    private let keys: Set<[UInt8]>

    /// The keys of the certificates in `bundle`, a PEM file's bytes; a block that cannot be read
    /// (a stray DER file, a byte that is not UTF-8, a key of an unknown type) is left out alone.
    package init(bundle: Data) {
        let begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----"
        var keys = Set<[UInt8]>()
        for block in String(decoding: bundle, as: UTF8.self).components(separatedBy: end) {
            // The last BEGIN of the block: one cut short before it (its END lost) leaves this one whole.
            guard let start = block.range(of: begin, options: .backwards),
                let certificate = try? NIOSSLCertificate(bytes: Array((block[start.lowerBound...] + end + "\n").utf8), format: .pem),
                let key = Self.key(of: certificate)
            else { continue }
            keys.insert(key)
        }
        self.keys = keys
    }

    /// The system's trust roots: the first readable bundle of Debian's, Red Hat's or SUSE's with a
    /// certificate in it, read once; nil where there is none.
    package static let system: TrustRootKeys? = {
        for path in ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem"] {
            guard let bundle = FileManager.default.contents(atPath: path) else { continue }
            let roots = TrustRootKeys(bundle: bundle)
            if !roots.isEmpty { return roots }
        }
        return nil
    }()

    /// Whether no certificate of the bundle could be read.
    package var isEmpty: Bool { keys.isEmpty }

    /// Whether `certificate`'s key is one of the roots'.
    package func contains(keyOf certificate: NIOSSLCertificate) -> Bool {
        Self.key(of: certificate).map(keys.contains) ?? false
    }

    /// Whether the key of the certificate whose DER is `der` is one of the roots'.
    package func contains(keyOfCertificate der: [UInt8]) -> Bool {
        Self.key(ofCertificate: der).map(keys.contains) ?? false
    }

    /// The certificate's SubjectPublicKeyInfo, tag and length included; nil when its DER is not
    /// shaped as a certificate.
    package static func key(of certificate: NIOSSLCertificate) -> [UInt8]? {
        (try? certificate.toDERBytes()).flatMap(key(ofCertificate:))
    }

    /// The SubjectPublicKeyInfo of the certificate whose DER is `der`, as ``key(of:)`` gives it.
    static func key(ofCertificate der: [UInt8]) -> [UInt8]? {
        CertificateFields.subjectPublicKeyInfo(ofCertificate: der[...]).map(Array.init)
    }
}
