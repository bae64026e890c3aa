//! CMS SignedData verification (RFC 5652 §5): structure, signer, signed attributes
//! (content-type, message-digest, signing-time, ESS signing-certificate v1/v2) and the
//! signature itself. Path validation of the signer certificate is a separate step.

use crate::digest::{self, digest_by_oid};
use crate::error::{Code, Result, VerifyError};
use crate::path::Cert;
use crate::signature::{self, SignaturePolicy};
use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier as Oid, OctetString};
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

/// id-signedData.
pub const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-data.
pub const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
const ID_SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");

/// What the caller decides about a CMS message.
#[derive(Debug, Clone)]
pub struct CmsOptions<'a> {
    /// The content of a detached signature (or the expected content of an attached one).
    pub detached_content: Option<&'a [u8]>,
    /// Certificates to find the signer among, besides those in the message.
    pub extra_certificates: &'a [Cert],
    /// Key-size and algorithm policy.
    pub signature_policy: SignaturePolicy,
    /// Refuse messages without signed attributes (CAdES-BES needs them).
    pub require_signed_attributes: bool,
    /// Exactly this many signers (1 for confirmations).
    pub signers: usize,
}

impl Default for CmsOptions<'_> {
    fn default() -> Self {
        CmsOptions {
            detached_content: None,
            extra_certificates: &[],
            signature_policy: SignaturePolicy::default(),
            require_signed_attributes: true,
            signers: 1,
        }
    }
}

/// A SignedData whose signature verified.
#[derive(Debug, Clone)]
pub struct SignedMessage {
    /// The signed content.
    pub content: Vec<u8>,
    /// eContentType.
    pub content_type: Oid,
    /// The signer certificate.
    pub signer: Cert,
    /// signing-time, when present.
    pub signing_time: Option<time::OffsetDateTime>,
    /// Certificates carried in the message (path-building input).
    pub certificates: Vec<Cert>,
    /// CRLs carried in the message (DER).
    pub crls: Vec<Vec<u8>>,
    /// Signed attributes were present (and checked).
    pub signed_attributes: bool,
    /// The signature algorithm as used (after mapping key OIDs + digest to a signature OID).
    pub signature_algorithm: AlgorithmIdentifierOwned,
}

fn malformed(detail: impl Into<String>) -> VerifyError {
    VerifyError::new(Code::MalformedCms, detail)
}

/// Parses and verifies a DER SignedData (use [`crate::input::to_der`] first for PEM/BER).
pub fn verify_signed_data(der: &[u8], options: &CmsOptions<'_>) -> Result<SignedMessage> {
    let (content_type, parts) = crate::cms_parts::split(der, ID_SIGNED_DATA)
        .map_err(|e| malformed(format!("SignedData: {e}")))?;
    let Some(sd) = parts else {
        return Err(VerifyError::new(
            Code::NotSignedData,
            format!("content type {content_type}"),
        ));
    };

    let content = match (&sd.encap_content_info.econtent, options.detached_content) {
        (Some(any), detached) => {
            let attached =
                OctetString::from_der(&any.to_der().map_err(|e| malformed(e.to_string()))?)
                    .map_err(|e| malformed(format!("eContent: {e}")))?
                    .into_bytes()
                    .into_vec();
            if detached.is_some_and(|d| d != attached.as_slice()) {
                return Err(VerifyError::new(
                    Code::ContentConflict,
                    "attached content differs from the given content",
                ));
            }
            attached
        }
        (None, Some(detached)) => detached.to_vec(),
        (None, None) => {
            return Err(VerifyError::new(
                Code::ContentMissing,
                "no eContent and no detached content",
            ))
        }
    };

    let certificates = sd
        .certificates
        .iter()
        .map(|der| {
            Cert::from_der(der.to_vec())
                .map_err(|e| malformed(format!("certificate: {}", e.detail)))
        })
        .collect::<Result<Vec<_>>>()?;
    let crls: Vec<Vec<u8>> = sd.crls.iter().map(|der| der.to_vec()).collect();

    let signers: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    if signers.len() != options.signers {
        return Err(VerifyError::new(
            Code::SignerCount,
            format!("{} signer(s)", signers.len()),
        ));
    }
    let si = signers[0];
    let signer = find_signer(&si.sid, &certificates, options.extra_certificates)?.clone();

    let econtent_type = sd.encap_content_info.econtent_type;
    let (message, signing_time) = match &si.signed_attrs {
        Some(attrs) => {
            let time =
                check_signed_attributes(attrs, econtent_type, &si.digest_alg, &content, &signer)?;
            (
                attrs
                    .to_der()
                    .map_err(|e| malformed(format!("signed attributes: {e}")))?,
                time,
            )
        }
        None if options.require_signed_attributes => {
            return Err(VerifyError::new(
                Code::SignedAttributesMissing,
                "no signedAttrs",
            ))
        }
        None => {
            if econtent_type != ID_DATA {
                return Err(VerifyError::new(
                    Code::ContentTypeMismatch,
                    "content other than id-data requires signed attributes",
                ));
            }
            (content.clone(), None)
        }
    };

    let algorithm = signature_algorithm(&si.signature_algorithm, &si.digest_alg)?;
    let spki = signer.cert.tbs_certificate().subject_public_key_info();
    signature::verify(
        &options.signature_policy,
        spki,
        &algorithm,
        &message,
        si.signature.as_bytes(),
    )
    .map_err(|e| VerifyError::new(crate::signature_code(&e), format!("CMS signature: {e}")))?;

    Ok(SignedMessage {
        content,
        content_type: econtent_type,
        signer,
        signing_time,
        certificates,
        crls,
        signed_attributes: si.signed_attrs.is_some(),
        signature_algorithm: algorithm,
    })
}

