//! Verification of tokenconfirm confirmations for relying parties.
//!
//! Pure functions over bytes, a trust store, a policy and an explicit validation time — the
//! library never reads the clock. Every failure is a typed [`error::VerifyError`] with a
//! stable code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod signature;
pub mod tsl;
