//! PC/SC part 10 reader features: does a reader have a PIN pad?
//!
//! A reader announces what it can do in its answer to the control code
//! `CM_IOCTL_GET_FEATURE_REQUEST` (`SCARD_CTL_CODE(3400)`; on Linux and macOS pcsc-lite
//! `SCARD_CTL_CODE(c)` is `0x42000000 + c`): a list of TLVs, each a feature tag (1 byte), a
//! length (1 byte, always 4) and the control code for that feature (4 bytes, big-endian). A
//! reader with `FEATURE_VERIFY_PIN_DIRECT` (0x06) or `FEATURE_VERIFY_PIN_START` (0x01) can
//! take the PIN on its own keypad. [`parse`] is pure and fuzzed (`fuzz/fuzz_targets/pcsc_features.rs`).

/// The control code number that asks for the feature list (before `SCARD_CTL_CODE`).
pub const GET_FEATURE_REQUEST: u32 = 3400;
/// Feature tag: verify the PIN on the reader, start (two-step, OMNIKEY style).
pub const FEATURE_VERIFY_PIN_START: u8 = 0x01;
/// Feature tag: verify the PIN on the reader (CCID PIN verify).
pub const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
/// Feature tag: change the PIN on the reader (CCID PIN modify).
pub const FEATURE_MODIFY_PIN_DIRECT: u8 = 0x07;

/// One announced feature: its tag and the control code to use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// Feature tag (`FEATURE_…`).
    pub tag: u8,
    /// The control code for `SCardControl`, as the reader gave it.
    pub control_code: u32,
}

/// A parsed feature list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Features with a 4-byte control code, in the reader's order.
    pub entries: Vec<Feature>,
    /// TLVs with a length other than 4 (not valid part 10; skipped, counted here).
    pub skipped: usize,
}

/// Why a feature list could not be read completely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureError {
    /// A TLV runs past the end of the answer; `parsed` holds the complete TLVs before it.
    #[error("feature list truncated at byte {offset}")]
    Truncated {
        /// Where the incomplete TLV starts.
        offset: usize,
        /// The complete TLVs before it.
        parsed: Features,
    },
}

impl Features {
    /// The control code announced for `tag`, if any.
    pub fn control_code(&self, tag: u8) -> Option<u32> {
        self.entries
            .iter()
            .find(|f| f.tag == tag)
            .map(|f| f.control_code)
    }

    /// Whether the reader can take the PIN on its own keypad.
    pub fn pin_pad(&self) -> bool {
        self.control_code(FEATURE_VERIFY_PIN_DIRECT).is_some()
            || self.control_code(FEATURE_VERIFY_PIN_START).is_some()
    }
}

/// Parses the answer to `CM_IOCTL_GET_FEATURE_REQUEST`. Never panics; an empty answer is an
/// empty list.
pub fn parse(answer: &[u8]) -> Result<Features, FeatureError> {
    let mut features = Features::default();
    let mut offset = 0;
    while offset < answer.len() {
        let Some(&[tag, len]) = answer.get(offset..offset + 2) else {
            return Err(FeatureError::Truncated {
                offset,
                parsed: features,
            });
        };
        let value_end = offset + 2 + usize::from(len);
        let Some(value) = answer.get(offset + 2..value_end) else {
            return Err(FeatureError::Truncated {
                offset,
                parsed: features,
            });
        };
        match <[u8; 4]>::try_from(value) {
            Ok(code) => features.entries.push(Feature {
                tag,
                control_code: u32::from_be_bytes(code),
            }),
            Err(_) => features.skipped += 1,
        }
        offset = value_end;
    }
    Ok(features)
}

/// Encodes features as a reader would announce them (tests and the fuzz target's round trip).
pub fn encode(features: &[Feature]) -> Vec<u8> {
    features
        .iter()
        .flat_map(|f| {
            let mut tlv = vec![f.tag, 4];
            tlv.extend_from_slice(&f.control_code.to_be_bytes());
            tlv
        })
        .collect()
}

/// Whether an answer announces a PIN pad; a truncated answer counts by its complete TLVs.
pub fn answer_has_pin_pad(answer: &[u8]) -> bool {
    match parse(answer) {
        Ok(features) => features.pin_pad(),
        Err(FeatureError::Truncated { parsed, .. }) => parsed.pin_pad(),
    }
}

