//! Relying-party input: a CMS SignedData as PEM, base64, DER or BER. `input::to_der` and
//! `cms::verify_signed_data` must not panic on any bytes; the BER→DER normalizer must produce
//! DER that it leaves unchanged (what `ber::is_der` accepts is exactly what `normalize` keeps).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenconfirm_verify::cms::{verify_signed_data, CmsOptions};
use tokenconfirm_verify::{ber, input};

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = input::to_der(data) {
        assert!(ber::is_der(&der), "input::to_der returned non-DER");
        let _ = verify_signed_data(&der, &CmsOptions::default());
        let _ = verify_signed_data(
            &der,
            &CmsOptions {
                require_signed_attributes: false,
                ..CmsOptions::default()
            },
        );
    }

    match ber::normalize(data) {
        Ok(out) => {
            assert!(ber::is_der(&out), "ber::normalize returned non-DER");
            let again = ber::normalize(&out).expect("ber::normalize rejected its own output");
            assert_eq!(again, out, "ber::normalize is not idempotent");
        }
        Err(_) => assert!(
            !ber::is_der(data),
            "ber::is_der accepts input that ber::normalize rejects"
        ),
    }
    if ber::is_der(data) {
        assert_eq!(
            ber::normalize(data).ok().as_deref(),
            Some(data),
            "ber::normalize changed input that ber::is_der accepts"
        );
    }
});