/// Finds the signer by issuer+serial or subject key identifier.
fn find_signer<'a>(
    sid: &SignerIdentifier,
    carried: &'a [Cert],
    extra: &'a [Cert],
) -> Result<&'a Cert> {
    carried
        .iter()
        .chain(extra.iter())
        .find(|c| {
            let tbs = c.cert.tbs_certificate();
            match sid {
                SignerIdentifier::IssuerAndSerialNumber(isn) => {
                    tbs.serial_number() == &isn.serial_number && tbs.issuer() == &isn.issuer
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
                }
            }
        })
        .ok_or_else(|| VerifyError::new(Code::SignerCertificateMissing, "no certificate matches the SignerIdentifier"))
}

/// Maps the SignerInfo's signatureAlgorithm to an X.509 signature algorithm: producers write
/// either a signature OID or the key OID (rsaEncryption, id-ecPublicKey) with the digest
/// given separately.
fn signature_algorithm(
    sig: &AlgorithmIdentifierOwned,
    digest: &AlgorithmIdentifierOwned,
) -> Result<AlgorithmIdentifierOwned> {
    let pick = |oids: [&str; 3]| -> Result<Oid> {
        let index = match digest.oid {
            digest::SHA256 => 0,
            digest::SHA384 => 1,
            digest::SHA512 => 2,
            other => {
                return Err(VerifyError::new(
                    Code::UnsupportedDigest,
                    format!("digest {other} with {}", sig.oid),
                ))
            }
        };
        Oid::new(oids[index])
            .map_err(|e| VerifyError::new(Code::MalformedParameters, e.to_string()))
    };
    Ok(match sig.oid {
        RSA_ENCRYPTION => AlgorithmIdentifierOwned {
            oid: pick([
                "1.2.840.113549.1.1.11",
                "1.2.840.113549.1.1.12",
                "1.2.840.113549.1.1.13",
            ])?,
            parameters: sig.parameters.clone(),
        },
        EC_PUBLIC_KEY => AlgorithmIdentifierOwned {
            oid: pick([
                "1.2.840.10045.4.3.2",
                "1.2.840.10045.4.3.3",
                "1.2.840.10045.4.3.4",
            ])?,
            parameters: None,
        },
        // CryptoPro and OpenSSL write the key OID with a Streebog digest algorithm.
        crate::gost::KEY_256 if digest.oid == digest::STREEBOG256 => AlgorithmIdentifierOwned {
            oid: Oid::new_unwrap("1.2.643.7.1.1.3.2"),
            parameters: None,
        },
        crate::gost::KEY_512 if digest.oid == digest::STREEBOG512 => AlgorithmIdentifierOwned {
            oid: Oid::new_unwrap("1.2.643.7.1.1.3.3"),
            parameters: None,
        },
        _ => sig.clone(),
    })
}

