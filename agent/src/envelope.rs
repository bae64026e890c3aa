//! Building the CMS SignedData (RFC 5652) envelope with CAdES-BES signed attributes.
//!
//! Two steps, because the signature comes from a token in between: [`signed_attributes`]
//! yields the DER to sign, [`assemble`] wraps content, certificates and signature into
//! `ContentInfo`. The content is attached (encapsulated) as `id-data`.

use crate::certinfo::CertInfo;
use crate::error::{AgentError, Result};
use crate::token::mechanism::DigestAlg;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use tokenconfirm_wire::error::ErrorCode;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

/// id-data.
pub const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData.
pub const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-contentType attribute.
pub const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest attribute.
pub const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime attribute.
pub const ID_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-signingCertificateV2 (RFC 5035).
pub const ID_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// ESS SigningCertificateV2 (RFC 5035) with one ESSCertIDv2 and no policies.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct SigningCertificateV2 {
    /// The signer certificate first.
    pub certs: Vec<EssCertIdV2>,
}

/// ESSCertIDv2: the hash algorithm is absent for the DEFAULT (SHA-256), as DER requires.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct EssCertIdV2 {
    /// The hash algorithm when it is not SHA-256.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// Hash of the certificate DER.
    pub cert_hash: OctetString,
    /// Issuer and serial of the certificate.
    pub issuer_serial: IssuerSerial,
}

/// IssuerSerial (RFC 5035).
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
pub struct IssuerSerial {
    /// The issuer as a directoryName.
    pub issuer: Vec<GeneralName>,
    /// Serial number.
    pub serial_number: SerialNumber,
}

fn der_err(e: der::Error) -> AgentError {
    AgentError::new(ErrorCode::Internal, format!("DER encoding failed: {e}"))
}

fn attribute(oid: Oid, value: impl Encode) -> Result<Attribute> {
    let any = Any::from_der(&value.to_der().map_err(der_err)?).map_err(der_err)?;
    let values = SetOfVec::try_from(vec![any]).map_err(der_err)?;
    Ok(Attribute { oid, values })
}

/// The signing time as X.509 Time: UTCTime until 2049, GeneralizedTime after (RFC 5652 §11.3).
fn signing_time(at: time::OffsetDateTime) -> Result<Time> {
    let secs = u64::try_from(at.unix_timestamp())
        .map_err(|_| AgentError::new(ErrorCode::Internal, "signing time before 1970"))?;
    let dt =
        der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs)).map_err(der_err)?;
    Ok(match der::asn1::UtcTime::from_date_time(dt) {
        Ok(utc) => Time::UtcTime(utc),
        Err(_) => Time::GeneralTime(der::asn1::GeneralizedTime::from_date_time(dt)),
    })
}

/// The CAdES-BES signed attributes for `content` signed by `signer`: content-type (id-data),
/// message-digest, signing-time, signing-certificate-v2. DER-sorted as a SET. The certificate
/// hash in signing-certificate-v2 is SHA-256, or for GOST signatures Streebog of the
/// signature's size, as CryptoPro writes it (Russian qualified signatures use GOST only).
pub fn signed_attributes(
    content: &[u8],
    signer: &CertInfo,
    digest: DigestAlg,
    at: time::OffsetDateTime,
) -> Result<SetOfVec<Attribute>> {
    let tbs = signer.cert.tbs_certificate();
    let (hash_algorithm, cert_hash) = match digest {
        DigestAlg::Streebog256 | DigestAlg::Streebog512 => (
            Some(digest.algorithm_identifier()),
            digest.digest(&signer.der),
        ),
        DigestAlg::Sha256 | DigestAlg::Sha384 => (None, Sha256::digest(&signer.der).to_vec()),
    };
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm,
            cert_hash: OctetString::new(cert_hash).map_err(der_err)?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                serial_number: tbs.serial_number().clone(),
            },
        }],
    };
    let attrs = vec![
        attribute(ID_CONTENT_TYPE, ID_DATA)?,
        attribute(ID_SIGNING_TIME, signing_time(at)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            OctetString::new(digest.digest(content)).map_err(der_err)?,
        )?,
        attribute(ID_SIGNING_CERTIFICATE_V2, ess)?,
    ];
    SetOfVec::try_from(attrs).map_err(der_err)
}

/// The exact bytes the signature covers: the signed attributes as a DER SET (tag 0x31).
pub fn to_be_signed(attrs: &SetOfVec<Attribute>) -> Result<Vec<u8>> {
    attrs.to_der().map_err(der_err)
}

/// Everything `assemble` puts into the envelope.
pub struct Parts<'a> {
    /// The statement bytes (encapsulated as id-data).
    pub content: &'a [u8],
    /// The signer certificate.
    pub signer: &'a CertInfo,
    /// Further certificates to include (chain found on the token).
    pub chain: &'a [CertInfo],
    /// Signed attributes from [`signed_attributes`].
    pub signed_attrs: SetOfVec<Attribute>,
    /// The digest algorithm.
    pub digest: DigestAlg,
    /// The SignerInfo signatureAlgorithm.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// The signature value.
    pub signature: Vec<u8>,
}

/// Builds `ContentInfo { signedData }` and returns its DER.
pub fn assemble(parts: Parts<'_>) -> Result<Vec<u8>> {
    let tbs = parts.signer.cert.tbs_certificate();
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: parts.digest.algorithm_identifier(),
        signed_attrs: Some(parts.signed_attrs),
        signature_algorithm: parts.signature_algorithm,
        signature: OctetString::new(parts.signature).map_err(der_err)?,
        unsigned_attrs: None,
    };
    let certificates = std::iter::once(parts.signer)
        .chain(parts.chain.iter())
        .map(|c| CertificateChoices::Certificate(c.cert.clone()))
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![parts.digest.algorithm_identifier()])
            .map_err(der_err)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: Some(
                Any::encode_from(&OctetString::new(parts.content).map_err(der_err)?)
                    .map_err(der_err)?,
            ),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(certificates).map_err(der_err)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(der_err)?),
    };
    let content = Any::encode_from(&signed_data).map_err(der_err)?;
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content,
    }
    .to_der()
    .map_err(der_err)
}

/// The CA certificates from `authorities` that chain `signer` upwards (by name), nearest first.
pub fn chain_for<'a>(signer: &CertInfo, authorities: &'a [CertInfo]) -> Vec<&'a CertInfo> {
    let mut chain: Vec<&CertInfo> = Vec::new();
    let mut issuer = signer.issuer().clone();
    while chain.len() < 8 {
        let Some(next) = authorities
            .iter()
            .find(|a| a.subject() == &issuer && !chain.iter().any(|c| c.der == a.der))
        else {
            break;
        };
        chain.push(next);
        if next.issuer() == next.subject() {
            break;
        }
        issuer = next.issuer().clone();
    }
    chain
}

/// Reads back the encapsulated content of an envelope this module built (used by tests and
/// the CLI's summary; full verification is `server-verify`'s job).
pub fn encapsulated_content(envelope_der: &[u8]) -> Option<Vec<u8>> {
    let info = ContentInfo::from_der(envelope_der).ok()?;
    let sd: SignedData = info.content.decode_as().ok()?;
    let octets: OctetString = sd.encap_content_info.econtent?.decode_as().ok()?;
    Some(octets.into_bytes().into_vec())
}
