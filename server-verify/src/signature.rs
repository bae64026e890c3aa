//! Signature verification for X.509 certificates, CRLs and CMS `SignedData`.
//!
//! One entry point, [`verify`], takes the signer's `SubjectPublicKeyInfo`, the X.509
//! signature `AlgorithmIdentifier`, the signed bytes and the signature value, and either
//! accepts or returns a typed [`SignatureError`]. [`verify_ecdsa_p1363`] does the same for
//! raw `r‖s` ECDSA signatures as produced by PKCS#11 `CKM_ECDSA`.
//!
//! Supported (everything else is rejected with [`SignatureError::UnsupportedAlgorithm`]):
//!
//! * ECDSA on P-256, P-384, P-521 (named curves only) with SHA-256/384/512, any
//!   curve/hash combination (the ECDSA algorithm OIDs do not fix the curve);
//! * RSASSA-PKCS1-v1_5 with SHA-256/384/512;
//! * RSASSA-PSS (RFC 4055 parameters) with SHA-256/384/512 as message hash and MGF1 hash,
//!   any salt length that fits the key.
//!
//! GOST R 34.10-2012 (256/512, Streebog) is verified by `crate::gost`. SHA-1 (also as the
//! PSS/MGF1 default), SHA-224, MD5, DSA, EdDSA and GOST R 34.10-2001 are rejected.
//!
//! The arithmetic is done by `aws-lc-rs`; the only exceptions are RSA-PSS parameter sets that
//! aws-lc-rs cannot express (salt length ≠ hash length, MGF1 hash ≠ message hash) and RSA
//! moduli outside aws-lc-rs' 2048–8192-bit window: there EMSA-PSS-VERIFY (RFC 8017 §9.1.2)
//! and EMSA-PKCS1-v1_5 encode-and-compare (§8.2.2) are done here over the raw RSA public
//! operation of the `rsa` crate.

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, UintRef};
use der::{Decode, Sequence, Tag, Tagged};
use rsa::traits::PublicKeyParts;
use rsa::BoxedUint;
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef, SubjectPublicKeyInfoOwned};

/// Largest RSA modulus accepted, in bits (a denial-of-service bound, not a policy choice).
const MAX_RSA_BITS: usize = 16384;

/// Why GOST R 34.10-2001 signatures are refused.
const GOST_2001_WITHDRAWN: &str =
    "GOST R 34.10-2001 (with GOST R 34.11-94) is withdrawn since 2019 and not supported";

/// Object identifiers this module recognises.
mod oid {
    use const_oid::ObjectIdentifier as Oid;

    pub const ECDSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
    pub const ECDSA_WITH_SHA224: Oid = Oid::new_unwrap("1.2.840.10045.4.3.1");
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");

    pub const ID_EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const SECP521R1: Oid = Oid::new_unwrap("1.3.132.0.35");

    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const MD2_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.2");
    pub const MD5_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.4");
    pub const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
    pub const ID_MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
    pub const ID_RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub const SHA224_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.14");

    pub const ID_SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const ID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const ID_SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const ID_SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");

    pub const DSA: Oid = Oid::new_unwrap("1.2.840.10040.4.1");
    pub const DSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10040.4.3");
    pub const DSA_WITH_SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.1");
    pub const DSA_WITH_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.2");

    pub const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
    pub const ED448: Oid = Oid::new_unwrap("1.3.101.113");

    pub const GOST_2012_256_SIG: Oid = Oid::new_unwrap("1.2.643.7.1.1.3.2");
    pub const GOST_2012_512_SIG: Oid = Oid::new_unwrap("1.2.643.7.1.1.3.3");
    pub const GOST_2001_SIG: Oid = Oid::new_unwrap("1.2.643.2.2.3");
}

/// Why a signature was not accepted. Stable machine codes via [`SignatureError::code`].
///
/// Every variant means "not verified"; only `Ok(())` from [`verify`] or
/// [`verify_ecdsa_p1363`] means the signature is good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature algorithm, hash, curve or mask generation function is unknown or not
    /// allowed (SHA-1, SHA-224, MD5, DSA, EdDSA, GOST R 34.10-2001). Code `unsupported-algorithm`.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The key's algorithm cannot make signatures of this algorithm (e.g. an ECDSA signature
    /// with an RSA key, a PKCS#1 v1.5 signature with an RSASSA-PSS-only key, PSS parameters
    /// outside the key's restriction). Code `key-algorithm-mismatch`.
    #[error("key does not match the signature algorithm: {0}")]
    KeyAlgorithmMismatch(String),
    /// The key is outside the size policy (RSA modulus below [`SignaturePolicy::min_rsa_bits`]
    /// or above 16384 bits). Code `weak-key`.
    #[error("weak key: {0}")]
    WeakKey(String),
    /// The public key could not be decoded or is not a valid key (e.g. point not on the
    /// curve, even modulus). Code `malformed-key`.
    #[error("malformed public key: {0}")]
    MalformedKey(String),
    /// The algorithm parameters are not well-formed or not allowed (e.g. bad RSASSA-PSS-params,
    /// parameters present on an ECDSA algorithm identifier). Code `malformed-parameters`.
    #[error("malformed algorithm parameters: {0}")]
    MalformedParameters(String),
    /// The signature value is not in the required encoding (ECDSA not strict DER, wrong
    /// length). Code `malformed-signature`.
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    /// Everything was well-formed and the mathematics says the signature does not match.
    /// Code `invalid-signature`.
    #[error("signature is invalid")]
    Invalid,
}

impl SignatureError {
    /// A stable, machine-readable code for the error kind; never changes between releases.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedAlgorithm(_) => "unsupported-algorithm",
            Self::KeyAlgorithmMismatch(_) => "key-algorithm-mismatch",
            Self::WeakKey(_) => "weak-key",
            Self::MalformedKey(_) => "malformed-key",
            Self::MalformedParameters(_) => "malformed-parameters",
            Self::MalformedSignature(_) => "malformed-signature",
            Self::Invalid => "invalid-signature",
        }
    }
}

/// Settings that are policy decisions (as opposed to correctness rules, which are fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// Smallest RSA modulus accepted, in bits; smaller keys give [`SignatureError::WeakKey`].
    /// Default 2048.
    pub min_rsa_bits: usize,
}

impl Default for SignaturePolicy {
    /// The default policy: RSA moduli of at least 2048 bits.
    fn default() -> Self {
        Self { min_rsa_bits: 2048 }
    }
}

/// A message digest allowed in signatures. SHA-1 and SHA-224 are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-384 (FIPS 180-4).
    Sha384,
    /// SHA-512 (FIPS 180-4).
    Sha512,
}

impl HashAlg {
    /// Length of the digest in bytes (32, 48 or 64).
    #[must_use]
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// Hashes the concatenation of `parts`.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Self::Sha256 => run::<sha2::Sha256>(parts),
            Self::Sha384 => run::<sha2::Sha384>(parts),
            Self::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// The DER `DigestInfo` prefix of EMSA-PKCS1-v1_5 (RFC 8017 §9.2 note 1), NULL parameters.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// Verifies `signature` over `message` made by the key `spki` with the X.509 signature
/// algorithm `algorithm`: ecdsa-with-SHA256/384/512 (DER `Ecdsa-Sig-Value`),
/// sha256/384/512WithRSAEncryption (PKCS#1 v1.5), id-RSASSA-PSS with RFC 4055 parameters.
///
/// Returns `Ok(())` only if the algorithm is allowed, the parameters are well-formed, the key
/// fits the algorithm and `policy`, the signature is in its canonical encoding and it verifies.
/// The message is hashed here; pass the signed bytes, not a digest.
///
/// # Errors
/// A [`SignatureError`] saying why the signature was not accepted.
pub fn verify(
    policy: &SignaturePolicy,
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    match classify_signature_algorithm(algorithm)? {
        SigAlg::Gost(size) => gost_verify(spki, size, message, signature),
        SigAlg::Ecdsa(hash) => {
            let key = ec_key(spki)?;
            check_ecdsa_der(signature)?;
            ecdsa_verify(&key, hash, message, signature)
        }
        SigAlg::RsaPkcs1(hash) => {
            let key = rsa_key(policy, spki)?;
            if key.pss_only {
                return Err(SignatureError::KeyAlgorithmMismatch(
                    "the key is an id-RSASSA-PSS key and may not verify PKCS#1 v1.5 signatures"
                        .into(),
                ));
            }
            rsa_pkcs1_verify(&key, hash, message, signature)
        }
        SigAlg::RsaPss(params) => {
            let key = rsa_key(policy, spki)?;
            if let Some(restriction) = key.pss_restriction {
                check_pss_restriction(&restriction, &params)?;
            }
            rsa_pss_verify(&key, &params, message, signature)
        }
    }
}

/// GOST R 34.10-2012 over Streebog of `message` (`crate::gost`).
fn gost_verify(
    spki: &SubjectPublicKeyInfoOwned,
    size: crate::gost::Size,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    use crate::gost::{self, GostError, KeyError};
    let (set, key) = gost::public_key(spki, size).map_err(|e| match e {
        KeyError::Mismatch(m) => SignatureError::KeyAlgorithmMismatch(m),
        KeyError::Parameters(m) => SignatureError::MalformedParameters(m),
        KeyError::Malformed(m) => SignatureError::MalformedKey(m),
    })?;
    let digest = gost::streebog(size, message);
    gost::verify_digest(set, &key, &digest, signature).map_err(|e| match e {
        GostError::Length => SignatureError::MalformedSignature(format!(
            "a GOST R 34.10-2012 signature on {} is {} bytes (s‖r), got {}",
            set.name,
            2 * set.size,
            signature.len()
        )),
        GostError::KeyNotOnCurve => {
            SignatureError::MalformedKey(format!("GOST public key is not a point of {}", set.name))
        }
        GostError::Range | GostError::Mismatch => SignatureError::Invalid,
    })
}

/// Verifies an ECDSA `signature` in IEEE P1363 form (`r‖s`, each exactly the curve's field
/// width: 32, 48 or 66 bytes) over `message` hashed with `hash`, by the EC key `spki`.
///
/// Same guarantees as [`verify`] for ECDSA; this is the form PKCS#11 `CKM_ECDSA` produces.
///
/// # Errors
/// A [`SignatureError`] saying why the signature was not accepted.
pub fn verify_ecdsa_p1363(
    spki: &SubjectPublicKeyInfoOwned,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let key = ec_key(spki)?;
    let width = key.curve.field_len();
    if signature.len() != 2 * width {
        return Err(SignatureError::MalformedSignature(format!(
            "an IEEE P1363 ECDSA signature on {} is {} bytes, got {}",
            key.curve.name(),
            2 * width,
            signature.len()
        )));
    }
    let (r, s) = signature.split_at(width);
    let der = p1363_to_der(r, s);
    ecdsa_verify(&key, hash, message, &der)
}

// ---------------------------------------------------------------------------------------------
// Algorithm identifiers
// ---------------------------------------------------------------------------------------------

/// A classified, allowed signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigAlg {
    Gost(crate::gost::Size),
    Ecdsa(HashAlg),
    RsaPkcs1(HashAlg),
    RsaPss(PssParams),
}

