//! The challenge a relying party issues and the agent signs over.

use crate::origin::Origin;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// Minimum nonce entropy in bytes (256 bits).
pub const MIN_NONCE_BYTES: usize = 32;
/// Maximum nonce length in bytes; longer values are rejected as malformed.
pub const MAX_NONCE_BYTES: usize = 64;
/// Maximum length of the account reference in characters.
pub const MAX_ACCOUNT_CHARS: usize = 128;
/// Longest challenge lifetime a well-formed challenge may claim.
pub const MAX_LIFETIME: time::Duration = time::Duration::hours(1);

/// What the signature is for. Anything else is rejected, so a signature for one purpose can
/// never be presented as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Raise an existing *standard* account to *confirmed*.
    AccountConfirmation,
    /// Create a *confirmed* account directly from a qualified certificate.
    AccountRegistration,
}

impl Purpose {
    /// The wire spelling, e.g. `account-confirmation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::AccountConfirmation => "account-confirmation",
            Purpose::AccountRegistration => "account-registration",
        }
    }
}

/// A UTC instant written as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, whole seconds). Exactly one
/// spelling per instant, so canonical statements stay canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

const TIMESTAMP_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

impl Timestamp {
    /// Truncates `at` to whole seconds in UTC.
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        Timestamp(utc.replace_nanosecond(0).unwrap_or(utc))
    }

    /// Parses the one accepted spelling.
    pub fn parse(text: &str) -> Result<Self, ChallengeError> {
        let bad = || ChallengeError::BadTime(text.to_owned());
        let naive = time::PrimitiveDateTime::parse(text, TIMESTAMP_FORMAT).map_err(|_| bad())?;
        let stamp = Timestamp(naive.assume_utc());
        // One spelling per instant: reject what formats differently (e.g. a `+` before the year).
        if stamp.to_string() != text {
            return Err(bad());
        }
        Ok(stamp)
    }

    /// The instant.
    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(TIMESTAMP_FORMAT) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A challenge as issued by the server (`docs/protocol.md`, "Challenge").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Challenge {
    /// Format version; always 1.
    pub version: u32,
    /// At least 256 bits from a CSPRNG, base64url without padding.
    pub nonce: String,
    /// The origin the server expects the signature to come from.
    pub origin: Origin,
    /// Opaque reference to the account (or registration session) the challenge was issued to.
    pub account: String,
    /// What the signature is for.
    pub purpose: Purpose,
    /// When the server issued the challenge.
    pub issued_at: Timestamp,
    /// After this instant the server refuses the challenge.
    pub expires_at: Timestamp,
}

/// Why a challenge is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The JSON does not have the challenge's shape.
    #[error("challenge JSON is malformed: {0}")]
    Malformed(String),
    /// Unsupported `version`.
    #[error("challenge version {0} is not supported (expected 1)")]
    Version(u32),
    /// The nonce is not base64url or is shorter than 256 bits / longer than 512 bits.
    #[error("challenge nonce must be base64url of 32 to 64 bytes")]
    Nonce,
    /// The account reference is empty, too long or contains control characters.
    #[error("challenge account reference must be 1 to 128 printable characters")]
    Account,
    /// A time is not `YYYY-MM-DDTHH:MM:SSZ`.
    #[error("time {0:?} is not of the form YYYY-MM-DDTHH:MM:SSZ")]
    BadTime(String),
    /// `expiresAt` is not after `issuedAt`, or the lifetime exceeds one hour.
    #[error("challenge lifetime must be positive and at most one hour")]
    Lifetime,
    /// The challenge has expired at the given time.
    #[error("challenge expired at {0}")]
    Expired(Timestamp),
    /// The challenge claims to be issued in the future (beyond the allowed clock skew).
    #[error("challenge is issued in the future ({0})")]
    NotYetValid(Timestamp),
}

