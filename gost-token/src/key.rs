//! GOST private keys (PKCS#8, as OpenSSL 3 with the gost engine writes them) and X.509
//! certificates, PEM or DER.
//!
//! The private-key encodings accepted are exactly the ones gost-engine's `priv_decode_gost`
//! reads, tried in its order on the PKCS#8 `privateKey` OCTET STRING content of length `len`
//! for a key of `n` bytes (32 or 64):
//!
//! 1. `len` a multiple of `n`: the raw little-endian key, followed by little-endian masks
//!    (d = key · mask₁ · … mod q). One chunk, no masks, is what gost-engine 3 writes by default.
//! 2. an OCTET STRING of `n` bytes: the little-endian key (`GOST_PK_FORMAT=LEGACY_PK_WRAP`).
//! 3. an INTEGER: the key, big-endian (older writers).
//! 4. a SEQUENCE { masked OCTET STRING, public OCTET STRING }: as 1, inside the SEQUENCE.

use crate::sign::{SignError, SigningKey};
use der::asn1::{ObjectIdentifier as Oid, OctetStringRef, UintRef};
use der::{Decode, Encode, Sequence};
use spki::SubjectPublicKeyInfoOwned;
use tokenconfirm_gost::params::ParamSet;
use tokenconfirm_gost::{Size, KEY_256, KEY_512};
use zeroize::Zeroizing;

/// Why a key or certificate file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PEM armour does not decode.
    #[error("PEM: {0}")]
    Pem(String),
    /// A PEM block of another kind (for instance an encrypted private key).
    #[error("unexpected PEM label \"{found}\" (expected \"{expected}\")")]
    PemLabel {
        /// The label found.
        found: String,
        /// The label wanted.
        expected: &'static str,
    },
    /// The DER structure does not decode.
    #[error("DER: {0}")]
    Der(String),
    /// Not a GOST R 34.10-2012 key.
    #[error("key algorithm {0} is not GOST R 34.10-2012 (1.2.643.7.1.1.1.1 or .1.2)")]
    NotGost(String),
    /// Key parameters missing or malformed.
    #[error("GOST key parameters: {0}")]
    Parameters(String),
    /// The parameter set OID is not one `tokenconfirm-gost` knows.
    #[error("unknown GOST parameter set {0}")]
    UnknownParamSet(String),
    /// The parameter set's size is not the algorithm's.
    #[error("parameter set {set} is not {bits}-bit")]
    SizeMismatch {
        /// The parameter set's name.
        set: &'static str,
        /// The algorithm's key size.
        bits: usize,
    },
    /// The private key value is in none of the encodings gost-engine reads.
    #[error("private key encoding: {0}")]
    Encoding(String),
    /// The private key value is unusable.
    #[error("private key: {0}")]
    Key(#[from] SignError),
    /// The certificate's public key does not decode.
    #[error("certificate public key: {0}")]
    PublicKey(String),
}

/// How the private key value was encoded inside PKCS#8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEncoding {
    /// Raw little-endian bytes (gost-engine 3's default).
    RawLittleEndian,
    /// Raw little-endian key followed by this many masks.
    Masked(usize),
    /// OCTET STRING holding the little-endian key (`LEGACY_PK_WRAP`).
    OctetString,
    /// INTEGER, big-endian.
    Integer,
    /// SEQUENCE { masked key OCTET STRING, public key OCTET STRING }.
    MaskedSequence,
}

/// GostR3410-2012-PublicKeyParameters (RFC 9215 §4.2; the third OID is the 2001 encryption set).
#[derive(Sequence)]
struct KeyParameters {
    public_key_param_set: Oid,
    digest_param_set: Option<Oid>,
    encryption_param_set: Option<Oid>,
}

/// The masked-key SEQUENCE of gost-engine (`MASKED_GOST_KEY`).
#[derive(Sequence)]
struct MaskedKey<'a> {
    masked: &'a OctetStringRef,
    public: Option<&'a OctetStringRef>,
}