/// Decoded, allowed RSASSA-PSS parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PssParams {
    hash: HashAlg,
    mgf_hash: HashAlg,
    salt_len: usize,
}

/// `RSASSA-PSS-params` (RFC 4055 §3.1). Explicitly encoded DEFAULT values are tolerated.
#[derive(Sequence)]
struct RsaPssParamsDer<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierRef<'a>>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierRef<'a>>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u32>,
}

/// `RSAPublicKey` (RFC 8017 A.1.1).
#[derive(Sequence)]
struct RsaPublicKeyDer<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// `Ecdsa-Sig-Value` (RFC 5480 / X9.62): decoding enforces DER (minimal, non-negative).
#[derive(Sequence)]
struct EcdsaSigDer<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// A human-readable name for an OID: "name (dotted)" when known.
fn oid_name(oid: &ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

fn classify_signature_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<SigAlg, SignatureError> {
    let params = alg.parameters.as_ref().map(der::asn1::Any::to_ref);
    let gost = match alg.oid {
        oid::GOST_2012_256_SIG => Some(crate::gost::Size::Bits256),
        oid::GOST_2012_512_SIG => Some(crate::gost::Size::Bits512),
        _ => None,
    };
    if let Some(size) = gost {
        if params.is_some_and(|p| !p.is_null()) {
            return Err(SignatureError::MalformedParameters(format!(
                "{}: GOST R 34.10-2012 signature algorithm parameters must be absent or NULL",
                oid_name(&alg.oid)
            )));
        }
        return Ok(SigAlg::Gost(size));
    }
    let ecdsa = match alg.oid {
        oid::ECDSA_WITH_SHA256 => Some(HashAlg::Sha256),
        oid::ECDSA_WITH_SHA384 => Some(HashAlg::Sha384),
        oid::ECDSA_WITH_SHA512 => Some(HashAlg::Sha512),
        _ => None,
    };
    if let Some(hash) = ecdsa {
        if params.is_some() {
            return Err(SignatureError::MalformedParameters(format!(
                "{}: ECDSA signature algorithm parameters must be absent (RFC 5758 §3.2)",
                oid_name(&alg.oid)
            )));
        }
        return Ok(SigAlg::Ecdsa(hash));
    }
    let pkcs1 = match alg.oid {
        oid::SHA256_WITH_RSA => Some(HashAlg::Sha256),
        oid::SHA384_WITH_RSA => Some(HashAlg::Sha384),
        oid::SHA512_WITH_RSA => Some(HashAlg::Sha512),
        _ => None,
    };
    if let Some(hash) = pkcs1 {
        if params.is_some_and(|p| !p.is_null()) {
            return Err(SignatureError::MalformedParameters(format!(
                "{}: PKCS#1 v1.5 signature algorithm parameters must be NULL or absent",
                oid_name(&alg.oid)
            )));
        }
        return Ok(SigAlg::RsaPkcs1(hash));
    }
    if alg.oid == oid::ID_RSASSA_PSS {
        let Some(params) = params else {
            return Err(SignatureError::MalformedParameters(
                "id-RSASSA-PSS signature algorithm without RSASSA-PSS-params (RFC 4055 §3.1 requires them)"
                    .into(),
            ));
        };
        return parse_pss_params(params).map(SigAlg::RsaPss);
    }
    Err(unsupported_signature_algorithm(&alg.oid))
}

fn unsupported_signature_algorithm(oid: &ObjectIdentifier) -> SignatureError {
    let name = oid_name(oid);
    let msg = match *oid {
        oid::GOST_2001_SIG => GOST_2001_WITHDRAWN.to_string(),
        oid::ECDSA_WITH_SHA1 | oid::SHA1_WITH_RSA | oid::DSA_WITH_SHA1 => {
            format!("{name}: SHA-1 signatures are rejected as weak")
        }
        oid::MD2_WITH_RSA | oid::MD5_WITH_RSA => {
            format!("{name}: MD2/MD5 signatures are rejected as broken")
        }
        oid::ECDSA_WITH_SHA224 | oid::SHA224_WITH_RSA => {
            format!("{name}: SHA-224 is not allowed (SHA-256, SHA-384, SHA-512 are)")
        }
        oid::DSA | oid::DSA_WITH_SHA224 | oid::DSA_WITH_SHA256 => {
            format!("{name}: DSA signatures are not supported")
        }
        oid::ED25519 | oid::ED448 => format!("{name}: EdDSA signatures are not supported"),
        _ => format!("unknown signature algorithm {name}"),
    };
    SignatureError::UnsupportedAlgorithm(msg)
}

/// Maps a hash `AlgorithmIdentifier` (parameters NULL or absent, RFC 4055 §2.1).
fn hash_from_identifier(
    ai: &AlgorithmIdentifierRef<'_>,
    what: &str,
) -> Result<HashAlg, SignatureError> {
    let hash = match ai.oid {
        oid::ID_SHA256 => HashAlg::Sha256,
        oid::ID_SHA384 => HashAlg::Sha384,
        oid::ID_SHA512 => HashAlg::Sha512,
        oid::ID_SHA1 => {
            return Err(SignatureError::UnsupportedAlgorithm(format!(
                "{what}: SHA-1 is rejected as weak"
            )))
        }
        other => {
            return Err(SignatureError::UnsupportedAlgorithm(format!(
                "{what}: hash algorithm {} is not allowed (SHA-256, SHA-384, SHA-512 are)",
                oid_name(&other)
            )))
        }
    };
    if ai.parameters.is_some_and(|p| !p.is_null()) {
        return Err(SignatureError::MalformedParameters(format!(
            "{what}: hash algorithm parameters must be NULL or absent"
        )));
    }
    Ok(hash)
}

/// Decodes and checks `RSASSA-PSS-params`; defaults (SHA-1, MGF1-SHA-1) are rejected as weak.
fn parse_pss_params(params: AnyRef<'_>) -> Result<PssParams, SignatureError> {
    let raw: RsaPssParamsDer<'_> = params
        .decode_as()
        .map_err(|e| SignatureError::MalformedParameters(format!("RSASSA-PSS-params: {e}")))?;
    let hash = match raw.hash {
        Some(ai) => hash_from_identifier(&ai, "RSASSA-PSS hashAlgorithm")?,
        None => return Err(SignatureError::UnsupportedAlgorithm(
            "RSASSA-PSS hashAlgorithm is absent, i.e. the default SHA-1, which is rejected as weak"
                .into(),
        )),
    };
    let mgf_hash = match raw.mask_gen {
        None => {
            return Err(SignatureError::UnsupportedAlgorithm(
                "RSASSA-PSS maskGenAlgorithm is absent, i.e. the default MGF1 with SHA-1, which is rejected as weak"
                    .into(),
            ))
        }
        Some(mgf) => {
            if mgf.oid != oid::ID_MGF1 {
                return Err(SignatureError::UnsupportedAlgorithm(format!(
                    "mask generation function {} is not supported (only MGF1 is)",
                    oid_name(&mgf.oid)
                )));
            }
            let Some(inner) = mgf.parameters else {
                return Err(SignatureError::MalformedParameters(
                    "MGF1 without its hash algorithm parameter".into(),
                ));
            };
            let inner: AlgorithmIdentifierRef<'_> = inner.decode_as().map_err(|e| {
                SignatureError::MalformedParameters(format!("MGF1 hash algorithm: {e}"))
            })?;
            hash_from_identifier(&inner, "MGF1 hash algorithm")?
        }
    };
    if let Some(trailer) = raw.trailer_field {
        if trailer != 1 {
            return Err(SignatureError::MalformedParameters(format!(
                "RSASSA-PSS trailerField must be 1 (trailerFieldBC), got {trailer}"
            )));
        }
    }
    let salt_len = usize::try_from(raw.salt_len.unwrap_or(20)).map_err(|_| {
        SignatureError::MalformedParameters("RSASSA-PSS saltLength does not fit".into())
    })?;
    Ok(PssParams {
        hash,
        mgf_hash,
        salt_len,
    })
}