/// Asks the reader named `reader` for its features (a direct connection, which needs no card).
pub fn query(ctx: &pcsc::Context, reader: &std::ffi::CStr) -> Result<Vec<u8>, pcsc::Error> {
    let card = ctx.connect(reader, pcsc::ShareMode::Direct, pcsc::Protocols::UNDEFINED)?;
    // MAX_BUFFER_SIZE of pcsc-lite; a feature list is at most a few dozen bytes.
    let mut buffer = [0u8; 264];
    let answer = card
        .control(pcsc::ctl_code(GET_FEATURE_REQUEST.into()), &[], &mut buffer)
        .map(<[u8]>::to_vec);
    // Always leave the card as it is: dropping a `pcsc::Card` disconnects with a card reset,
    // which would log out any other program's session on it (OpenSC mid-signature, say) —
    // also when the reader does not answer the feature request.
    if let Err((card, e)) = card.disconnect(pcsc::Disposition::LeaveCard) {
        tracing::debug!("SCardDisconnect(LEAVE_CARD): {e}");
        std::mem::forget(card);
    }
    answer
}

/// Whether a failed query may succeed later (another program holds the reader, the service
/// restarts…), so its result must not be remembered.
pub fn transient(e: pcsc::Error) -> bool {
    use pcsc::Error as E;
    matches!(
        e,
        E::SharingViolation
            | E::ReaderUnavailable
            | E::UnknownReader
            | E::NoService
            | E::ServiceStopped
            | E::Timeout
            | E::Cancelled
            | E::NoMemory
            | E::InternalError
            | E::CommError
            | E::NotReady
            | E::ServerTooBusy
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a CCID PIN-pad reader (e.g. a Cherry ST-2000) answers under pcsc-lite: verify and
    /// modify direct, IFD PIN properties, TLV properties.
    const PINPAD_READER: [u8; 24] = [
        0x06, 4, 0x42, 0x33, 0x00, 0x06, // FEATURE_VERIFY_PIN_DIRECT
        0x07, 4, 0x42, 0x33, 0x00, 0x07, // FEATURE_MODIFY_PIN_DIRECT
        0x0A, 4, 0x42, 0x33, 0x00, 0x0A, // FEATURE_IFD_PIN_PROPERTIES
        0x12, 4, 0x42, 0x33, 0x00, 0x12, // FEATURE_GET_TLV_PROPERTIES
    ];

    #[test]
    fn a_pin_pad_reader_announces_verify_pin_direct() {
        let f = parse(&PINPAD_READER).unwrap();
        assert_eq!(f.entries.len(), 4);
        assert_eq!(f.control_code(FEATURE_VERIFY_PIN_DIRECT), Some(0x4233_0006));
        assert_eq!(f.control_code(FEATURE_MODIFY_PIN_DIRECT), Some(0x4233_0007));
        assert!(f.pin_pad());
        assert_eq!(encode(&f.entries), PINPAD_READER);
    }

    #[test]
    fn verify_pin_start_alone_is_a_pin_pad_too() {
        let answer = encode(&[Feature {
            tag: FEATURE_VERIFY_PIN_START,
            control_code: 0x4233_0001,
        }]);
        assert!(answer_has_pin_pad(&answer));
    }

    #[test]
    fn readers_without_pin_pad() {
        // No features at all (most readers, vpcd), or only properties.
        assert!(!answer_has_pin_pad(&[]));
        assert!(!answer_has_pin_pad(&[0x12, 4, 0x42, 0x33, 0x00, 0x12]));
        assert_eq!(parse(&[]).unwrap(), Features::default());
    }

    #[test]
    fn malformed_answers_are_errors_or_skipped_never_panics() {
        // A TLV with another length is skipped; the next one is still read.
        let f = parse(&[0x01, 2, 0xAA, 0xBB, 0x06, 4, 0, 0, 0, 6]).unwrap();
        assert_eq!(f.skipped, 1);
        assert!(f.pin_pad());
        // Cut inside the header, inside the value.
        for cut in [&[0x06][..], &[0x06, 4, 0x42][..]] {
            assert_eq!(
                parse(cut),
                Err(FeatureError::Truncated {
                    offset: 0,
                    parsed: Features::default()
                })
            );
        }
        // Complete TLVs before a truncated one still count.
        let mut answer = PINPAD_READER[..6].to_vec();
        answer.extend([0x07, 4, 0x42]);
        assert!(matches!(
            parse(&answer),
            Err(FeatureError::Truncated { offset: 6, .. })
        ));
        assert!(answer_has_pin_pad(&answer));
        // A length byte of 255 with nothing after it.
        assert!(parse(&[0x06, 255]).is_err());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn linux_control_code_is_0x42000000_plus_3400() {
        assert_eq!(
            pcsc::ctl_code(GET_FEATURE_REQUEST.into()),
            0x4200_0000 + 3400
        );
    }
}
