//! A reader's answer to CM_IOCTL_GET_FEATURE_REQUEST (PC/SC part 10 TLVs), as the agent reads
//! it to find PIN-pad readers: `readers::features::parse` never panics; what it accepts
//! accounts for every byte (6 bytes per feature, the rest in skipped TLVs); features re-encode
//! to the input when nothing was skipped; the PIN-pad verdict agrees with the parsed features,
//! also for a truncated answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenconfirm_agent::readers::features::{
    answer_has_pin_pad, encode, parse, FeatureError, FEATURE_VERIFY_PIN_DIRECT,
    FEATURE_VERIFY_PIN_START,
};

fuzz_target!(|data: &[u8]| {
    let has_pin_pad = answer_has_pin_pad(data);
    match parse(data) {
        Ok(features) => {
            assert!(features.entries.len() * 6 + features.skipped * 2 <= data.len());
            if features.skipped == 0 {
                assert_eq!(encode(&features.entries), data);
            }
            assert_eq!(has_pin_pad, features.pin_pad());
            let expected = features
                .entries
                .iter()
                .any(|f| f.tag == FEATURE_VERIFY_PIN_DIRECT || f.tag == FEATURE_VERIFY_PIN_START);
            assert_eq!(features.pin_pad(), expected);
        }
        Err(FeatureError::Truncated { offset, parsed }) => {
            assert!(offset < data.len());
            // Everything before the cut parses on its own to the same features.
            assert_eq!(parse(&data[..offset]), Ok(parsed.clone()));
            assert_eq!(has_pin_pad, parsed.pin_pad());
        }
    }
});
