//! The whole check a relying party runs: CMS signature → path to a trust anchor (with CRLs)
//! → profile (qualified certificate rules) → identity. One entry point per input kind.

use crate::cms::{self, CmsOptions};
use crate::error::{Code, Result, VerifyError};
use crate::identity::Identity;
use crate::path::revocation::CrlSet;
use crate::path::{Cert, Settings, SignatureCache, UnixTime, ValidPath, Validator};
use crate::profile::Profile;
use crate::trust::TrustStore;
use x509_cert::ext::pkix::KeyUsage;

/// The inputs that do not change between verifications (load once, share).
pub struct Context<'a> {
    /// Trust anchors.
    pub trust: &'a TrustStore,
    /// Untrusted certificates for path building (besides those inside the message).
    pub untrusted: &'a [Cert],
    /// CRLs (besides those inside the message).
    pub crls: &'a CrlSet,
    /// Profile.
    pub profile: Profile,
    /// RFC 5280 inputs; `revocation` is forced on by profiles that require it.
    pub settings: &'a Settings,
    /// Signature cache for repeated chains.
    pub cache: Option<&'a SignatureCache>,
}

/// A verified signature or certificate.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed content (empty for `verify_certificate`).
    pub content: Vec<u8>,
    /// signing-time from the signed attributes.
    pub signing_time: Option<time::OffsetDateTime>,
    /// Signer (or checked) certificate first, the trust anchor last.
    pub path: ValidPath,
    /// What the certificate says about its holder.
    pub identity: Identity,
}

impl Context<'_> {
    fn effective_settings(&self) -> Result<Settings> {
        let mut settings = self.settings.clone();
        if self.profile.requires_revocation() && !settings.revocation {
            return Err(VerifyError::new(
                Code::RevocationRequired,
                format!("profile {}", self.profile.name()),
            ));
        }
        settings.signature = self.profile.signature_policy();
        Ok(settings)
    }

    /// Verifies a CMS SignedData (DER, BER, PEM or base64) at `at`.
    pub fn verify_cms(
        &self,
        input: &[u8],
        detached: Option<&[u8]>,
        at: UnixTime,
    ) -> Result<Verified> {
        let settings = self.effective_settings()?;
        let der = crate::input::to_der_cow(input)
            .map_err(|e| VerifyError::new(Code::MalformedCms, e.detail))?;
        let options = CmsOptions {
            detached_content: detached,
            extra_certificates: self.untrusted,
            signature_policy: settings.signature,
            require_signed_attributes: self.profile != Profile::Rfc5280,
            signers: 1,
        };
        let message = cms::verify_signed_data(&der, &options)?;
        let signer = message.signer;
        if let Ok(Some((_, ku))) = signer.cert.tbs_certificate().get_extension::<KeyUsage>() {
            if !(ku.digital_signature() || ku.non_repudiation()) {
                return Err(VerifyError::new(
                    Code::DigitalSignatureNotAllowed,
                    "signer keyUsage",
                ));
            }
        }
        let mut pool: Vec<Cert> = self.untrusted.to_vec();
        for cert in message.certificates {
            if !pool.iter().any(|p| p.fingerprint == cert.fingerprint) {
                pool.push(cert);
            }
        }
        let crls_owned;
        let crls = if message.crls.is_empty() {
            self.crls
        } else {
            crls_owned = self.crls.extended(&message.crls)?;
            &crls_owned
        };
        let path = self.validate(&signer, &pool, crls, &settings, at)?;
        let identity = self.profile.check_signer(&signer.cert)?;
        Ok(Verified {
            content: message.content,
            signing_time: message.signing_time,
            path,
            identity,
        })
    }

    /// Validates a certificate (DER, PEM or base64) at `at`.
    pub fn verify_certificate(&self, input: &[u8], at: UnixTime) -> Result<Verified> {
        let settings = self.effective_settings()?;
        let der = crate::input::to_der(input)
            .map_err(|e| VerifyError::new(Code::MalformedCertificate, e.detail))?;
        let cert = Cert::from_der(der)?;
        let path = self.validate(&cert, self.untrusted, self.crls, &settings, at)?;
        let identity = self.profile.check_signer(&cert.cert)?;
        Ok(Verified {
            content: Vec::new(),
            signing_time: None,
            path,
            identity,
        })
    }

    fn validate(
        &self,
        target: &Cert,
        pool: &[Cert],
        crls: &CrlSet,
        settings: &Settings,
        at: UnixTime,
    ) -> Result<ValidPath> {
        if self.trust.anchors.is_empty() {
            return Err(VerifyError::new(
                Code::Untrusted,
                "the trust store is empty",
            ));
        }
        let validator = Validator {
            anchors: &self.trust.anchors,
            pool,
            crls,
            time: at,
            settings,
            cache: self.cache,
        };
        validator.validate(target)
    }
}