/// RFC 4055 §3.1: a key whose SPKI carries RSASSA-PSS-params may only make signatures with the
/// same hash and MGF and a salt at least as long as the key's.
fn check_pss_restriction(key: &PssParams, sig: &PssParams) -> Result<(), SignatureError> {
    if key.hash != sig.hash {
        return Err(SignatureError::KeyAlgorithmMismatch(format!(
            "the key is restricted to RSASSA-PSS with {}, the signature uses {}",
            key.hash.name(),
            sig.hash.name()
        )));
    }
    if key.mgf_hash != sig.mgf_hash {
        return Err(SignatureError::KeyAlgorithmMismatch(format!(
            "the key is restricted to MGF1 with {}, the signature uses MGF1 with {}",
            key.mgf_hash.name(),
            sig.mgf_hash.name()
        )));
    }
    if sig.salt_len < key.salt_len {
        return Err(SignatureError::KeyAlgorithmMismatch(format!(
            "the key requires a salt of at least {} bytes, the signature has {}",
            key.salt_len, sig.salt_len
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }
}

struct EcKey<'a> {
    curve: Curve,
    /// SEC1 point encoding (uncompressed or compressed), length already checked.
    point: &'a [u8],
}

struct RsaKey<'a> {
    /// The `RSAPublicKey` DER (the SPKI's subjectPublicKey).
    pkcs1_der: &'a [u8],
    /// Modulus, big-endian, no leading zeros.
    modulus: &'a [u8],
    /// Public exponent, big-endian, no leading zeros.
    exponent: &'a [u8],
    /// Modulus length in bits.
    bits: usize,
    /// The SPKI algorithm is id-RSASSA-PSS: no PKCS#1 v1.5 signatures.
    pss_only: bool,
    /// RSASSA-PSS-params from the SPKI, if any.
    pss_restriction: Option<PssParams>,
}

impl RsaKey<'_> {
    /// `k`: the modulus length in bytes, i.e. the signature length.
    fn len_bytes(&self) -> usize {
        self.bits.div_ceil(8)
    }
}

fn key_bytes(spki: &SubjectPublicKeyInfoOwned) -> Result<&[u8], SignatureError> {
    spki.subject_public_key.as_bytes().ok_or_else(|| {
        SignatureError::MalformedKey("subjectPublicKey BIT STRING has unused bits".into())
    })
}

fn ec_key(spki: &SubjectPublicKeyInfoOwned) -> Result<EcKey<'_>, SignatureError> {
    let alg = &spki.algorithm;
    if alg.oid != oid::ID_EC_PUBLIC_KEY {
        return Err(SignatureError::KeyAlgorithmMismatch(format!(
            "an ECDSA signature needs an id-ecPublicKey key, the key is {}",
            oid_name(&alg.oid)
        )));
    }
    let Some(params) = alg.parameters.as_ref() else {
        return Err(SignatureError::MalformedKey(
            "id-ecPublicKey without curve parameters".into(),
        ));
    };
    let curve_oid: ObjectIdentifier =
        match params.tag() {
            Tag::ObjectIdentifier => params
                .decode_as()
                .map_err(|e| SignatureError::MalformedKey(format!("EC namedCurve OID: {e}")))?,
            Tag::Sequence => return Err(SignatureError::UnsupportedAlgorithm(
                "explicit EC domain parameters are not supported (RFC 5480 requires namedCurve)"
                    .into(),
            )),
            Tag::Null => {
                return Err(SignatureError::UnsupportedAlgorithm(
                    "implicitCurve EC parameters are not supported (RFC 5480 requires namedCurve)"
                        .into(),
                ))
            }
            other => {
                return Err(SignatureError::MalformedKey(format!(
                    "EC key parameters have unexpected tag {other}"
                )))
            }
        };
    let curve = match curve_oid {
        oid::SECP256R1 => Curve::P256,
        oid::SECP384R1 => Curve::P384,
        oid::SECP521R1 => Curve::P521,
        other => {
            return Err(SignatureError::UnsupportedAlgorithm(format!(
                "elliptic curve {} is not supported (P-256, P-384, P-521 are)",
                oid_name(&other)
            )))
        }
    };
    let point = key_bytes(spki)?;
    let width = curve.field_len();
    let well_sized = match point.first() {
        Some(0x04) => point.len() == 1 + 2 * width,
        Some(0x02 | 0x03) => point.len() == 1 + width,
        _ => false,
    };
    if !well_sized {
        return Err(SignatureError::MalformedKey(format!(
            "not a SEC1 uncompressed or compressed {} point ({} bytes)",
            curve.name(),
            point.len()
        )));
    }
    Ok(EcKey { curve, point })
}

