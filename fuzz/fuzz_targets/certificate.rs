//! Certificate parsing and everything the agent derives from a certificate for display and
//! key matching. None of it may panic on any DER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenconfirm_agent::certinfo::{display_name, CertInfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = CertInfo::parse(data.to_vec()) {
        let _ = info.is_ca();
        let _ = info.can_sign();
        let _ = info.validity();
        let _ = info.serial_hex();
        let _ = info.spki_der();
        let _ = info.public_key_bytes();
        let _ = info.key.name();
        let _ = display_name(info.subject());
        let _ = display_name(info.issuer());
    }
});
