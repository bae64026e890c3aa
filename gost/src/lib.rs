//! GOST R 34.10-2012 signatures (256 and 512 bit) over GOST R 34.11-2012 (Streebog), in pure
//! Rust, for every TC26 and CryptoPro parameter set. Byte conventions (RFC 4491, RFC 9215):
//! public key X‖Y little-endian inside an OCTET STRING; e = Streebog digest read
//! little-endian mod q (0 → 1); signature s‖r big-endian; 0 < r, s < q.
//!
//! Verification only: nothing here signs, and nothing here needs to be constant-time (all
//! inputs are public).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod curve;
mod field;
pub mod params;

use curve::Curve;
pub use curve::GostError;
use der::asn1::{ObjectIdentifier as Oid, OctetString};
use der::{Decode, Sequence};
use digest::Digest;
use params::{ParamSet, PARAM_SETS};
use spki::SubjectPublicKeyInfoOwned;
use std::sync::OnceLock;

/// GOST R 34.10-2012 256-bit public key.
pub const KEY_256: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.1");
/// GOST R 34.10-2012 512-bit public key.
pub const KEY_512: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.2");

/// GostR3410-2012-PublicKeyParameters (RFC 9215 §4.2).
#[derive(Sequence)]
struct KeyParameters {
    public_key_param_set: Oid,
    digest_param_set: Option<Oid>,
}

/// The two key sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// GOST R 34.10-2012 256 with Streebog-256.
    Bits256,
    /// GOST R 34.10-2012 512 with Streebog-512.
    Bits512,
}

impl Size {
    fn bytes(self) -> usize {
        match self {
            Size::Bits256 => 32,
            Size::Bits512 => 64,
        }
    }
}

/// The parameter set an OID names (TC26 names and CryptoPro aliases).
pub fn param_set(oid: &Oid) -> Option<&'static ParamSet> {
    let text = oid.to_string();
    PARAM_SETS
        .iter()
        .find(|set| set.oids.contains(&text.as_str()))
}

fn curves_256() -> &'static Vec<(&'static ParamSet, Curve<4>)> {
    static CURVES: OnceLock<Vec<(&'static ParamSet, Curve<4>)>> = OnceLock::new();
    CURVES.get_or_init(|| {
        PARAM_SETS
            .iter()
            .filter_map(|s| Some((s, Curve::<4>::new(s)?)))
            .collect()
    })
}

fn curves_512() -> &'static Vec<(&'static ParamSet, Curve<8>)> {
    static CURVES: OnceLock<Vec<(&'static ParamSet, Curve<8>)>> = OnceLock::new();
    CURVES.get_or_init(|| {
        PARAM_SETS
            .iter()
            .filter_map(|s| Some((s, Curve::<8>::new(s)?)))
            .collect()
    })
}

/// Streebog-256 or -512 of `data`, as emitted.
pub fn streebog(size: Size, data: &[u8]) -> Vec<u8> {
    match size {
        Size::Bits256 => streebog::Streebog256::digest(data).to_vec(),
        Size::Bits512 => streebog::Streebog512::digest(data).to_vec(),
    }
}

/// Verifies `signature` (s‖r) over the Streebog `digest` with the key X‖Y (little-endian) on
/// `set`.
pub fn verify_digest(
    set: &ParamSet,
    public_le: &[u8],
    digest: &[u8],
    signature: &[u8],
) -> Result<(), GostError> {
    match set.size {
        32 => curves_256()
            .iter()
            .find(|(s, _)| s.name == set.name)
            .ok_or(GostError::Length)?
            .1
            .verify(public_le, digest, signature),
        64 => curves_512()
            .iter()
            .find(|(s, _)| s.name == set.name)
            .ok_or(GostError::Length)?
            .1
            .verify(public_le, digest, signature),
        _ => Err(GostError::Length),
    }
}

/// Why a GOST key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not a GOST R 34.10-2012 key of the size the signature algorithm needs.
    Mismatch(String),
    /// The parameters name no known parameter set, or do not decode.
    Parameters(String),
    /// The public key does not decode.
    Malformed(String),
}

/// The parameter set and the X‖Y (little-endian) public key of a GOST SubjectPublicKeyInfo.
pub fn public_key(
    spki: &SubjectPublicKeyInfoOwned,
    size: Size,
) -> Result<(&'static ParamSet, Vec<u8>), KeyError> {
    let want = match size {
        Size::Bits256 => KEY_256,
        Size::Bits512 => KEY_512,
    };
    if spki.algorithm.oid != want {
        return Err(KeyError::Mismatch(format!(
            "key algorithm {} cannot verify a GOST R 34.10-2012 {}-bit signature",
            spki.algorithm.oid,
            size.bytes() * 8
        )));
    }
    let params = spki
        .algorithm
        .parameters
        .as_ref()
        .ok_or_else(|| KeyError::Parameters("GOST key without parameters".into()))?;
    let params: KeyParameters = params
        .decode_as()
        .map_err(|e| KeyError::Parameters(format!("GOST key parameters: {e}")))?;
    let set = param_set(&params.public_key_param_set).ok_or_else(|| {
        KeyError::Parameters(format!(
            "unknown GOST parameter set {}",
            params.public_key_param_set
        ))
    })?;
    if set.size != size.bytes() {
        return Err(KeyError::Mismatch(format!(
            "parameter set {} is not {}-bit",
            set.name,
            size.bytes() * 8
        )));
    }
    let _ = params.digest_param_set;
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| KeyError::Malformed("public key BIT STRING has unused bits".into()))?;
    let octets = OctetString::from_der(bits)
        .map_err(|e| KeyError::Malformed(format!("GOST public key: {e}")))?;
    if octets.as_bytes().len() != 2 * set.size {
        return Err(KeyError::Malformed(format!(
            "GOST public key is {} bytes, expected {}",
            octets.as_bytes().len(),
            2 * set.size
        )));
    }
    Ok((set, octets.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_param_set_prepares_and_aliases_resolve() {
        assert_eq!(curves_256().len() + curves_512().len(), PARAM_SETS.len());
        let b = param_set(&Oid::new_unwrap("1.2.643.2.2.35.1")).unwrap();
        assert_eq!(b.name, "id-tc26-gost-3410-2012-256-paramSetB");
        assert!(param_set(&Oid::new_unwrap("1.2.643.2.2.35.9")).is_none());
    }
}
