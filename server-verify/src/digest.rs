//! Message digests by OID: SHA-2 (aws-lc-rs) and GOST R 34.11-2012 Streebog-256/512.

use crate::error::{Code, Result, VerifyError};
use aws_lc_rs::digest;
use der::asn1::ObjectIdentifier as Oid;

/// id-sha1 (only for legacy signing-certificate v1 hashes).
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// id-sha256.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-sha384.
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// id-sha512.
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// GOST R 34.11-2012 256-bit.
pub const STREEBOG256: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.2");
/// GOST R 34.11-2012 512-bit.
pub const STREEBOG512: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.3");

/// The digest of `data` with the algorithm `oid`. SHA-1 only when `allow_sha1` (legacy ESS).
pub fn digest_by_oid(oid: &Oid, data: &[u8], allow_sha1: bool) -> Result<Vec<u8>> {
    let alg = match *oid {
        SHA256 => &digest::SHA256,
        SHA384 => &digest::SHA384,
        SHA512 => &digest::SHA512,
        SHA1 if allow_sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        STREEBOG256 => return Ok(crate::gost::streebog(crate::gost::Size::Bits256, data)),
        STREEBOG512 => return Ok(crate::gost::streebog(crate::gost::Size::Bits512, data)),
        _ => {
            return Err(VerifyError::new(
                Code::UnsupportedDigest,
                format!("digest algorithm {oid}"),
            ))
        }
    };
    Ok(digest::digest(alg, data).as_ref().to_vec())
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
