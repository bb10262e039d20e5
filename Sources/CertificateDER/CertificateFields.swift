/// Fields of an X.509 certificate, read from its DER with `DERElement` alone: no TLS library, whose
/// key parser stops the process on a key type it does not know (brainpool, RSA-PSS).
package enum CertificateFields {
    /// The certificate's SubjectPublicKeyInfo, tag and length included, as a slice of `der`; nil
    /// when `der` is not shaped as a certificate.
    ///
    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
    /// signature, issuer, validity, subject, subjectPublicKeyInfo, ... }, ... }
    package static func subjectPublicKeyInfo(ofCertificate der: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard let certificate = DERElement(der), certificate.tag == 0x30,
            let tbs = DERElement(certificate.contents), tbs.tag == 0x30,
            var field = DERElement(tbs.contents)
        else { return nil }
        if field.tag == 0xA0 {
            guard let next = DERElement(field.rest) else { return nil }
            field = next
        }
        // serialNumber, signature, issuer, validity and subject come before the key.
        for _ in 0..<5 {
            guard let next = DERElement(field.rest) else { return nil }
            field = next
        }
        return field.tag == 0x30 ? field.whole : nil
    }
}
