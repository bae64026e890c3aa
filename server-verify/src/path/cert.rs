//! A certificate with its original DER kept beside the parsed form (signatures are over the
//! original TBS bytes; fingerprints over the original DER).

use crate::error::{Code, Result, VerifyError};
use der::{Decode, Encode, Reader, SliceReader};
use x509_cert::Certificate;

/// A parsed certificate and its bytes.
#[derive(Debug, Clone)]
pub struct Cert {
    /// Original DER.
    pub der: Vec<u8>,
    /// Parsed form.
    pub cert: Certificate,
    /// SHA-256 of `der`.
    pub fingerprint: [u8; 32],
    tbs: std::ops::Range<usize>,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for Cert {}

impl Cert {
    /// Parses DER; errors are `malformed-certificate`.
    pub fn from_der(der: Vec<u8>) -> Result<Cert> {
        let bad = |e: der::Error| VerifyError::new(Code::MalformedCertificate, e.to_string());
        let cert = match Certificate::from_der(&der) {
            Ok(cert) => cert,
            // The `der` crate cannot represent UTCTime years 1950–1969; see `clamp_pre_1970`.
            Err(e) => clamp_pre_1970(&der)
                .and_then(|patched| Certificate::from_der(&patched).ok())
                .ok_or_else(|| bad(e))?,
        };
        let tbs = tbs_range(&der).map_err(bad)?;
        let fingerprint = crate::digest::sha256(&der);
        Ok(Cert {
            der,
            cert,
            fingerprint,
            tbs,
        })
    }

    /// From an already parsed certificate (re-encoded; for certificates taken out of CMS).
    pub fn from_parsed(cert: &Certificate) -> Result<Cert> {
        Cert::from_owned(cert.clone())
    }

    /// From an owned parsed certificate: encoded once, not parsed again.
    pub fn from_owned(cert: Certificate) -> Result<Cert> {
        let bad = |e: der::Error| VerifyError::new(Code::MalformedCertificate, e.to_string());
        let der = cert.to_der().map_err(bad)?;
        let tbs = tbs_range(&der).map_err(bad)?;
        let fingerprint = crate::digest::sha256(&der);
        Ok(Cert {
            der,
            cert,
            fingerprint,
            tbs,
        })
    }

    /// The exact TBSCertificate bytes the issuer signed.
    pub fn tbs_bytes(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or_default()
    }

    /// The signature value bytes.
    pub fn signature_bytes(&self) -> &[u8] {
        self.cert.signature().raw_bytes()
    }

    /// True when subject and issuer names are equal (self-issued, §6.1).
    pub fn is_self_issued(&self) -> bool {
        super::dn::names_equal(
            self.cert.tbs_certificate().subject(),
            self.cert.tbs_certificate().issuer(),
        )
    }
}

fn tbs_range(der: &[u8]) -> der::Result<std::ops::Range<usize>> {
    let mut outer = SliceReader::new(der)?;
    let header = der::Header::decode(&mut outer)?;
    let start = usize::try_from(outer.position())?;
    let _ = header;
    let tbs_header = der::Header::peek(&outer)?;
    let total = usize::try_from((tbs_header.encoded_len()? + tbs_header.length())?)?;
    Ok(start..start + total)
}

/// A copy of `der` whose validity UTCTimes in 1950–1969 read 1970-01-01T00:00:00Z, for parsing
/// only (signatures are always checked over the original bytes). Exact for any validation time
/// from 1970 on: an earlier notBefore and 1970 both lie in the past, an earlier notAfter and
/// 1970 both lie in the past. `None` when there is nothing to clamp or the layout is unusual.
fn clamp_pre_1970(der: &[u8]) -> Option<Vec<u8>> {
    let mut out = der.to_vec();
    let mut outer = SliceReader::new(der).ok()?;
    der::Header::decode(&mut outer).ok()?;
    let tbs_start = usize::try_from(outer.position()).ok()?;
    let mut tbs = SliceReader::new(&der[tbs_start..]).ok()?;
    let tbs_header = der::Header::decode(&mut tbs).ok()?;
    let _ = tbs_header;
    let mut pos = usize::try_from(tbs.position()).ok()? + tbs_start;
    // Skip [0] version (optional), serialNumber, signature, issuer; then validity.
    let skip = |pos: usize| -> Option<usize> {
        let r = SliceReader::new(der.get(pos..)?).ok()?;
        let h = der::Header::peek(&r).ok()?;
        pos.checked_add(usize::try_from((h.encoded_len().ok()? + h.length()).ok()?).ok()?)
    };
    if der.get(pos) == Some(&0xa0) {
        pos = skip(pos)?;
    }
    for _ in 0..3 {
        pos = skip(pos)?;
    }
    if der.get(pos) != Some(&0x30) {
        return None;
    }
    let mut t = pos + 2;
    let mut changed = false;
    for _ in 0..2 {
        let (tag, len) = (*der.get(t)?, *der.get(t + 1)? as usize);
        if tag == 0x17 && len == 13 {
            let yy = der.get(t + 2..t + 4)?;
            if (b"50".as_slice()..=b"69".as_slice()).contains(&yy) {
                out.get_mut(t + 2..t + 15)?
                    .copy_from_slice(b"700101000000Z");
                changed = true;
            }
        }
        t += 2 + len;
    }
    changed.then_some(out)
}