impl Challenge {
    /// Parses and checks the shape of a challenge (not its freshness: see [`Challenge::check_time`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ChallengeError> {
        let challenge: Challenge =
            serde_json::from_slice(bytes).map_err(|e| ChallengeError::Malformed(e.to_string()))?;
        challenge.check_shape()?;
        Ok(challenge)
    }

    /// Checks everything that does not depend on the time: version, nonce, account, lifetime.
    pub fn check_shape(&self) -> Result<(), ChallengeError> {
        if self.version != 1 {
            return Err(ChallengeError::Version(self.version));
        }
        let nonce = crate::b64::url_decode(&self.nonce).map_err(|_| ChallengeError::Nonce)?;
        if !(MIN_NONCE_BYTES..=MAX_NONCE_BYTES).contains(&nonce.len()) {
            return Err(ChallengeError::Nonce);
        }
        let chars = self.account.chars().count();
        if chars == 0 || chars > MAX_ACCOUNT_CHARS || self.account.chars().any(char::is_control) {
            return Err(ChallengeError::Account);
        }
        let lifetime = self.expires_at.datetime() - self.issued_at.datetime();
        if lifetime <= time::Duration::ZERO || lifetime > MAX_LIFETIME {
            return Err(ChallengeError::Lifetime);
        }
        Ok(())
    }

    /// Checks freshness at `now`, tolerating `skew` of clock difference on the issue time.
    pub fn check_time(
        &self,
        now: OffsetDateTime,
        skew: time::Duration,
    ) -> Result<(), ChallengeError> {
        if now >= self.expires_at.datetime() {
            return Err(ChallengeError::Expired(self.expires_at));
        }
        if now + skew < self.issued_at.datetime() {
            return Err(ChallengeError::NotYetValid(self.issued_at));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> &'static str {
        r#"{"version":1,"nonce":"q2NuJ0mYq7yUz1v7Q8p9u1ZC9b1w8m0cY2hhbGxlbmdlLW5vbmNl","origin":"https://portal.example","account":"acct-42","purpose":"account-confirmation","issuedAt":"2026-11-22T09:00:00Z","expiresAt":"2026-11-22T09:05:00Z"}"#
    }

    #[test]
    fn parses_sample() {
        let c = Challenge::from_json(sample().as_bytes()).unwrap();
        assert_eq!(c.purpose, Purpose::AccountConfirmation);
        assert_eq!(c.issued_at.to_string(), "2026-11-22T09:00:00Z");
    }

    #[test]
    fn rejects_short_nonce_unknown_fields_and_bad_times() {
        let short = sample().replace(
            "q2NuJ0mYq7yUz1v7Q8p9u1ZC9b1w8m0cY2hhbGxlbmdlLW5vbmNl",
            "c2hvcnQ",
        );
        assert_eq!(
            Challenge::from_json(short.as_bytes()),
            Err(ChallengeError::Nonce)
        );
        let extra = sample().replace("\"version\":1", "\"version\":1,\"x\":2");
        assert!(matches!(
            Challenge::from_json(extra.as_bytes()),
            Err(ChallengeError::Malformed(_))
        ));
        let plus = sample().replace("\"2026-11-22T09:00:00Z", "\"+2026-11-22T09:00:00Z");
        assert!(matches!(
            Challenge::from_json(plus.as_bytes()),
            Err(ChallengeError::Malformed(_))
        ));
        let frac = sample().replace("09:00:00Z", "09:00:00.5Z");
        assert!(matches!(
            Challenge::from_json(frac.as_bytes()),
            Err(ChallengeError::Malformed(_))
        ));
        let inverted = sample().replace("09:05:00Z", "08:05:00Z");
        assert_eq!(
            Challenge::from_json(inverted.as_bytes()),
            Err(ChallengeError::Lifetime)
        );
        let purpose = sample().replace("account-confirmation", "login");
        assert!(matches!(
            Challenge::from_json(purpose.as_bytes()),
            Err(ChallengeError::Malformed(_))
        ));
    }

    #[test]
    fn freshness() {
        let c = Challenge::from_json(sample().as_bytes()).unwrap();
        let at = |s: &str| Timestamp::parse(s).unwrap().datetime();
        let skew = time::Duration::seconds(30);
        assert!(c.check_time(at("2026-11-22T09:04:59Z"), skew).is_ok());
        assert!(matches!(
            c.check_time(at("2026-11-22T09:05:00Z"), skew),
            Err(ChallengeError::Expired(_))
        ));
        assert!(c.check_time(at("2026-11-22T08:59:40Z"), skew).is_ok());
        assert!(matches!(
            c.check_time(at("2026-11-22T08:59:00Z"), skew),
            Err(ChallengeError::NotYetValid(_))
        ));
    }
}
