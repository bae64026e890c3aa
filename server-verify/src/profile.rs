//! Profiles: policy objects that decide what is acceptable beyond RFC 5280 (in the spirit of
//! sequoia's `StandardPolicy`). Each check failure has its own error code.

use crate::error::{Code, Result, VerifyError};
use crate::identity::{self, Identity};
use crate::signature::SignaturePolicy;
use der::asn1::ObjectIdentifier as Oid;
use der::Decode;
use x509_cert::ext::pkix::{CertificatePolicies, KeyUsage};
use x509_cert::Certificate;

/// subjectSignTool.
pub const SUBJECT_SIGN_TOOL: Oid = Oid::new_unwrap("1.2.643.100.111");
/// issuerSignTool.
pub const ISSUER_SIGN_TOOL: Oid = Oid::new_unwrap("1.2.643.100.112");
/// Prefix of the signature-tool class policies КС1 (.1) … КА1 (.6).
pub const QUALIFIED_POLICY_ARC: &str = "1.2.643.100.113.";
/// GOST R 34.10-2012 256-bit public key.
pub const GOST_2012_256: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.1");
/// GOST R 34.10-2012 512-bit public key.
pub const GOST_2012_512: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.2");

/// Which certificates are acceptable signers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Generic RFC 5280 validation, any supported algorithm, revocation only when CRLs are given.
    Rfc5280,
    /// Russian qualified certificate of a natural person: GOST R 34.10-2012 only,
    /// subjectSignTool and issuerSignTool, a 1.2.643.100.113.x policy, valid SNILS, keyUsage
    /// digitalSignature, revocation checked.
    Qualified,
    /// `Qualified` but also allowing ECDSA and RSA keys, for SoftHSM-based integration tests.
    QualifiedTest,
}

impl Profile {
    /// Parses `rfc5280`, `qualified`, `qualified-test`.
    pub fn parse(name: &str) -> Option<Profile> {
        match name {
            "rfc5280" => Some(Profile::Rfc5280),
            "qualified" => Some(Profile::Qualified),
            "qualified-test" => Some(Profile::QualifiedTest),
            _ => None,
        }
    }

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Rfc5280 => "rfc5280",
            Profile::Qualified => "qualified",
            Profile::QualifiedTest => "qualified-test",
        }
    }

    /// Whether a revocation check is mandatory.
    pub fn requires_revocation(self) -> bool {
        !matches!(self, Profile::Rfc5280)
    }

    /// Signature algorithm policy (minimum key sizes).
    pub fn signature_policy(self) -> SignaturePolicy {
        SignaturePolicy::default()
    }

    /// Profile checks on the signer certificate; returns the identity it states.
    pub fn check_signer(self, signer: &Certificate) -> Result<Identity> {
        let id = Identity::of(signer);
        if self == Profile::Rfc5280 {
            return Ok(id);
        }
        let tbs = signer.tbs_certificate();
        let key_alg = tbs.subject_public_key_info().algorithm.oid;
        if self == Profile::Qualified && key_alg != GOST_2012_256 && key_alg != GOST_2012_512 {
            return Err(VerifyError::new(
                Code::NotGost,
                format!("signer key algorithm {key_alg}"),
            ));
        }
        let has_ext = |oid: Oid| {
            tbs.extensions()
                .is_some_and(|exts| exts.iter().any(|e| e.extn_id == oid))
        };
        if !has_ext(SUBJECT_SIGN_TOOL) {
            return Err(VerifyError::new(
                Code::SubjectSignToolMissing,
                "extension 1.2.643.100.111",
            ));
        }
        if !has_ext(ISSUER_SIGN_TOOL) {
            return Err(VerifyError::new(
                Code::IssuerSignToolMissing,
                "extension 1.2.643.100.112",
            ));
        }
        let policies = tbs.get_extension::<CertificatePolicies>().map_err(|e| {
            VerifyError::new(
                Code::MalformedCertificate,
                format!("certificatePolicies: {e}"),
            )
        })?;
        let qualified_policy = policies.is_some_and(|(_, p)| {
            p.0.iter().any(|info| {
                let oid = info.policy_identifier.to_string();
                oid.strip_prefix(QUALIFIED_POLICY_ARC)
                    .and_then(|n| n.parse::<u8>().ok())
                    .is_some_and(|n| (1..=6).contains(&n))
            })
        });
        if !qualified_policy {
            return Err(VerifyError::new(
                Code::QualifiedPolicyMissing,
                "no 1.2.643.100.113.1–6 policy",
            ));
        }
        match &id.snils {
            None => {
                return Err(VerifyError::new(
                    Code::SnilsMissing,
                    "subject has no 1.2.643.100.3",
                ))
            }
            Some(s) if s.len() != 11 || !identity::snils_valid(s) => {
                return Err(VerifyError::new(Code::SnilsInvalid, format!("SNILS {s:?}")))
            }
            Some(_) => {}
        }
        match tbs.get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) if ku.digital_signature() => Ok(id),
            Ok(_) => Err(VerifyError::new(
                Code::DigitalSignatureNotAllowed,
                "keyUsage lacks digitalSignature",
            )),
            Err(e) => Err(VerifyError::new(
                Code::MalformedCertificate,
                format!("keyUsage: {e}"),
            )),
        }
    }
}

/// Parses a DER certificate (helper for callers holding bytes).
pub fn parse_certificate(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der)
        .map_err(|e| VerifyError::new(Code::MalformedCertificate, e.to_string()))
}