/// Checks the signed attributes and returns the signing time, if any.
fn check_signed_attributes(
    attrs: &x509_cert::attr::Attributes,
    econtent_type: Oid,
    digest_alg: &AlgorithmIdentifierOwned,
    content: &[u8],
    signer: &Cert,
) -> Result<Option<time::OffsetDateTime>> {
    let mut seen = std::collections::HashSet::new();
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_time = None;
    for attr in attrs.iter() {
        if !seen.insert(attr.oid) {
            return Err(VerifyError::new(
                Code::DuplicateAttribute,
                attr.oid.to_string(),
            ));
        }
        let mut values = attr.values.iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(VerifyError::new(
                Code::DuplicateAttribute,
                format!("{} must have exactly one value", attr.oid),
            ));
        };
        match attr.oid {
            ID_CONTENT_TYPE => {
                content_type = Some(
                    value
                        .decode_as::<Oid>()
                        .map_err(|e| malformed(format!("content-type: {e}")))?,
                )
            }
            ID_MESSAGE_DIGEST => {
                message_digest = Some(
                    value
                        .decode_as::<OctetString>()
                        .map_err(|e| malformed(format!("message-digest: {e}")))?,
                )
            }
            ID_SIGNING_TIME => {
                let t = value
                    .decode_as::<x509_cert::time::Time>()
                    .map_err(|e| malformed(format!("signing-time: {e}")))?;
                let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
                signing_time = time::OffsetDateTime::from_unix_timestamp(secs).ok();
            }
            ID_SIGNING_CERTIFICATE_V2 => check_ess(value.value(), signer, true)?,
            ID_SIGNING_CERTIFICATE => check_ess(value.value(), signer, false)?,
            _ => {}
        }
    }
    match content_type {
        Some(ct) if ct == econtent_type => {}
        Some(ct) => {
            return Err(VerifyError::new(
                Code::ContentTypeMismatch,
                format!("attribute says {ct}, content is {econtent_type}"),
            ))
        }
        None => {
            return Err(VerifyError::new(
                Code::ContentTypeMismatch,
                "content-type attribute missing",
            ))
        }
    }
    let expected = digest_by_oid(&digest_alg.oid, content, false)?;
    match message_digest {
        Some(md) if md.as_bytes() == expected.as_slice() => Ok(signing_time),
        Some(_) => Err(VerifyError::new(
            Code::MessageDigestMismatch,
            "message-digest differs from the content's digest",
        )),
        None => Err(VerifyError::new(
            Code::MessageDigestMismatch,
            "message-digest attribute missing",
        )),
    }
}

/// ESS signing-certificate (v1: SHA-1 ESSCertID; v2: ESSCertIDv2 with DEFAULT sha256): the
/// first certificate named must be the signer (hash, and issuer+serial when present).
fn check_ess(value: &[u8], signer: &Cert, v2: bool) -> Result<()> {
    let bad = |d: String| malformed(format!("signing-certificate: {d}"));
    let mismatch = |d: &str| VerifyError::new(Code::SigningCertificateMismatch, d.to_owned());
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies … }
    let mut outer = SliceReader::new(value).map_err(|e| bad(e.to_string()))?;
    let certs = der::asn1::AnyRef::decode(&mut outer).map_err(|e| bad(e.to_string()))?;
    if certs.tag() != Tag::Sequence {
        return Err(bad("certs is not a SEQUENCE".into()));
    }
    let mut list = SliceReader::new(certs.value()).map_err(|e| bad(e.to_string()))?;
    let first =
        der::asn1::AnyRef::decode(&mut list).map_err(|e| bad(format!("no ESSCertID: {e}")))?;
    let mut id = SliceReader::new(first.value()).map_err(|e| bad(e.to_string()))?;
    let hash_alg = if v2 && Tag::peek(&id).map_err(|e| bad(e.to_string()))? == Tag::Sequence {
        AlgorithmIdentifierOwned::decode(&mut id)
            .map_err(|e| bad(e.to_string()))?
            .oid
    } else if v2 {
        digest::SHA256
    } else {
        digest::SHA1
    };
    let hash = OctetString::decode(&mut id).map_err(|e| bad(e.to_string()))?;
    let matches = if hash_alg == digest::SHA256 {
        signer.fingerprint.as_slice() == hash.as_bytes()
    } else {
        digest_by_oid(&hash_alg, &signer.der, !v2)? == hash.as_bytes()
    };
    if !matches {
        return Err(mismatch(
            "certificate hash differs from the signer certificate",
        ));
    }
    if !id.is_finished() {
        #[derive(der::Sequence)]
        struct IssuerSerial {
            issuer: Vec<x509_cert::ext::pkix::name::GeneralName>,
            serial: x509_cert::serial_number::SerialNumber,
        }
        let is = IssuerSerial::decode(&mut id).map_err(|e| bad(format!("issuerSerial: {e}")))?;
        let tbs = signer.cert.tbs_certificate();
        let issuer_ok = is.issuer.iter().any(|g| matches!(g, x509_cert::ext::pkix::name::GeneralName::DirectoryName(n) if n == tbs.issuer()));
        if !issuer_ok || &is.serial != tbs.serial_number() {
            return Err(mismatch("issuerSerial differs from the signer certificate"));
        }
    }
    Ok(())
}
