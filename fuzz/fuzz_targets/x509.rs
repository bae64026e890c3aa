//! Certificates from untrusted sources (CMS messages, trust-store files, the CA list):
//! `path::Cert::from_der`, RFC 5280 path validation of the certificate against itself as the
//! only trust anchor, identity extraction and the qualified-certificate profile checks.
//! Results are ignored; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenconfirm_verify::identity::Identity;
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Cert, Settings, UnixTime, Validator};
use tokenconfirm_verify::profile::Profile;

/// 2026-01-01T00:00:00Z.
const FIXED_TIME: UnixTime = UnixTime(1_767_225_600);

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = Cert::from_der(data.to_vec()) else {
        return;
    };
    let anchors = std::slice::from_ref(&cert);
    let crls = CrlSet::empty();
    let settings = Settings {
        revocation: false,
        ..Default::default()
    };
    // At a fixed time, and at the certificate's own notBefore: the seeds were issued after
    // FIXED_TIME, so only the second one gets past the anchor's validity check and runs the
    // whole of §6.1 (a self-signed seed validates completely).
    let not_before = UnixTime::of_x509(&cert.cert.tbs_certificate().validity().not_before);
    for time in [FIXED_TIME, not_before] {
        let validator = Validator {
            anchors,
            pool: &[],
            crls: &crls,
            time,
            settings: &settings,
            cache: None,
        };
        let _ = validator.validate(&cert);
    }
    let _ = cert.is_self_issued();
    let _ = Identity::of(&cert.cert);
    let _ = Profile::QualifiedTest.check_signer(&cert.cert);
});