/// A decoded GOST private key.
#[derive(Debug)]
pub struct PrivateKey {
    /// The key (its parameter set is [`SigningKey::param_set`]).
    pub key: SigningKey,
    /// 256 or 512.
    pub size: Size,
    /// The parameter set OID exactly as the file names it (TC26 or a CryptoPro alias).
    pub param_oid: Oid,
    /// How the value was encoded.
    pub encoding: KeyEncoding,
}

/// A decoded GOST certificate: the values the token's objects expose.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    /// The certificate, DER (`CKA_VALUE`).
    pub der: Vec<u8>,
    /// Subject Name, DER (`CKA_SUBJECT`).
    pub subject: Vec<u8>,
    /// Issuer Name, DER (`CKA_ISSUER`).
    pub issuer: Vec<u8>,
    /// The serial number as a DER INTEGER, tag and length included (`CKA_SERIAL_NUMBER`).
    pub serial: Vec<u8>,
    /// SubjectPublicKeyInfo, DER (`CKA_PUBLIC_KEY_INFO`).
    pub spki: Vec<u8>,
    /// 256 or 512.
    pub size: Size,
    /// The parameter set.
    pub param_set: &'static ParamSet,
    /// The parameter set OID exactly as the certificate names it.
    pub param_oid: Oid,
    /// X‖Y little-endian (`CKA_VALUE` of the public key).
    pub public_le: Vec<u8>,
}

/// The DER inside `input`: the first PEM block labelled `label` if `input` contains PEM
/// armour, `input` itself otherwise. Text before and after the block is ignored (as
/// OpenSSL does).
pub fn pem_or_der(input: &[u8], label: &'static str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let Some(begin) = find(input, b"-----BEGIN ") else {
        return Ok(Zeroizing::new(input.to_vec()));
    };
    let rest = &input[begin..];
    let end = find(rest, b"-----END ")
        .and_then(|e| {
            let tail = rest.get(e + 9..)?;
            let close = find(tail, b"-----")?;
            Some(e + 9 + close + 5)
        })
        .ok_or_else(|| KeyError::Pem("no -----END line".into()))?;
    let block = &rest[..end];
    let (found, der) = pem_rfc7468::decode_vec(block).map_err(|e| KeyError::Pem(e.to_string()))?;
    let der = Zeroizing::new(der);
    if found != label {
        return Err(KeyError::PemLabel {
            found: found.to_owned(),
            expected: label,
        });
    }
    Ok(der)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn size_of_algorithm(oid: &Oid) -> Result<Size, KeyError> {
    if *oid == KEY_256 {
        Ok(Size::Bits256)
    } else if *oid == KEY_512 {
        Ok(Size::Bits512)
    } else {
        Err(KeyError::NotGost(oid.to_string()))
    }
}

fn bytes_of(size: Size) -> usize {
    crate::mechanism::size_bytes(size)
}

fn param_set_of(
    size: Size,
    params: Option<der::asn1::AnyRef<'_>>,
) -> Result<(&'static ParamSet, Oid), KeyError> {
    let params = params.ok_or_else(|| KeyError::Parameters("missing".into()))?;
    let params: KeyParameters = params
        .decode_as()
        .map_err(|e: der::Error| KeyError::Parameters(e.to_string()))?;
    let _ = (params.digest_param_set, params.encryption_param_set);
    let oid = params.public_key_param_set;
    let set = tokenconfirm_gost::param_set(&oid)
        .ok_or_else(|| KeyError::UnknownParamSet(oid.to_string()))?;
    if set.size != bytes_of(size) {
        return Err(KeyError::SizeMismatch {
            set: set.name,
            bits: bytes_of(size) * 8,
        });
    }
    Ok((set, oid))
}

