//! CRLs from untrusted sources (files, CMS messages): `CrlSet::parse`, then the §6.3 status
//! check of fixed certificates against the parsed set. Nothing may panic.
//!
//! The subjects are seeds from `seeds/x509/`: the self-signed root (`root-ca.der`, issuer of
//! `seeds/crl/root.crl.der`, so that seed verifies and reaches the entry lookup) and a user
//! certificate with its intermediate CA (same names as `seeds/crl/intermediate.crl.der`'s
//! issuer, a different key: the CRL-signer search and its failure paths).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokenconfirm_verify::path::revocation::{check, CrlIssuerCheck, CrlSet, Subject};
use tokenconfirm_verify::path::{Cert, UnixTime};
use tokenconfirm_verify::signature::SignaturePolicy;
use x509_cert::Certificate;

/// 2026-12-01T00:00:00Z: inside the seed CRLs' thisUpdate..nextUpdate and the certificates'
/// validity.
const TIME: UnixTime = UnixTime(1_796_083_200);

struct Certs {
    root: Cert,
    user: Cert,
    intermediate: Cert,
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let parse = |der: &[u8]| Cert::from_der(der.to_vec()).expect("seed certificate parses");
        Certs {
            root: parse(include_bytes!("../seeds/x509/root-ca.der")),
            user: parse(include_bytes!("../seeds/x509/user-ec.der")),
            intermediate: parse(include_bytes!("../seeds/x509/intermediate-ca.der")),
        }
    })
}

/// No other CRL issuers: only the subject's own issuer can sign its CRLs.
struct NoOtherIssuers;

impl CrlIssuerCheck for NoOtherIssuers {
    fn valid_crl_issuer(&self, _candidate: &Certificate) -> bool {
        false
    }

    fn candidates(&self) -> Vec<&Certificate> {
        Vec::new()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(crls) = CrlSet::parse(&[data.to_vec()]) else {
        return;
    };
    let _ = crls.len();
    let _ = format!("{crls:?}");
    let c = certs();
    let policy = SignaturePolicy::default();
    for subject in [
        Subject {
            cert: &c.root.cert,
            issuer: &c.root.cert,
        },
        Subject {
            cert: &c.user.cert,
            issuer: &c.intermediate.cert,
        },
    ] {
        let _ = check(&subject, &crls, TIME, &policy, &NoOtherIssuers);
    }
});
