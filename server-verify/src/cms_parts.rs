//! A SignedData split into what verification needs, without decoding what it does not:
//! the certificates and CRLs stay borrowed DER slices (each certificate is parsed exactly once,
//! later, by [`crate::path::Cert`]), so no SET OF ordering check re-encodes them and nothing is
//! re-encoded to recover its bytes. Everything else is decoded with the `cms` crate's types.

use cms::content_info::CmsVersion;
use cms::signed_data::{EncapsulatedContentInfo, SignerInfos};
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Header, Reader, SliceReader, Tag, TagNumber};

/// The parts of a `ContentInfo { SignedData }`.
#[derive(Debug)]
pub struct SignedDataParts<'a> {
    /// The ContentInfo's contentType.
    pub content_type: Oid,
    /// encapContentInfo.
    pub encap_content_info: EncapsulatedContentInfo,
    /// Certificates (`CertificateChoices` of the `certificate` alternative), DER.
    pub certificates: Vec<&'a [u8]>,
    /// CRLs (`RevocationInfoChoice` of the `crl` alternative), DER.
    pub crls: Vec<&'a [u8]>,
    /// signerInfos.
    pub signer_infos: SignerInfos,
}

fn context(number: u32) -> Tag {
    Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(number),
    }
}

/// The SEQUENCE-tagged elements of an IMPLICIT [n] SET OF, as DER slices; other choices
/// (attribute certificates, other revocation formats) are skipped.
fn sequences<'a>(r: &mut SliceReader<'a>, number: u32) -> der::Result<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    if Tag::peek(r).ok() != Some(context(number)) {
        return Ok(out);
    }
    let header = Header::decode(r)?;
    let body = r.read_slice(header.length())?;
    let mut inner = SliceReader::new(body)?;
    while !inner.is_finished() {
        let tag = Tag::peek(&inner)?;
        let tlv = inner.tlv_bytes()?;
        if tag == Tag::Sequence {
            out.push(tlv);
        }
    }
    Ok(out)
}

/// Splits DER `ContentInfo` bytes. The content type is returned for any ContentInfo; the
/// SignedData fields are read only when it is id-signedData (otherwise `Ok(None)`).
pub fn split(der: &[u8], signed_data: Oid) -> der::Result<(Oid, Option<SignedDataParts<'_>>)> {
    let mut outer = SliceReader::new(der)?;
    let (content_type, content) = outer.sequence(|r| {
        let content_type = Oid::decode(r)?;
        let header = Header::decode(r)?;
        if header.tag() != context(0) {
            return Err(der::Error::from(
                header.tag().unexpected_error(Some(context(0))),
            ));
        }
        Ok((content_type, r.read_slice(header.length())?))
    })?;
    outer.finish()?;
    if content_type != signed_data {
        return Ok((content_type, None));
    }
    let mut explicit = SliceReader::new(content)?;
    let parts = explicit.sequence(|r| {
        let _version = CmsVersion::decode(r)?;
        let digest_algorithms = Tag::peek(r)?;
        if digest_algorithms != Tag::Set {
            return Err(der::Error::from(
                digest_algorithms.unexpected_error(Some(Tag::Set)),
            ));
        }
        r.tlv_bytes()?;
        let encap_content_info = EncapsulatedContentInfo::decode(r)?;
        let certificates = sequences(r, 0)?;
        let crls = sequences(r, 1)?;
        let signer_infos = SignerInfos::decode(r)?;
        Ok(SignedDataParts {
            content_type,
            encap_content_info,
            certificates,
            crls,
            signer_infos,
        })
    })?;
    explicit.finish()?;
    Ok((content_type, Some(parts)))
}