/// Decodes a GOST PKCS#8 private key (PEM `PRIVATE KEY` or DER). Never panics.
pub fn parse_private_key(input: &[u8]) -> Result<PrivateKey, KeyError> {
    let der = pem_or_der(input, "PRIVATE KEY")?;
    let info =
        pkcs8::PrivateKeyInfoRef::from_der(&der).map_err(|e| KeyError::Der(e.to_string()))?;
    let size = size_of_algorithm(&info.algorithm.oid)?;
    let (set, param_oid) = param_set_of(size, info.algorithm.parameters)?;
    let n = set.size;
    let value = info.private_key.as_bytes();
    let (key, encoding) = if !value.is_empty() && value.len() % n == 0 {
        let masks = value.len() / n - 1;
        let encoding = if masks == 0 {
            KeyEncoding::RawLittleEndian
        } else {
            KeyEncoding::Masked(masks)
        };
        (SigningKey::from_le_masked(set, value)?, encoding)
    } else {
        match value.first() {
            Some(0x04) => {
                let inner = <&OctetStringRef>::from_der(value)
                    .map_err(|e| KeyError::Encoding(format!("OCTET STRING: {e}")))?;
                if inner.as_bytes().len() != n {
                    return Err(KeyError::Encoding(format!(
                        "OCTET STRING of {} bytes, expected {n}",
                        inner.as_bytes().len()
                    )));
                }
                (
                    SigningKey::from_le_masked(set, inner.as_bytes())?,
                    KeyEncoding::OctetString,
                )
            }
            Some(0x02) => {
                let int = UintRef::from_der(value)
                    .map_err(|e| KeyError::Encoding(format!("INTEGER: {e}")))?;
                (
                    SigningKey::from_be(set, int.as_bytes())?,
                    KeyEncoding::Integer,
                )
            }
            Some(0x30) => {
                let masked = MaskedKey::from_der(value)
                    .map_err(|e| KeyError::Encoding(format!("masked key SEQUENCE: {e}")))?;
                let _ = masked.public;
                let bytes = masked.masked.as_bytes();
                if bytes.is_empty() || bytes.len() % n != 0 {
                    return Err(KeyError::Encoding(format!(
                        "masked key of {} bytes is not a multiple of {n}",
                        bytes.len()
                    )));
                }
                (
                    SigningKey::from_le_masked(set, bytes)?,
                    KeyEncoding::MaskedSequence,
                )
            }
            _ => {
                return Err(KeyError::Encoding(format!(
                    "{} bytes, neither raw, OCTET STRING, INTEGER nor SEQUENCE",
                    value.len()
                )))
            }
        }
    };
    Ok(PrivateKey {
        key,
        size,
        param_oid,
        encoding,
    })
}

