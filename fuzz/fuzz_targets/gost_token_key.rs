//! The GOST soft token's parsers (`tokenconfirm-gost-token`): PKCS#8 private keys in every
//! encoding gost-engine reads (PEM or DER), X.509 certificates, and the token configuration
//! TOML. None of them may panic; a key that parses must yield a public key and a signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tokenconfirm_gost_token::{config, key};

fuzz_target!(|data: &[u8]| {
    if let Ok(private) = key::parse_private_key(data) {
        let _ = private.key.public_key_le();
        let digest = vec![0x5a; private.key.param_set().size];
        let _ = private.key.sign_digest(&digest);
    }
    if let Ok(cert) = key::parse_certificate(data) {
        assert_eq!(cert.public_le.len(), 2 * cert.param_set.size);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = config::parse(text, Path::new("fuzz.toml"), Path::new("/nonexistent"));
    }
});
