//! The certificate side of a confirmation: trust material loaded once at start (anchors,
//! accredited-CA list, intermediates, CRLs) and the mapping of verification failures to the
//! API's codes. The verification itself is `tokenconfirm-verify`'s, at the time given.

use crate::config::Config;
use crate::error::{ApiCode, ApiError};
use crate::model::CertificateSummary;
use serde_json::json;
use tokenconfirm_verify::error::{Code, VerifyError};
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Cert, Settings, SignatureCache, UnixTime};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_verify::trust::{self, TrustStore};
use tokenconfirm_verify::verify::{Context, Verified};

/// Trust anchors, intermediates, CRLs and the profile, shared by every request.
pub struct Verifier {
    trust: TrustStore,
    untrusted: Vec<Cert>,
    crls: CrlSet,
    profile: Profile,
    settings: Settings,
    cache: SignatureCache,
}

/// What loading the trust material found (logged at start).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadSummary {
    /// Trust anchors.
    pub anchors: usize,
    /// Intermediates.
    pub untrusted: usize,
    /// CRLs.
    pub crls: usize,
}

impl Verifier {
    /// Loads everything the configuration names. Errors carry the file and the reason.
    pub fn load(config: &Config) -> Result<(Verifier, LoadSummary), VerifyError> {
        let mut store = TrustStore::new();
        for path in &config.trust {
            store.add_path(path)?;
        }
        if let Some(path) = &config.tsl {
            let xml = std::fs::read(path)
                .map_err(|e| VerifyError::new(Code::Io, format!("{}: {e}", path.display())))?;
            store.add_ca_list(&xml)?;
        }
        let mut untrusted = Vec::new();
        for path in &config.untrusted {
            untrusted.extend(trust::load_certificates(path)?.into_iter().map(|(_, c)| c));
        }
        let mut ders = Vec::new();
        for path in &config.crls {
            ders.extend(trust::load_crls(path)?);
        }
        let crls = CrlSet::parse(&ders)?;
        let summary = LoadSummary {
            anchors: store.anchors.len(),
            untrusted: untrusted.len(),
            crls: crls.len(),
        };
        Ok((
            Verifier {
                trust: store,
                untrusted,
                crls,
                profile: config.profile,
                settings: Settings {
                    revocation: true,
                    ..Settings::default()
                },
                cache: SignatureCache::default(),
            },
            summary,
        ))
    }

    /// Verifies an envelope (DER) at `at` under the configured profile, revocation checked.
    pub fn verify(&self, envelope: &[u8], at: UnixTime) -> Result<Verified, VerifyError> {
        Context {
            trust: &self.trust,
            untrusted: &self.untrusted,
            crls: &self.crls,
            profile: self.profile,
            settings: &self.settings,
            cache: Some(&self.cache),
        }
        .verify_cms(envelope, None, at)
    }
}

/// The API code for a verification failure: the envelope itself, the certificate, or its
/// revocation status.
pub fn api_error(e: &VerifyError) -> ApiError {
    let code = match e.code {
        Code::Revoked => ApiCode::CertificateRevoked,
        Code::RevocationUnknown => ApiCode::RevocationUnavailable,
        Code::MalformedInput
        | Code::MalformedCms
        | Code::NotSignedData
        | Code::ContentMissing
        | Code::ContentConflict
        | Code::SignerCount
        | Code::SignerCertificateMissing
        | Code::SignedAttributesMissing
        | Code::DuplicateAttribute
        | Code::ContentTypeMismatch
        | Code::MessageDigestMismatch
        | Code::SigningCertificateMismatch
        | Code::UnsupportedDigest
        | Code::UnsupportedAlgorithm
        | Code::KeyAlgorithmMismatch
        | Code::MalformedSignature
        | Code::InvalidSignature
        | Code::Limit => ApiCode::EnvelopeInvalid,
        _ => ApiCode::CertificateInvalid,
    };
    ApiError::with(code, e.code.as_str())
}

/// The audit record's verification result for a failure.
pub fn failure_json(e: &ApiError, detail: &str) -> String {
    json!({"valid": false, "code": e.code.as_str(), "reason": e.reason, "detail": detail})
        .to_string()
}

fn rfc3339(t: &x509_cert::time::Time) -> String {
    time::OffsetDateTime::from_unix_timestamp(UnixTime::of_x509(t).0)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Subject, issuer, serial and end of validity of a certificate.
pub fn summary(cert: &Cert) -> CertificateSummary {
    let tbs = cert.cert.tbs_certificate();
    CertificateSummary {
        subject: tokenconfirm_wire::dn::display_name(tbs.subject()),
        issuer: tokenconfirm_wire::dn::display_name(tbs.issuer()),
        serial: tbs
            .serial_number()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        not_after: rfc3339(&tbs.validity().not_after),
    }
}

/// The audit record's verification result for a verified envelope: signer, chain, identity.
pub fn success_json(v: &Verified) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    json!({
        "valid": true,
        "signer": v.path.chain.first().map(summary),
        "chain": v.path.chain.iter().map(|c| hex(&c.fingerprint)).collect::<Vec<_>>(),
        "identity": v.identity,
        "revocationChecked": v.path.revocation_checked,
        "signingTime": v.signing_time.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verification_code_maps_to_a_submission_error() {
        for code in Code::ALL {
            let e = api_error(&VerifyError::new(*code, ""));
            assert!(matches!(
                e.code,
                ApiCode::EnvelopeInvalid
                    | ApiCode::CertificateInvalid
                    | ApiCode::CertificateRevoked
                    | ApiCode::RevocationUnavailable
            ));
            assert_eq!(e.reason.as_deref(), Some(code.as_str()));
        }
        assert_eq!(
            api_error(&VerifyError::new(Code::Untrusted, "")).code,
            ApiCode::CertificateInvalid
        );
        assert_eq!(
            api_error(&VerifyError::new(Code::InvalidSignature, "")).code,
            ApiCode::EnvelopeInvalid
        );
    }
}