fn rsa_key<'a>(
    policy: &SignaturePolicy,
    spki: &'a SubjectPublicKeyInfoOwned,
) -> Result<RsaKey<'a>, SignatureError> {
    let alg = &spki.algorithm;
    let params = alg.parameters.as_ref().map(der::asn1::Any::to_ref);
    let (pss_only, pss_restriction) =
        match alg.oid {
            oid::RSA_ENCRYPTION => {
                if !params.is_some_and(|p| p.is_null()) {
                    return Err(SignatureError::MalformedKey(
                        "rsaEncryption key parameters must be NULL (RFC 3279 §2.3.1)".into(),
                    ));
                }
                (false, None)
            }
            oid::ID_RSASSA_PSS => match params {
                None => (true, None),
                Some(p) if p.is_null() => return Err(SignatureError::MalformedKey(
                    "id-RSASSA-PSS key parameters must be absent or RSASSA-PSS-params, not NULL"
                        .into(),
                )),
                Some(p) => (true, Some(parse_pss_params(p)?)),
            },
            other => {
                return Err(SignatureError::KeyAlgorithmMismatch(format!(
                    "an RSA signature needs an rsaEncryption or id-RSASSA-PSS key, the key is {}",
                    oid_name(&other)
                )))
            }
        };
    let pkcs1_der = key_bytes(spki)?;
    let parsed = RsaPublicKeyDer::from_der(pkcs1_der)
        .map_err(|e| SignatureError::MalformedKey(format!("RSAPublicKey: {e}")))?;
    let modulus = parsed.modulus.as_bytes();
    let exponent = parsed.public_exponent.as_bytes();
    let (Some(&n_first), Some(&n_last)) = (modulus.first(), modulus.last()) else {
        return Err(SignatureError::MalformedKey("RSA modulus is zero".into()));
    };
    if n_first == 0 {
        return Err(SignatureError::MalformedKey("RSA modulus is zero".into()));
    }
    let bits = (modulus.len() - 1) * 8 + (8 - n_first.leading_zeros() as usize);
    if bits < policy.min_rsa_bits {
        return Err(SignatureError::WeakKey(format!(
            "RSA modulus has {bits} bits, the policy minimum is {}",
            policy.min_rsa_bits
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(SignatureError::WeakKey(format!(
            "RSA modulus has {bits} bits, more than the supported maximum {MAX_RSA_BITS}"
        )));
    }
    if n_last & 1 == 0 {
        return Err(SignatureError::MalformedKey("RSA modulus is even".into()));
    }
    // e odd, 3 <= e < 2^33 (the bound aws-lc and the `rsa` crate share).
    let e_ok = match (exponent.first(), exponent.last()) {
        (Some(_), Some(&last)) => {
            last & 1 == 1
                && (exponent.len() > 1 || last >= 3)
                && (exponent.len() < 5 || (exponent.len() == 5 && exponent[0] < 2))
        }
        _ => false,
    };
    if !e_ok {
        return Err(SignatureError::MalformedKey(
            "RSA public exponent must be odd, at least 3 and below 2^33".into(),
        ));
    }
    Ok(RsaKey {
        pkcs1_der,
        modulus,
        exponent,
        bits,
        pss_only,
        pss_restriction,
    })
}

// ---------------------------------------------------------------------------------------------
// ECDSA
// ---------------------------------------------------------------------------------------------

fn ecdsa_algorithm(curve: Curve, hash: HashAlg) -> &'static dyn VerificationAlgorithm {
    match (curve, hash) {
        (Curve::P256, HashAlg::Sha256) => &lc::ECDSA_P256_SHA256_ASN1,
        (Curve::P256, HashAlg::Sha384) => &lc::ECDSA_P256_SHA384_ASN1,
        (Curve::P256, HashAlg::Sha512) => &lc::ECDSA_P256_SHA512_ASN1,
        (Curve::P384, HashAlg::Sha256) => &lc::ECDSA_P384_SHA256_ASN1,
        (Curve::P384, HashAlg::Sha384) => &lc::ECDSA_P384_SHA384_ASN1,
        (Curve::P384, HashAlg::Sha512) => &lc::ECDSA_P384_SHA512_ASN1,
        (Curve::P521, HashAlg::Sha256) => &lc::ECDSA_P521_SHA256_ASN1,
        (Curve::P521, HashAlg::Sha384) => &lc::ECDSA_P521_SHA384_ASN1,
        (Curve::P521, HashAlg::Sha512) => &lc::ECDSA_P521_SHA512_ASN1,
    }
}

/// Checks that `signature` is exactly one DER `SEQUENCE { INTEGER r, INTEGER s }` with
/// minimal, non-negative integers and nothing after it.
fn check_ecdsa_der(signature: &[u8]) -> Result<(), SignatureError> {
    EcdsaSigDer::from_der(signature)
        .map(|_| ())
        .map_err(|e| SignatureError::MalformedSignature(format!("ECDSA signature is not DER: {e}")))
}

fn ecdsa_verify(
    key: &EcKey<'_>,
    hash: HashAlg,
    message: &[u8],
    der_signature: &[u8],
) -> Result<(), SignatureError> {
    let public_key = ParsedPublicKey::new(ecdsa_algorithm(key.curve, hash), key.point)
        .map_err(|e| SignatureError::MalformedKey(format!("{} point: {e}", key.curve.name())))?;
    public_key
        .verify_sig(message, der_signature)
        .map_err(|_| SignatureError::Invalid)
}

/// DER-encodes `r‖s` halves as `Ecdsa-Sig-Value` (unsigned big-endian → minimal INTEGERs).
fn p1363_to_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(out: &mut Vec<u8>, bytes: &[u8]) {
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let digits = &bytes[start..];
        let pad = digits.first().is_none_or(|&b| b & 0x80 != 0);
        out.push(0x02);
        push_der_len(out, digits.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }
    let mut body = Vec::with_capacity(r.len() + s.len() + 6);
    integer(&mut body, r);
    integer(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(0x30);
    push_der_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Appends a DER length (short or long form).
fn push_der_len(out: &mut Vec<u8>, len: usize) {
    let bytes = len.to_be_bytes();
    // The significant big-endian bytes; one zero byte for len == 0.
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let significant = &bytes[start..];
    if len >= 0x80 {
        // At most size_of::<usize>() (≤ 16) length bytes: the count fits the low 7 bits.
        out.push(0x80 | significant.len() as u8);
    }
    out.extend_from_slice(significant);
}

// ---------------------------------------------------------------------------------------------
// RSA
// ---------------------------------------------------------------------------------------------

/// The modulus sizes for which aws-lc-rs' fixed RSA algorithms apply.
fn aws_lc_rsa_range(bits: usize) -> bool {
    (2048..=8192).contains(&bits)
}

fn check_rsa_signature_len(key: &RsaKey<'_>, signature: &[u8]) -> Result<(), SignatureError> {
    if signature.len() != key.len_bytes() {
        return Err(SignatureError::MalformedSignature(format!(
            "an RSA signature for a {}-bit key is {} bytes, got {}",
            key.bits,
            key.len_bytes(),
            signature.len()
        )));
    }
    Ok(())
}

fn aws_lc_rsa_verify(
    algorithm: &'static lc::RsaParameters,
    key: &RsaKey<'_>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let public_key = ParsedPublicKey::new(algorithm, key.pkcs1_der)
        .map_err(|e| SignatureError::MalformedKey(format!("RSA public key: {e}")))?;
    public_key
        .verify_sig(message, signature)
        .map_err(|_| SignatureError::Invalid)
}

fn rsa_pkcs1_verify(
    key: &RsaKey<'_>,
    hash: HashAlg,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    check_rsa_signature_len(key, signature)?;
    if aws_lc_rsa_range(key.bits) {
        let algorithm = match hash {
            HashAlg::Sha256 => &lc::RSA_PKCS1_2048_8192_SHA256,
            HashAlg::Sha384 => &lc::RSA_PKCS1_2048_8192_SHA384,
            HashAlg::Sha512 => &lc::RSA_PKCS1_2048_8192_SHA512,
        };
        return aws_lc_rsa_verify(algorithm, key, message, signature);
    }
    // RFC 8017 §8.2.2: encode the expected EM and compare; never parse the recovered one.
    let k = key.len_bytes();
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + hash.output_len();
    if k < t_len + 11 {
        return Err(SignatureError::WeakKey(format!(
            "a {}-bit RSA key is too short for PKCS#1 v1.5 with {}",
            key.bits,
            hash.name()
        )));
    }
    let mut expected = Vec::with_capacity(k);
    expected.extend_from_slice(&[0x00, 0x01]);
    expected.resize(k - t_len - 1, 0xff);
    expected.push(0x00);
    expected.extend_from_slice(prefix);
    expected.extend_from_slice(&hash.digest(&[message]));
    let recovered = rsa_public_op(key, signature)?;
    if recovered == expected {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

fn rsa_pss_verify(
    key: &RsaKey<'_>,
    params: &PssParams,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    check_rsa_signature_len(key, signature)?;
    let h_len = params.hash.output_len();
    let em_bits = key.bits - 1;
    let em_len = em_bits.div_ceil(8);
    if em_len < h_len + params.salt_len + 2 {
        return Err(SignatureError::MalformedParameters(format!(
            "RSASSA-PSS saltLength {} is too long for a {}-bit key with {}",
            params.salt_len,
            key.bits,
            params.hash.name()
        )));
    }
    if params.mgf_hash == params.hash && params.salt_len == h_len && aws_lc_rsa_range(key.bits) {
        let algorithm = match params.hash {
            HashAlg::Sha256 => &lc::RSA_PSS_2048_8192_SHA256,
            HashAlg::Sha384 => &lc::RSA_PSS_2048_8192_SHA384,
            HashAlg::Sha512 => &lc::RSA_PSS_2048_8192_SHA512,
        };
        return aws_lc_rsa_verify(algorithm, key, message, signature);
    }

    // RSAVP1, then EMSA-PSS-VERIFY (RFC 8017 §8.1.2 step 2, §9.1.2).
    let recovered = rsa_public_op(key, signature)?;
    // I2OSP(m, emLen): when emLen = k - 1 the top octet must be zero.
    let (top, em) = recovered.split_at(recovered.len() - em_len);
    if top.iter().any(|&b| b != 0) {
        return Err(SignatureError::Invalid);
    }
    let m_hash = params.hash.digest(&[message]);
    // Step 4.
    let Some((&0xbc, rest)) = em.split_last() else {
        return Err(SignatureError::Invalid);
    };
    // Step 5.
    let (masked_db, h) = rest.split_at(em_len - h_len - 1);
    // Step 6: the leftmost 8·emLen − emBits bits of maskedDB must be zero.
    let unused_bits = 8 * em_len - em_bits;
    let top_mask: u8 = 0xff >> unused_bits;
    if masked_db.first().is_some_and(|&b| b & !top_mask != 0) {
        return Err(SignatureError::Invalid);
    }
    // Steps 7–9.
    let db_mask = mgf1(params.mgf_hash, h, masked_db.len());
    let mut db: Vec<u8> = masked_db.iter().zip(&db_mask).map(|(a, b)| a ^ b).collect();
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    // Step 10: PS = zeros, then 0x01, then the salt.
    let ps_len = em_len - h_len - params.salt_len - 2;
    let (ps, rest) = db.split_at(ps_len);
    let Some((&0x01, salt)) = rest.split_first() else {
        return Err(SignatureError::Invalid);
    };
    if ps.iter().any(|&b| b != 0) {
        return Err(SignatureError::Invalid);
    }
    // Steps 12–14.
    let h_prime = params.hash.digest(&[&[0u8; 8], &m_hash, salt]);
    if h_prime == h {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

/// MGF1 (RFC 8017 B.2.1).
fn mgf1(hash: HashAlg, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.output_len());
    let mut counter: u32 = 0;
    while out.len() < len {
        out.extend_from_slice(&hash.digest(&[seed, &counter.to_be_bytes()]));
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    out
}

/// RSAVP1 (RFC 8017 §5.2.2): `s^e mod n` as exactly `k` bytes; `s` must be below `n`.
fn rsa_public_op(key: &RsaKey<'_>, signature: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let malformed = |what: &str| SignatureError::MalformedKey(format!("RSA public key: {what}"));
    let n_bits = u32::try_from(key.modulus.len() * 8).map_err(|_| malformed("modulus too long"))?;
    let e_bits =
        u32::try_from(key.exponent.len() * 8).map_err(|_| malformed("exponent too long"))?;
    let n = BoxedUint::from_be_slice(key.modulus, n_bits).map_err(|_| malformed("modulus"))?;
    let e = BoxedUint::from_be_slice(key.exponent, e_bits).map_err(|_| malformed("exponent"))?;
    let public_key = rsa::RsaPublicKey::new_with_size_limits(n, e, 1..=MAX_RSA_BITS)
        .map_err(|err| malformed(&err.to_string()))?;
    let s = BoxedUint::from_be_slice(signature, public_key.n_bits_precision()).map_err(|_| {
        SignatureError::MalformedSignature("RSA signature longer than the modulus".into())
    })?;
    if s >= *public_key.n().as_ref() {
        // "signature representative out of range"
        return Err(SignatureError::Invalid);
    }
    let m = rsa::hazmat::rsa_encrypt(&public_key, &s).map_err(|_| SignatureError::Invalid)?;
    let bytes = m.to_be_bytes();
    let k = key.len_bytes();
    // m < n, so everything above the low k bytes is zero; be defensive anyway.
    let cut = bytes.len().checked_sub(k).ok_or(SignatureError::Invalid)?;
    let (high, low) = bytes.split_at(cut);
    if high.iter().any(|&b| b != 0) {
        return Err(SignatureError::Invalid);
    }
    Ok(low.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaPssSaltLength, RsaSignatureEncoding};
    use der::asn1::{Any, BitString};
    use der::Encode;
    use std::path::Path;
    use std::process::Command;

    const MSG: &[u8] = b"tokenconfirm: confirm account 42 for https://portal.example";

    // ----- DER building helpers ------------------------------------------------------------

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        push_der_len(&mut out, content.len());
        out.extend_from_slice(content);
        out
    }

    fn oid_der(oid: ObjectIdentifier) -> Vec<u8> {
        oid.to_der().expect("encode OID")
    }

    fn hash_oid(hash: HashAlg) -> ObjectIdentifier {
        match hash {
            HashAlg::Sha256 => oid::ID_SHA256,
            HashAlg::Sha384 => oid::ID_SHA384,
            HashAlg::Sha512 => oid::ID_SHA512,
        }
    }

    /// AlgorithmIdentifier { hash, NULL }.
    fn hash_ai(oid: ObjectIdentifier) -> Vec<u8> {
        tlv(0x30, &[oid_der(oid), vec![0x05, 0x00]].concat())
    }

    fn integer(value: u32) -> Vec<u8> {
        let bytes = value.to_be_bytes();
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(3);
        let mut digits = bytes[start..].to_vec();
        if digits[0] & 0x80 != 0 {
            digits.insert(0, 0);
        }
        tlv(0x02, &digits)
    }

    fn pss_params_der(hash: HashAlg, mgf: HashAlg, salt: u32) -> Vec<u8> {
        let mgf_ai = tlv(
            0x30,
            &[oid_der(oid::ID_MGF1), hash_ai(hash_oid(mgf))].concat(),
        );
        tlv(
            0x30,
            &[
                tlv(0xa0, &hash_ai(hash_oid(hash))),
                tlv(0xa1, &mgf_ai),
                tlv(0xa2, &integer(salt)),
            ]
            .concat(),
        )
    }

    fn alg(oid: ObjectIdentifier, params_der: Option<&[u8]>) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid,
            parameters: params_der.map(|der| Any::from_der(der).expect("params DER")),
        }
    }

    fn pss_alg(hash: HashAlg, mgf: HashAlg, salt: u32) -> AlgorithmIdentifierOwned {
        alg(oid::ID_RSASSA_PSS, Some(&pss_params_der(hash, mgf, salt)))
    }

    fn spki(
        oid: ObjectIdentifier,
        params_der: Option<&[u8]>,
        key: &[u8],
    ) -> SubjectPublicKeyInfoOwned {
        SubjectPublicKeyInfoOwned {
            algorithm: alg(oid, params_der),
            subject_public_key: BitString::from_bytes(key).expect("bit string"),
        }
    }

    fn ec_spki(curve: ObjectIdentifier, point: &[u8]) -> SubjectPublicKeyInfoOwned {
        spki(oid::ID_EC_PUBLIC_KEY, Some(&oid_der(curve)), point)
    }

    fn rsa_spki(pkcs1: &[u8]) -> SubjectPublicKeyInfoOwned {
        spki(oid::RSA_ENCRYPTION, Some(&[0x05, 0x00]), pkcs1)
    }

    fn code(r: Result<(), SignatureError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    fn flip_last(bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        if let Some(b) = out.last_mut() {
            *b ^= 1;
        }
        out
    }

    // ----- key material (generated at test time) -------------------------------------------

    fn ec_key_pair(signing: &'static lc::EcdsaSigningAlgorithm) -> (EcdsaKeyPair, SystemRandom) {
        (
            EcdsaKeyPair::generate(signing).expect("EC keygen"),
            SystemRandom::new(),
        )
    }

    struct Rsa {
        pair: lc::RsaKeyPair,
        spki: SubjectPublicKeyInfoOwned,
    }

    fn rsa_2048() -> Rsa {
        let pair = lc::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA keygen");
        let spki = rsa_spki(pair.public_key().as_ref());
        Rsa { pair, spki }
    }

    fn rsa_sign(rsa: &Rsa, encoding: &'static dyn lc::RsaEncoding, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; rsa.pair.public_modulus_len()];
        rsa.pair
            .sign(encoding, &SystemRandom::new(), msg, &mut sig)
            .expect("RSA sign");
        sig
    }

    /// Runs the `openssl` CLI in `dir`; panics with its stderr on failure.
    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl CLI is needed for this test");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An RSA key of `bits` made by OpenSSL: (dir, SPKI) with the private key at `key.pem`.
    fn openssl_rsa(bits: u32) -> (tempfile::TempDir, SubjectPublicKeyInfoOwned) {
        let dir = tempfile::tempdir().expect("tempdir");
        let bits_opt = format!("rsa_keygen_bits:{bits}");
        openssl(
            dir.path(),
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &bits_opt,
                "-out",
                "key.pem",
            ],
        );
        openssl(
            dir.path(),
            &[
                "pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der",
            ],
        );
        std::fs::write(dir.path().join("msg"), MSG).expect("write msg");
        let der = std::fs::read(dir.path().join("pub.der")).expect("read pub.der");
        let spki = SubjectPublicKeyInfoOwned::from_der(&der).expect("SPKI from openssl");
        (dir, spki)
    }

    fn openssl_sign(dir: &Path, digest: &str, sigopts: &[&str]) -> Vec<u8> {
        let mut args = vec!["dgst", digest, "-sign", "key.pem", "-out", "sig"];
        for opt in sigopts {
            args.push("-sigopt");
            args.push(opt);
        }
        args.push("msg");
        openssl(dir, &args);
        std::fs::read(dir.join("sig")).expect("read sig")
    }

    // ----- ECDSA ---------------------------------------------------------------------------

    #[test]
    fn ecdsa_p256_sha256_der_accepts_and_rejects() {
        let (pair, rng) = ec_key_pair(&lc::ECDSA_P256_SHA256_ASN1_SIGNING);
        let sig = pair.sign(&rng, MSG).expect("sign");
        let key = ec_spki(oid::SECP256R1, pair.public_key().as_ref());
        let policy = SignaturePolicy::default();
        let a = alg(oid::ECDSA_WITH_SHA256, None);
        assert_eq!(verify(&policy, &key, &a, MSG, sig.as_ref()), Ok(()));
        assert_eq!(
            verify(&policy, &key, &a, b"another message", sig.as_ref()),
            Err(SignatureError::Invalid)
        );
        // Right curve, wrong hash.
        let a384 = alg(oid::ECDSA_WITH_SHA384, None);
        assert_eq!(
            verify(&policy, &key, &a384, MSG, sig.as_ref()),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn ecdsa_p384_and_p521_der() {
        let policy = SignaturePolicy::default();
        for (signing, curve, sig_oid) in [
            (
                &lc::ECDSA_P384_SHA384_ASN1_SIGNING,
                oid::SECP384R1,
                oid::ECDSA_WITH_SHA384,
            ),
            (
                &lc::ECDSA_P521_SHA512_ASN1_SIGNING,
                oid::SECP521R1,
                oid::ECDSA_WITH_SHA512,
            ),
            // The ECDSA OID does not fix the curve: P-521 with SHA-256 is fine.
            (
                &lc::ECDSA_P521_SHA256_ASN1_SIGNING,
                oid::SECP521R1,
                oid::ECDSA_WITH_SHA256,
            ),
        ] {
            let (pair, rng) = ec_key_pair(signing);
            let sig = pair.sign(&rng, MSG).expect("sign");
            let key = ec_spki(curve, pair.public_key().as_ref());
            let a = alg(sig_oid, None);
            assert_eq!(verify(&policy, &key, &a, MSG, sig.as_ref()), Ok(()));
            assert_eq!(
                verify(&policy, &key, &a, &flip_last(MSG), sig.as_ref()),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[test]
    fn ecdsa_compressed_point_is_accepted() {
        let (pair, rng) = ec_key_pair(&lc::ECDSA_P256_SHA256_ASN1_SIGNING);
        let sig = pair.sign(&rng, MSG).expect("sign");
        let point = pair.public_key().as_ref();
        let mut compressed = vec![0x02 | (point[64] & 1)];
        compressed.extend_from_slice(&point[1..33]);
        let key = ec_spki(oid::SECP256R1, &compressed);
        let a = alg(oid::ECDSA_WITH_SHA256, None);
        assert_eq!(
            verify(&SignaturePolicy::default(), &key, &a, MSG, sig.as_ref()),
            Ok(())
        );
    }

    #[test]
    fn ecdsa_der_must_be_strict() {
        let (pair, rng) = ec_key_pair(&lc::ECDSA_P256_SHA256_ASN1_SIGNING);
        let sig = pair.sign(&rng, MSG).expect("sign").as_ref().to_vec();
        let key = ec_spki(oid::SECP256R1, pair.public_key().as_ref());
        let a = alg(oid::ECDSA_WITH_SHA256, None);
        let policy = SignaturePolicy::default();
        // Trailing garbage.
        let mut trailing = sig.clone();
        trailing.push(0);
        assert_eq!(
            code(verify(&policy, &key, &a, MSG, &trailing)),
            "malformed-signature"
        );
        // Non-minimal INTEGER: re-encode r with an extra leading zero.
        let parsed = EcdsaSigDer::from_der(&sig).expect("own signature parses");
        let r = parsed.r.as_bytes();
        let s = parsed.s.as_bytes();
        let mut r_padded = vec![0u8, 0u8];
        r_padded.extend_from_slice(r);
        let s_int = if s[0] & 0x80 != 0 {
            [&[0u8][..], s].concat()
        } else {
            s.to_vec()
        };
        let bad = tlv(0x30, &[tlv(0x02, &r_padded), tlv(0x02, &s_int)].concat());
        assert_eq!(
            code(verify(&policy, &key, &a, MSG, &bad)),
            "malformed-signature"
        );
        // Long-form length where the short form fits (BER).
        let mut ber = vec![0x30, 0x81];
        ber.extend_from_slice(&sig[1..]);
        assert_eq!(
            code(verify(&policy, &key, &a, MSG, &ber)),
            "malformed-signature"
        );
        // Empty and P1363-shaped input.
        assert_eq!(
            code(verify(&policy, &key, &a, MSG, &[])),
            "malformed-signature"
        );
        assert_eq!(
            code(verify(&policy, &key, &a, MSG, &[0x11; 64])),
            "malformed-signature"
        );
    }

    #[test]
    fn ecdsa_p1363_accepts_and_rejects() {
        for (signing, curve, hash, width) in [
            (
                &lc::ECDSA_P256_SHA256_FIXED_SIGNING,
                oid::SECP256R1,
                HashAlg::Sha256,
                32,
            ),
            (
                &lc::ECDSA_P384_SHA384_FIXED_SIGNING,
                oid::SECP384R1,
                HashAlg::Sha384,
                48,
            ),
            (
                &lc::ECDSA_P521_SHA512_FIXED_SIGNING,
                oid::SECP521R1,
                HashAlg::Sha512,
                66,
            ),
        ] {
            let (pair, rng) = ec_key_pair(signing);
            let sig = pair.sign(&rng, MSG).expect("sign").as_ref().to_vec();
            assert_eq!(sig.len(), 2 * width);
            let key = ec_spki(curve, pair.public_key().as_ref());
            assert_eq!(verify_ecdsa_p1363(&key, hash, MSG, &sig), Ok(()));
            assert_eq!(
                verify_ecdsa_p1363(&key, hash, &flip_last(MSG), &sig),
                Err(SignatureError::Invalid)
            );
            assert_eq!(
                code(verify_ecdsa_p1363(&key, hash, MSG, &sig[1..])),
                "malformed-signature"
            );
            // r = 0 and s = 0 are never valid.
            assert_eq!(
                verify_ecdsa_p1363(&key, hash, MSG, &vec![0u8; 2 * width]),
                Err(SignatureError::Invalid)
            );
        }
    }

    #[test]
    fn p1363_to_der_encodes_minimal_integers() {
        assert_eq!(
            p1363_to_der(&[0, 0, 0x7f], &[0x80, 0, 1]),
            vec![0x30, 0x09, 0x02, 0x01, 0x7f, 0x02, 0x04, 0x00, 0x80, 0x00, 0x01]
        );
        assert_eq!(
            p1363_to_der(&[0, 0], &[0, 1]),
            vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01]
        );
        // P-521 sizes need the long length form.
        let der = p1363_to_der(&[0xff; 66], &[0xff; 66]);
        assert_eq!(&der[..3], &[0x30, 0x81, 0x8a]);
        assert!(EcdsaSigDer::from_der(&der).is_ok());
    }

    #[test]
    fn ecdsa_key_and_parameter_errors() {
        let (pair, rng) = ec_key_pair(&lc::ECDSA_P256_SHA256_ASN1_SIGNING);
        let sig = pair.sign(&rng, MSG).expect("sign");
        let policy = SignaturePolicy::default();
        let point = pair.public_key().as_ref();
        let key = ec_spki(oid::SECP256R1, point);
        // Parameters on an ECDSA signature algorithm, even NULL.
        let with_null = alg(oid::ECDSA_WITH_SHA256, Some(&[0x05, 0x00]));
        assert_eq!(
            code(verify(&policy, &key, &with_null, MSG, sig.as_ref())),
            "malformed-parameters"
        );
        let a = alg(oid::ECDSA_WITH_SHA256, None);
        // The point declared on the wrong curve.
        let wrong_curve = ec_spki(oid::SECP384R1, point);
        assert_eq!(
            code(verify(&policy, &wrong_curve, &a, MSG, sig.as_ref())),
            "malformed-key"
        );
        // A point that is not on the curve.
        let mut off_curve = point.to_vec();
        off_curve[64] ^= 1;
        let off = ec_spki(oid::SECP256R1, &off_curve);
        assert_eq!(
            code(verify(&policy, &off, &a, MSG, sig.as_ref())),
            "malformed-key"
        );
        // Unsupported curve (secp256k1), explicit parameters, missing parameters.
        let k1 = ec_spki(ObjectIdentifier::new_unwrap("1.3.132.0.10"), point);
        assert_eq!(
            code(verify(&policy, &k1, &a, MSG, sig.as_ref())),
            "unsupported-algorithm"
        );
        let explicit = spki(oid::ID_EC_PUBLIC_KEY, Some(&[0x30, 0x00]), point);
        assert_eq!(
            code(verify(&policy, &explicit, &a, MSG, sig.as_ref())),
            "unsupported-algorithm"
        );
        let missing = spki(oid::ID_EC_PUBLIC_KEY, None, point);
        assert_eq!(
            code(verify(&policy, &missing, &a, MSG, sig.as_ref())),
            "malformed-key"
        );
        // An ECDSA signature with an RSA key, and an RSA signature with an EC key.
        let rsa = rsa_2048();
        assert_eq!(
            code(verify(&policy, &rsa.spki, &a, MSG, sig.as_ref())),
            "key-algorithm-mismatch"
        );
        assert_eq!(
            code(verify_ecdsa_p1363(
                &rsa.spki,
                HashAlg::Sha256,
                MSG,
                &[0; 64]
            )),
            "key-algorithm-mismatch"
        );
        let pkcs1 = alg(oid::SHA256_WITH_RSA, Some(&[0x05, 0x00]));
        assert_eq!(
            code(verify(&policy, &key, &pkcs1, MSG, sig.as_ref())),
            "key-algorithm-mismatch"
        );
    }

    // ----- RSA PKCS#1 v1.5 -----------------------------------------------------------------

    #[test]
    fn rsa_pkcs1_accepts_and_rejects() {
        let rsa = rsa_2048();
        let policy = SignaturePolicy::default();
        for (encoding, sig_oid) in [
            (&lc::RSA_PKCS1_SHA256, oid::SHA256_WITH_RSA),
            (&lc::RSA_PKCS1_SHA384, oid::SHA384_WITH_RSA),
            (&lc::RSA_PKCS1_SHA512, oid::SHA512_WITH_RSA),
        ] {
            let sig = rsa_sign(&rsa, encoding, MSG);
            for params in [Some(&[0x05u8, 0x00][..]), None] {
                let a = alg(sig_oid, params);
                assert_eq!(verify(&policy, &rsa.spki, &a, MSG, &sig), Ok(()));
                assert_eq!(
                    verify(&policy, &rsa.spki, &a, MSG, &flip_last(&sig)),
                    Err(SignatureError::Invalid)
                );
            }
            let bad_params = alg(sig_oid, Some(&[0x02, 0x01, 0x00]));
            assert_eq!(
                code(verify(&policy, &rsa.spki, &bad_params, MSG, &sig)),
                "malformed-parameters"
            );
            let a = alg(sig_oid, None);
            assert_eq!(
                code(verify(&policy, &rsa.spki, &a, MSG, &sig[1..])),
                "malformed-signature"
            );
        }
        // A PKCS#1 signature is not a PSS signature.
        let sig = rsa_sign(&rsa, &lc::RSA_PKCS1_SHA256, MSG);
        let pss = pss_alg(HashAlg::Sha256, HashAlg::Sha256, 32);
        assert_eq!(
            verify(&policy, &rsa.spki, &pss, MSG, &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn rsa_policy_minimum_gives_weak_key() {
        let rsa = rsa_2048();
        let sig = rsa_sign(&rsa, &lc::RSA_PKCS1_SHA256, MSG);
        let a = alg(oid::SHA256_WITH_RSA, None);
        let strict = SignaturePolicy { min_rsa_bits: 3072 };
        assert_eq!(code(verify(&strict, &rsa.spki, &a, MSG, &sig)), "weak-key");
        // A 1024-bit modulus (the math is never reached).
        let mut n = vec![0x00, 0xc5];
        n.extend(std::iter::repeat_n(0x5a, 126));
        n.push(0x01);
        let pkcs1 = tlv(
            0x30,
            &[tlv(0x02, &n), tlv(0x02, &[0x01, 0x00, 0x01])].concat(),
        );
        let small = rsa_spki(&pkcs1);
        assert_eq!(
            code(verify(
                &SignaturePolicy::default(),
                &small,
                &a,
                MSG,
                &[0; 128]
            )),
            "weak-key"
        );
    }

    #[test]
    fn rsa_key_errors() {
        let rsa = rsa_2048();
        let sig = rsa_sign(&rsa, &lc::RSA_PKCS1_SHA256, MSG);
        let policy = SignaturePolicy::default();
        let a = alg(oid::SHA256_WITH_RSA, None);
        let pkcs1 = rsa.pair.public_key().as_ref();
        // rsaEncryption without NULL parameters.
        let absent = spki(oid::RSA_ENCRYPTION, None, pkcs1);
        assert_eq!(
            code(verify(&policy, &absent, &a, MSG, &sig)),
            "malformed-key"
        );
        // Garbage instead of RSAPublicKey.
        let garbage = rsa_spki(&[0x30, 0x03, 0x02, 0x01, 0x05]);
        assert_eq!(
            code(verify(&policy, &garbage, &a, MSG, &sig)),
            "malformed-key"
        );
        // Even exponent.
        let parsed = RsaPublicKeyDer::from_der(pkcs1).expect("own key parses");
        let mut n = vec![0u8];
        n.extend_from_slice(parsed.modulus.as_bytes());
        let even_e = tlv(
            0x30,
            &[tlv(0x02, &n), tlv(0x02, &[0x01, 0x00, 0x00])].concat(),
        );
        assert_eq!(
            code(verify(&policy, &rsa_spki(&even_e), &a, MSG, &sig)),
            "malformed-key"
        );
        // An EC key OID on an RSA signature.
        let ec = spki(oid::ID_EC_PUBLIC_KEY, Some(&oid_der(oid::SECP256R1)), pkcs1);
        assert_eq!(
            code(verify(&policy, &ec, &a, MSG, &sig)),
            "key-algorithm-mismatch"
        );
    }

    /// Keys outside aws-lc-rs' 2048–8192 window take the encode-and-compare path; check it
    /// against OpenSSL with a 1024-bit key and a lowered policy.
    #[test]
    fn rsa_pkcs1_generic_path_matches_openssl() {
        let (dir, key) = openssl_rsa(1024);
        let legacy = SignaturePolicy { min_rsa_bits: 1024 };
        for (digest, sig_oid) in [
            ("-sha256", oid::SHA256_WITH_RSA),
            ("-sha384", oid::SHA384_WITH_RSA),
            ("-sha512", oid::SHA512_WITH_RSA),
        ] {
            let sig = openssl_sign(dir.path(), digest, &[]);
            let a = alg(sig_oid, Some(&[0x05, 0x00]));
            assert_eq!(verify(&legacy, &key, &a, MSG, &sig), Ok(()), "{digest}");
            assert_eq!(
                verify(&legacy, &key, &a, &flip_last(MSG), &sig),
                Err(SignatureError::Invalid)
            );
            assert_eq!(
                verify(&legacy, &key, &a, MSG, &flip_last(&sig)),
                Err(SignatureError::Invalid)
            );
            assert_eq!(
                code(verify(&SignaturePolicy::default(), &key, &a, MSG, &sig)),
                "weak-key"
            );
        }
    }

    // ----- RSA-PSS -------------------------------------------------------------------------

    #[test]
    fn rsa_pss_fast_path_accepts_and_rejects() {
        let rsa = rsa_2048();
        let policy = SignaturePolicy::default();
        for (encoding, hash) in [
            (&lc::RSA_PSS_SHA256, HashAlg::Sha256),
            (&lc::RSA_PSS_SHA384, HashAlg::Sha384),
            (&lc::RSA_PSS_SHA512, HashAlg::Sha512),
        ] {
            let sig = rsa_sign(&rsa, encoding, MSG);
            let salt = u32::try_from(hash.output_len()).expect("small");
            let a = pss_alg(hash, hash, salt);
            assert_eq!(verify(&policy, &rsa.spki, &a, MSG, &sig), Ok(()));
            assert_eq!(
                verify(&policy, &rsa.spki, &a, &flip_last(MSG), &sig),
                Err(SignatureError::Invalid)
            );
            // Same signature, different declared salt length: the generic path must refuse.
            let other_salt = pss_alg(hash, hash, salt - 1);
            assert_eq!(
                verify(&policy, &rsa.spki, &other_salt, MSG, &sig),
                Err(SignatureError::Invalid)
            );
            // A PSS signature is not a PKCS#1 v1.5 signature.
            let pkcs1 = alg(oid::SHA256_WITH_RSA, None);
            assert_eq!(
                verify(&policy, &rsa.spki, &pkcs1, MSG, &sig),
                Err(SignatureError::Invalid)
            );
        }
    }

    /// Salt length 0 (deterministic PSS): signed by aws-lc, verified on the generic path.
    #[test]
    fn rsa_pss_generic_path_salt_zero() {
        const PSS_SHA256_SALT0: RsaSignatureEncoding =
            lc::RSA_PSS_SHA256.with_pss_salt_length(RsaPssSaltLength::Custom(0));
        let rsa = rsa_2048();
        let policy = SignaturePolicy::default();
        let sig = rsa_sign(&rsa, &PSS_SHA256_SALT0, MSG);
        let a = pss_alg(HashAlg::Sha256, HashAlg::Sha256, 0);
        assert_eq!(verify(&policy, &rsa.spki, &a, MSG, &sig), Ok(()));
        assert_eq!(
            verify(&policy, &rsa.spki, &a, &flip_last(MSG), &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&policy, &rsa.spki, &a, MSG, &flip_last(&sig)),
            Err(SignatureError::Invalid)
        );
        let salt32 = pss_alg(HashAlg::Sha256, HashAlg::Sha256, 32);
        assert_eq!(
            verify(&policy, &rsa.spki, &salt32, MSG, &sig),
            Err(SignatureError::Invalid)
        );
    }

    /// MGF1 hash ≠ message hash and odd salt lengths, signed by OpenSSL; also an odd modulus
    /// size (2050 bits: emLen = k) and one where emBits is a multiple of 8 (2049: emLen = k−1).
    #[test]
    fn rsa_pss_generic_path_matches_openssl() {
        let policy = SignaturePolicy::default();
        for bits in [2049, 2050] {
            let (dir, key) = openssl_rsa(bits);
            for (digest, hash, mgf_name, mgf, salt) in [
                ("-sha256", HashAlg::Sha256, "sha512", HashAlg::Sha512, 17u32),
                ("-sha512", HashAlg::Sha512, "sha256", HashAlg::Sha256, 0),
                ("-sha384", HashAlg::Sha384, "sha384", HashAlg::Sha384, 100),
            ] {
                let mgf_opt = format!("rsa_mgf1_md:{mgf_name}");
                let salt_opt = format!("rsa_pss_saltlen:{salt}");
                let sig = openssl_sign(
                    dir.path(),
                    digest,
                    &["rsa_padding_mode:pss", &mgf_opt, &salt_opt],
                );
                let a = pss_alg(hash, mgf, salt);
                assert_eq!(
                    verify(&policy, &key, &a, MSG, &sig),
                    Ok(()),
                    "{bits} {digest} {mgf_name} {salt}"
                );
                assert_eq!(
                    verify(&policy, &key, &a, &flip_last(MSG), &sig),
                    Err(SignatureError::Invalid)
                );
                assert_eq!(
                    verify(&policy, &key, &pss_alg(hash, hash, salt), MSG, &sig).is_ok(),
                    mgf == hash
                );
                assert_eq!(
                    verify(&policy, &key, &pss_alg(hash, mgf, salt + 1), MSG, &sig),
                    Err(SignatureError::Invalid)
                );
            }
        }
    }

    #[test]
    fn rsa_pss_key_restrictions() {
        let rsa = rsa_2048();
        let policy = SignaturePolicy::default();
        let pkcs1 = rsa.pair.public_key().as_ref();
        let sig = rsa_sign(&rsa, &lc::RSA_PSS_SHA256, MSG);
        let a = pss_alg(HashAlg::Sha256, HashAlg::Sha256, 32);
        // id-RSASSA-PSS key without parameters: any PSS, no PKCS#1 v1.5.
        let unrestricted = spki(oid::ID_RSASSA_PSS, None, pkcs1);
        assert_eq!(verify(&policy, &unrestricted, &a, MSG, &sig), Ok(()));
        let v15 = rsa_sign(&rsa, &lc::RSA_PKCS1_SHA256, MSG);
        assert_eq!(
            code(verify(
                &policy,
                &unrestricted,
                &alg(oid::SHA256_WITH_RSA, None),
                MSG,
                &v15
            )),
            "key-algorithm-mismatch"
        );
        // Restricted key: same hash and MGF, salt at least the key's.
        let restricted = spki(
            oid::ID_RSASSA_PSS,
            Some(&pss_params_der(HashAlg::Sha256, HashAlg::Sha256, 20)),
            pkcs1,
        );
        assert_eq!(verify(&policy, &restricted, &a, MSG, &sig), Ok(()));
        let salt_floor = spki(
            oid::ID_RSASSA_PSS,
            Some(&pss_params_der(HashAlg::Sha256, HashAlg::Sha256, 33)),
            pkcs1,
        );
        assert_eq!(
            code(verify(&policy, &salt_floor, &a, MSG, &sig)),
            "key-algorithm-mismatch"
        );
        let other_hash = spki(
            oid::ID_RSASSA_PSS,
            Some(&pss_params_der(HashAlg::Sha384, HashAlg::Sha256, 32)),
            pkcs1,
        );
        assert_eq!(
            code(verify(&policy, &other_hash, &a, MSG, &sig)),
            "key-algorithm-mismatch"
        );
        let other_mgf = spki(
            oid::ID_RSASSA_PSS,
            Some(&pss_params_der(HashAlg::Sha256, HashAlg::Sha512, 32)),
            pkcs1,
        );
        assert_eq!(
            code(verify(&policy, &other_mgf, &a, MSG, &sig)),
            "key-algorithm-mismatch"
        );
        let null_params = spki(oid::ID_RSASSA_PSS, Some(&[0x05, 0x00]), pkcs1);
        assert_eq!(
            code(verify(&policy, &null_params, &a, MSG, &sig)),
            "malformed-key"
        );
    }

    // ----- parameter parsing ---------------------------------------------------------------

    fn parse(der: &[u8]) -> Result<PssParams, SignatureError> {
        let any = Any::from_der(der).expect("test DER");
        parse_pss_params(any.to_ref())
    }

    #[test]
    fn pss_params_parse_explicit_values() {
        assert_eq!(
            parse(&pss_params_der(HashAlg::Sha384, HashAlg::Sha512, 300)),
            Ok(PssParams {
                hash: HashAlg::Sha384,
                mgf_hash: HashAlg::Sha512,
                salt_len: 300
            })
        );
        // Hash parameters absent instead of NULL, trailerField 1 spelled out, salt absent (20).
        let hash_ai_absent = tlv(0x30, &oid_der(oid::ID_SHA256));
        let mgf = tlv(
            0x30,
            &[oid_der(oid::ID_MGF1), hash_ai_absent.clone()].concat(),
        );
        let der = tlv(
            0x30,
            &[
                tlv(0xa0, &hash_ai_absent),
                tlv(0xa1, &mgf),
                tlv(0xa3, &integer(1)),
            ]
            .concat(),
        );
        assert_eq!(
            parse(&der),
            Ok(PssParams {
                hash: HashAlg::Sha256,
                mgf_hash: HashAlg::Sha256,
                salt_len: 20
            })
        );
    }

    #[test]
    fn pss_params_reject_weak_and_malformed() {
        let sha256 = hash_ai(oid::ID_SHA256);
        let mgf256 = tlv(0x30, &[oid_der(oid::ID_MGF1), sha256.clone()].concat());
        let code_of = |der: &[u8]| parse(der).err().map(|e| e.code());
        // Empty SEQUENCE: all defaults, SHA-1.
        assert_eq!(code_of(&[0x30, 0x00]), Some("unsupported-algorithm"));
        // SHA-256 with the default MGF1-SHA-1.
        let der = tlv(0x30, &tlv(0xa0, &sha256));
        assert_eq!(code_of(&der), Some("unsupported-algorithm"));
        // Explicit SHA-1.
        let sha1 = hash_ai(oid::ID_SHA1);
        let der = tlv(0x30, &[tlv(0xa0, &sha1), tlv(0xa1, &mgf256)].concat());
        assert_eq!(code_of(&der), Some("unsupported-algorithm"));
        // SHA-224.
        let sha224 = hash_ai(ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4"));
        let der = tlv(0x30, &[tlv(0xa0, &sha224), tlv(0xa1, &mgf256)].concat());
        assert_eq!(code_of(&der), Some("unsupported-algorithm"));
        // Unknown MGF.
        let mgf_x = tlv(
            0x30,
            &[
                oid_der(ObjectIdentifier::new_unwrap("1.2.3.4")),
                sha256.clone(),
            ]
            .concat(),
        );
        let der = tlv(0x30, &[tlv(0xa0, &sha256), tlv(0xa1, &mgf_x)].concat());
        assert_eq!(code_of(&der), Some("unsupported-algorithm"));
        // MGF1 without its hash.
        let mgf_bare = tlv(0x30, &oid_der(oid::ID_MGF1));
        let der = tlv(0x30, &[tlv(0xa0, &sha256), tlv(0xa1, &mgf_bare)].concat());
        assert_eq!(code_of(&der), Some("malformed-parameters"));
        // trailerField 2.
        let der = tlv(
            0x30,
            &[
                tlv(0xa0, &sha256),
                tlv(0xa1, &mgf256),
                tlv(0xa3, &integer(2)),
            ]
            .concat(),
        );
        assert_eq!(code_of(&der), Some("malformed-parameters"));
        // Negative salt length.
        let der = tlv(
            0x30,
            &[
                tlv(0xa0, &sha256),
                tlv(0xa1, &mgf256),
                tlv(0xa2, &[0x02, 0x01, 0xff]),
            ]
            .concat(),
        );
        assert_eq!(code_of(&der), Some("malformed-parameters"));
        // Hash with non-NULL parameters.
        let sha256_int = tlv(0x30, &[oid_der(oid::ID_SHA256), integer(0)].concat());
        let der = tlv(0x30, &[tlv(0xa0, &sha256_int), tlv(0xa1, &mgf256)].concat());
        assert_eq!(code_of(&der), Some("malformed-parameters"));
        // Fields out of order, unknown field, not a SEQUENCE.
        let der = tlv(0x30, &[tlv(0xa1, &mgf256), tlv(0xa0, &sha256)].concat());
        assert_eq!(code_of(&der), Some("malformed-parameters"));
        let der = tlv(0x30, &[tlv(0xa0, &sha256), tlv(0xa4, &integer(1))].concat());
        assert_eq!(code_of(&der), Some("malformed-parameters"));
        assert_eq!(code_of(&[0x05, 0x00]), Some("malformed-parameters"));
    }

    #[test]
    fn pss_signature_algorithm_needs_parameters_and_room() {
        let rsa = rsa_2048();
        let sig = rsa_sign(&rsa, &lc::RSA_PSS_SHA256, MSG);
        let policy = SignaturePolicy::default();
        let bare = alg(oid::ID_RSASSA_PSS, None);
        assert_eq!(
            code(verify(&policy, &rsa.spki, &bare, MSG, &sig)),
            "malformed-parameters"
        );
        // emLen 256 < hLen 64 + salt 200 + 2.
        let huge_salt = pss_alg(HashAlg::Sha512, HashAlg::Sha512, 200);
        assert_eq!(
            code(verify(&policy, &rsa.spki, &huge_salt, MSG, &sig)),
            "malformed-parameters"
        );
    }

    #[test]
    fn unsupported_algorithms() {
        let (pair, rng) = ec_key_pair(&lc::ECDSA_P256_SHA256_ASN1_SIGNING);
        let sig = pair.sign(&rng, MSG).expect("sign");
        let key = ec_spki(oid::SECP256R1, pair.public_key().as_ref());
        let policy = SignaturePolicy::default();
        assert_eq!(
            verify(
                &policy,
                &key,
                &alg(oid::GOST_2001_SIG, None),
                MSG,
                sig.as_ref()
            ),
            Err(SignatureError::UnsupportedAlgorithm(
                GOST_2001_WITHDRAWN.to_string()
            ))
        );
        // GOST R 34.10-2012 is verified: an EC key cannot make such a signature.
        for gost in [oid::GOST_2012_256_SIG, oid::GOST_2012_512_SIG] {
            assert!(matches!(
                verify(&policy, &key, &alg(gost, None), MSG, sig.as_ref()),
                Err(SignatureError::KeyAlgorithmMismatch(_))
            ));
        }
        for other in [
            oid::ECDSA_WITH_SHA1,
            oid::ECDSA_WITH_SHA224,
            oid::SHA1_WITH_RSA,
            oid::MD5_WITH_RSA,
            oid::DSA_WITH_SHA256,
            oid::ED25519,
            ObjectIdentifier::new_unwrap("1.2.3.4.5"),
        ] {
            let result = verify(&policy, &key, &alg(other, None), MSG, sig.as_ref());
            assert_eq!(code(result), "unsupported-algorithm", "{other}");
        }
    }

    #[test]
    fn error_codes_are_stable() {
        let cases = [
            (
                SignatureError::UnsupportedAlgorithm(String::new()),
                "unsupported-algorithm",
            ),
            (
                SignatureError::KeyAlgorithmMismatch(String::new()),
                "key-algorithm-mismatch",
            ),
            (SignatureError::WeakKey(String::new()), "weak-key"),
            (SignatureError::MalformedKey(String::new()), "malformed-key"),
            (
                SignatureError::MalformedParameters(String::new()),
                "malformed-parameters",
            ),
            (
                SignatureError::MalformedSignature(String::new()),
                "malformed-signature",
            ),
            (SignatureError::Invalid, "invalid-signature"),
        ];
        for (error, expected) in cases {
            assert_eq!(error.code(), expected);
        }
        assert_eq!(SignaturePolicy::default().min_rsa_bits, 2048);
    }
}
