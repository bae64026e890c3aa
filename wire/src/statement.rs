//! The statement the citizen signs: challenge + browser-reported origin + signer certificate hash.

use crate::challenge::Challenge;
use crate::origin::Origin;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Value of the statement's `type` member.
pub const STATEMENT_TYPE: &str = "tokenconfirm-statement";

/// What is signed (`docs/protocol.md`, "Statement"); its bytes are the RFC 8785 canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`]; distinguishes statements from any other signed JSON.
    #[serde(rename = "type")]
    pub kind: String,
    /// Format version; always 1.
    pub version: u32,
    /// The challenge exactly as the server issued it.
    pub challenge: Challenge,
    /// The origin of the requesting page as the browser reported it to the extension.
    pub origin: Origin,
    /// SHA-256 of the signer certificate's DER, base64url without padding.
    pub signer_certificate_sha256: String,
}

/// Why bytes are not an acceptable statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Not JSON of the statement's shape (includes invalid UTF-8).
    #[error("statement is malformed: {0}")]
    Malformed(String),
    /// Well-formed, but not in RFC 8785 canonical form.
    #[error("statement is not in canonical (RFC 8785) form")]
    NotCanonical,
    /// Wrong `type` or `version`.
    #[error("statement type/version is not tokenconfirm-statement version 1")]
    Kind,
    /// The embedded challenge is malformed.
    #[error(transparent)]
    Challenge(#[from] crate::challenge::ChallengeError),
}

impl Statement {
    /// Builds the statement for `challenge`, signed from `origin` with the certificate `cert_der`.
    pub fn new(challenge: Challenge, origin: Origin, cert_der: &[u8]) -> Self {
        Statement {
            kind: STATEMENT_TYPE.to_owned(),
            version: 1,
            challenge,
            origin,
            signer_certificate_sha256: certificate_sha256(cert_der),
        }
    }

    /// The exact bytes to sign: canonical JSON, UTF-8.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        // Serializing our own types yields only strings and small integers, which JCS accepts.
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        crate::jcs::canonicalize(&value).unwrap_or_default()
    }

    /// Parses signed bytes, requiring canonical form so that exactly one byte string is valid.
    pub fn from_signed_bytes(bytes: &[u8]) -> Result<Self, StatementError> {
        let statement: Statement =
            serde_json::from_slice(bytes).map_err(|e| StatementError::Malformed(e.to_string()))?;
        if statement.kind != STATEMENT_TYPE || statement.version != 1 {
            return Err(StatementError::Kind);
        }
        statement.challenge.check_shape()?;
        if statement.to_canonical_bytes() != bytes {
            return Err(StatementError::NotCanonical);
        }
        Ok(statement)
    }

    /// True when the statement names `cert_der` as its signer certificate.
    pub fn names_certificate(&self, cert_der: &[u8]) -> bool {
        self.signer_certificate_sha256 == certificate_sha256(cert_der)
    }
}

/// SHA-256 of a certificate's DER as base64url; also the agent's certificate id.
pub fn certificate_sha256(cert_der: &[u8]) -> String {
    crate::b64::url_encode(&Sha256::digest(cert_der))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> Challenge {
        Challenge::from_json(crate::challenge::tests::sample().as_bytes()).unwrap()
    }

    #[test]
    fn round_trips_canonically() {
        let origin = Origin::parse("https://portal.example").unwrap();
        let s = Statement::new(challenge(), origin, b"cert");
        let bytes = s.to_canonical_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with(r#"{"challenge":{"account":"acct-42","expiresAt":"#),
            "{text}"
        );
        assert!(
            text.ends_with(r#""type":"tokenconfirm-statement","version":1}"#),
            "{text}"
        );
        assert_eq!(Statement::from_signed_bytes(&bytes).unwrap(), s);
        assert!(s.names_certificate(b"cert"));
        assert!(!s.names_certificate(b"other"));
    }

    #[test]
    fn rejects_non_canonical_and_foreign_json() {
        let origin = Origin::parse("https://portal.example").unwrap();
        let s = Statement::new(challenge(), origin, b"cert");
        let pretty = serde_json::to_vec_pretty(&s).unwrap();
        assert_eq!(
            Statement::from_signed_bytes(&pretty),
            Err(StatementError::NotCanonical)
        );
        assert!(matches!(
            Statement::from_signed_bytes(b"\xff"),
            Err(StatementError::Malformed(_))
        ));
        let text = String::from_utf8(s.to_canonical_bytes()).unwrap();
        let other = text.replace("tokenconfirm-statement", "something-else");
        assert_eq!(
            Statement::from_signed_bytes(other.as_bytes()),
            Err(StatementError::Kind)
        );
    }
}
