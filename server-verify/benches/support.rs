//! Shared by the benchmarks: OpenSSL's in-process baseline.

use std::path::Path;

/// An OpenSSL X509_STORE with `root.pem` and the CRLs `root.crl.pem` and
/// `intermediate.crl.pem` of `pki`, checking CRLs on the whole chain.
pub fn openssl_store(pki: &Path) -> openssl::x509::store::X509Store {
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::verify::X509VerifyFlags;
    use openssl::x509::X509;
    let mut b = X509StoreBuilder::new().expect("store");
    b.add_cert(
        X509::from_pem(&std::fs::read(pki.join("root.pem")).expect("root")).expect("root pem"),
    )
    .expect("add root");
    {
        let lookup = b
            .add_lookup(openssl::x509::store::X509Lookup::file())
            .expect("lookup");
        for crl in ["root.crl.pem", "intermediate.crl.pem"] {
            lookup
                .load_crl_file(pki.join(crl), openssl::ssl::SslFiletype::PEM)
                .expect("load crl");
        }
    }
    b.set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
        .expect("flags");
    b.set_purpose(openssl::x509::X509PurposeId::ANY)
        .expect("purpose");
    b.build()
}