/// Decodes a GOST R 34.10-2012 X.509 certificate (PEM `CERTIFICATE` or DER). Never panics.
pub fn parse_certificate(input: &[u8]) -> Result<CertificateInfo, KeyError> {
    let der = pem_or_der(input, "CERTIFICATE")?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|e| KeyError::Der(e.to_string()))?;
    let tbs = cert.tbs_certificate();
    let enc = |r: der::Result<Vec<u8>>| r.map_err(|e| KeyError::Der(e.to_string()));
    let spki: &SubjectPublicKeyInfoOwned = tbs.subject_public_key_info();
    let size = size_of_algorithm(&spki.algorithm.oid)?;
    let params = spki
        .algorithm
        .parameters
        .as_ref()
        .map(der::asn1::AnyRef::from);
    let (set, param_oid) = param_set_of(size, params)?;
    let (verify_set, public_le) = tokenconfirm_gost::public_key(spki, size)
        .map_err(|e| KeyError::PublicKey(format!("{e:?}")))?;
    if verify_set.name != set.name {
        return Err(KeyError::Parameters(format!(
            "parameter sets disagree: {} / {}",
            set.name, verify_set.name
        )));
    }
    Ok(CertificateInfo {
        der: der.to_vec(),
        subject: enc(tbs.subject().to_der())?,
        issuer: enc(tbs.issuer().to_der())?,
        serial: enc(tbs.serial_number().to_der())?,
        spki: enc(spki.to_der())?,
        size,
        param_set: set,
        param_oid,
        public_le,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{AnyRef, OctetString};
    use spki::AlgorithmIdentifierRef;

    /// A PKCS#8 GOST key with the given privateKey OCTET STRING content.
    fn pkcs8(alg: &str, set: &str, value: &[u8]) -> Vec<u8> {
        let params = KeyParameters {
            public_key_param_set: Oid::new_unwrap(set),
            digest_param_set: None,
            encryption_param_set: None,
        }
        .to_der()
        .unwrap();
        let info = pkcs8::PrivateKeyInfoRef::new(
            AlgorithmIdentifierRef {
                oid: Oid::new_unwrap(alg),
                parameters: Some(AnyRef::from_der(&params).unwrap()),
            },
            <&OctetStringRef>::try_from(value).unwrap(),
        );
        info.to_der().unwrap()
    }

    const TCA: &str = "1.2.643.7.1.2.1.1.1";
    const A256: &str = "1.2.643.7.1.1.1.1";

    #[test]
    fn every_encoding_decodes_to_the_same_key() {
        let mut le = [0u8; 32];
        le[0] = 0x11;
        le[1] = 0x22;
        let be: Vec<u8> = le.iter().rev().copied().collect();
        let reference = SigningKey::from_be(
            tokenconfirm_gost::param_set(&Oid::new_unwrap(TCA)).unwrap(),
            &be,
        )
        .unwrap()
        .public_key_le()
        .unwrap();

        let raw = parse_private_key(&pkcs8(A256, TCA, &le)).unwrap();
        assert_eq!(raw.encoding, KeyEncoding::RawLittleEndian);
        let octet = OctetString::new(le.to_vec()).unwrap().to_der().unwrap();
        let wrapped = parse_private_key(&pkcs8(A256, TCA, &octet)).unwrap();
        assert_eq!(wrapped.encoding, KeyEncoding::OctetString);
        let int = UintRef::new(&be[30..]).unwrap().to_der().unwrap();
        let integer = parse_private_key(&pkcs8(A256, TCA, &int)).unwrap();
        assert_eq!(integer.encoding, KeyEncoding::Integer);
        let mut masked = le.to_vec();
        let mut one = [0u8; 32];
        one[0] = 1;
        masked.extend_from_slice(&one);
        let m = parse_private_key(&pkcs8(A256, TCA, &masked)).unwrap();
        assert_eq!(m.encoding, KeyEncoding::Masked(1));
        let seq = MaskedKey {
            masked: <&OctetStringRef>::try_from(&masked[..]).unwrap(),
            public: Some(<&OctetStringRef>::try_from(&[1u8, 2][..]).unwrap()),
        }
        .to_der()
        .unwrap();
        let s = parse_private_key(&pkcs8(A256, TCA, &seq)).unwrap();
        assert_eq!(s.encoding, KeyEncoding::MaskedSequence);
        for k in [raw, wrapped, integer, m, s] {
            assert_eq!(k.key.public_key_le().unwrap(), reference);
            assert_eq!(k.param_oid, Oid::new_unwrap(TCA));
            assert_eq!(k.size, Size::Bits256);
        }
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        let le = [7u8; 32];
        assert!(matches!(
            parse_private_key(&pkcs8("1.2.840.10045.2.1", TCA, &le)),
            Err(KeyError::NotGost(_))
        ));
        assert!(matches!(
            parse_private_key(&pkcs8(A256, "1.2.643.7.1.2.1.2.1", &le)),
            Err(KeyError::SizeMismatch { .. })
        ));
        assert!(matches!(
            parse_private_key(&pkcs8(A256, "1.2.643.2.2.35.9", &le)),
            Err(KeyError::UnknownParamSet(_))
        ));
        assert!(matches!(
            parse_private_key(&pkcs8(A256, TCA, &[0u8; 32])),
            Err(KeyError::Key(SignError::ZeroKey))
        ));
        assert!(matches!(
            parse_private_key(&pkcs8(A256, TCA, &[5u8; 33])),
            Err(KeyError::Encoding(_))
        ));
        assert!(matches!(
            parse_private_key(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
            Err(KeyError::PemLabel { .. })
        ));
        assert!(matches!(
            parse_private_key(b"-----BEGIN PRIVATE KEY-----\n!!\n"),
            Err(KeyError::Pem(_))
        ));
        assert!(matches!(parse_private_key(b""), Err(KeyError::Der(_))));
        assert!(matches!(
            parse_certificate(b"\x30\x03\x02\x01\x01"),
            Err(KeyError::Der(_))
        ));
    }
}
