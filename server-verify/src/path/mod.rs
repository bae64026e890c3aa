//! RFC 5280 §6 certification path building and validation, with CRL revocation checking
//! (§6.3), name constraints and certificate policies. Pure: the validation time is a
//! parameter; nothing here reads the clock.

pub mod names;
pub mod revocation;

use der::asn1::ObjectIdentifier as Oid;

/// anyPolicy.
pub const ANY_POLICY: Oid = Oid::new_unwrap("2.5.29.32.0");

/// The validation time: seconds since the Unix epoch (UTC). Explicit everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// From an `OffsetDateTime`.
    pub fn from_datetime(at: time::OffsetDateTime) -> Self {
        UnixTime(at.unix_timestamp())
    }

    /// An X.509 `Time` as Unix seconds.
    pub fn of_x509(t: &x509_cert::time::Time) -> Self {
        UnixTime(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
    }
}

pub mod cert;
pub mod dn;
pub mod policy;
pub mod validate;

pub use cert::Cert;
pub use validate::{Settings, SignatureCache, ValidPath, Validator};
