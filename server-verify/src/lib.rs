//! Verification of tokenconfirm confirmations for relying parties.
//!
//! Pure functions over bytes, a trust store, a policy and an explicit validation time — the
//! library never reads the clock. Every failure is a typed [`error::VerifyError`] with a
//! stable code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ber;
pub mod cms;
pub mod cms_parts;
pub mod digest;
pub mod error;
/// GOST R 34.10-2012 verification (the `tokenconfirm-gost` crate).
pub use tokenconfirm_gost as gost;
pub mod identity;
pub mod input;
pub mod path;
pub mod profile;
pub mod signature;
pub mod trust;
pub mod tsl;
pub mod verify;

/// The verification code for a signature-module error.
pub fn signature_code(e: &signature::SignatureError) -> error::Code {
    use error::Code;
    match e.code() {
        "unsupported-algorithm" => Code::UnsupportedAlgorithm,
        "key-algorithm-mismatch" => Code::KeyAlgorithmMismatch,
        "weak-key" => Code::WeakKey,
        "malformed-key" => Code::MalformedKey,
        "malformed-parameters" => Code::MalformedParameters,
        "malformed-signature" => Code::MalformedSignature,
        _ => Code::InvalidSignature,
    }
}
