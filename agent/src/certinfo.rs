//! Reading the certificates found on tokens: who, issued by whom, valid when, which key.

use crate::error::{AgentError, Result};
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use tokenconfirm_wire::error::ErrorCode;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::name::Name;
use x509_cert::Certificate;

/// Object identifiers the agent needs.
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    /// prime256v1 / secp256r1.
    pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    /// secp384r1.
    pub const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
    /// rsaEncryption.
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    /// id-RSASSA-PSS.
    pub const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    /// id-mgf1.
    pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
    /// ecdsa-with-SHA256.
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    /// ecdsa-with-SHA384.
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    /// id-sha256.
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// id-sha384.
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// GOST R 34.11-2012 (Streebog) 256.
    pub const STREEBOG256: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.2");
    /// GOST R 34.11-2012 (Streebog) 512.
    pub const STREEBOG512: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.3");
    /// SNILS (Russian individual insurance account number).
    pub const SNILS: Oid = Oid::new_unwrap("1.2.643.100.3");
    /// INN of a natural person.
    pub const INN: Oid = Oid::new_unwrap("1.2.643.3.131.1.1");
    /// OGRN.
    pub const OGRN: Oid = Oid::new_unwrap("1.2.643.100.1");
    /// OGRNIP.
    pub const OGRNIP: Oid = Oid::new_unwrap("1.2.643.100.5");
    /// INN of a legal entity.
    pub const INNLE: Oid = Oid::new_unwrap("1.2.643.100.4");
    /// commonName.
    pub const CN: Oid = Oid::new_unwrap("2.5.4.3");
    /// surname.
    pub const SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
    /// givenName.
    pub const GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");
    /// organizationName.
    pub const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
}

/// The public key of a certificate, as far as signing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256; signed with SHA-256.
    EcP256,
    /// ECDSA on P-384; signed with SHA-384.
    EcP384,
    /// RSA with the modulus size in bits; `pss_only` when the key is id-RSASSA-PSS.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
        /// The certificate restricts the key to RSASSA-PSS.
        pss_only: bool,
    },
    /// GOST R 34.10-2012 (256 or 512 bit) on a named parameter set; signed with Streebog of
    /// the same size.
    Gost {
        /// 256 or 512.
        bits: u16,
        /// The parameter set's name, e.g. `tc26-256-A`.
        param_set: &'static str,
    },
    /// Anything else (named by its algorithm OID), listed but not usable for signing yet.
    Other(String),
}

impl KeyKind {
    /// Short name for display and JSON, e.g. `ec-p256`, `rsa-2048`.
    pub fn name(&self) -> String {
        match self {
            KeyKind::EcP256 => "ec-p256".into(),
            KeyKind::EcP384 => "ec-p384".into(),
            KeyKind::Rsa {
                bits,
                pss_only: false,
            } => format!("rsa-{bits}"),
            KeyKind::Rsa {
                bits,
                pss_only: true,
            } => format!("rsa-pss-{bits}"),
            KeyKind::Gost { bits, .. } => format!("gost2012-{bits}"),
            KeyKind::Other(oid) => format!("other ({oid})"),
        }
    }
}

/// A parsed certificate with what the agent shows and uses.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// The DER as read from the token.
    pub der: Vec<u8>,
    /// The parsed certificate.
    pub cert: Certificate,
    /// Key kind.
    pub key: KeyKind,
}

impl CertInfo {
    /// Parses DER; errors are `bad-certificate`.
    pub fn parse(der: Vec<u8>) -> Result<Self> {
        let cert = Certificate::from_der(&der)
            .map_err(|e| AgentError::new(ErrorCode::BadCertificate, e.to_string()))?;
        let key = key_kind(&cert);
        Ok(CertInfo { der, cert, key })
    }

    /// True for CA certificates (basicConstraints cA), which are chain material, not signers.
    pub fn is_ca(&self) -> bool {
        matches!(
            self.cert.tbs_certificate().get_extension::<BasicConstraints>(),
            Ok(Some((_, bc))) if bc.ca
        )
    }

    /// True when keyUsage is absent or allows digitalSignature or nonRepudiation.
    pub fn can_sign(&self) -> bool {
        match self.cert.tbs_certificate().get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) => ku.digital_signature() || ku.non_repudiation(),
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Subject name.
    pub fn subject(&self) -> &Name {
        self.cert.tbs_certificate().subject()
    }

    /// Issuer name.
    pub fn issuer(&self) -> &Name {
        self.cert.tbs_certificate().issuer()
    }

    /// The first attribute `oid` of the subject as text.
    pub fn subject_attr(&self, oid: Oid) -> Option<String> {
        name_attr(self.subject(), oid)
    }

    /// SubjectPublicKeyInfo DER, for matching keys on the token.
    pub fn spki_der(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap_or_default()
    }

    /// The raw subjectPublicKey bits (EC point or RSAPublicKey DER).
    pub fn public_key_bytes(&self) -> &[u8] {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
    }

    /// Serial number in hex (big-endian, as in the DER).
    pub fn serial_hex(&self) -> String {
        hex(self.cert.tbs_certificate().serial_number().as_bytes())
    }

    /// notBefore, notAfter as `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn validity(&self) -> (String, String) {
        let v = self.cert.tbs_certificate().validity();
        (format_time(&v.not_before), format_time(&v.not_after))
    }
}

fn format_time(t: &x509_cert::time::Time) -> String {
    let secs = t.to_unix_duration().as_secs() as i64;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|dt| tokenconfirm_wire::challenge::Timestamp::from_datetime(dt).to_string())
        .unwrap_or_else(|_| "?".into())
}

fn key_kind(cert: &Certificate) -> KeyKind {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let alg = spki.algorithm.oid;
    if alg == oid::EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<Oid>().ok());
        return match curve {
            Some(c) if c == oid::P256 => KeyKind::EcP256,
            Some(c) if c == oid::P384 => KeyKind::EcP384,
            Some(c) => KeyKind::Other(format!("EC {c}")),
            None => KeyKind::Other("EC without named curve".into()),
        };
    }
    if alg == oid::RSA_ENCRYPTION || alg == oid::RSASSA_PSS {
        let bits = rsa_modulus(spki.subject_public_key.raw_bytes())
            .map(|m| m.len() * 8)
            .unwrap_or(0);
        return KeyKind::Rsa {
            bits,
            pss_only: alg == oid::RSASSA_PSS,
        };
    }
    let gost_size = match alg {
        tokenconfirm_gost::KEY_256 => Some((256, tokenconfirm_gost::Size::Bits256)),
        tokenconfirm_gost::KEY_512 => Some((512, tokenconfirm_gost::Size::Bits512)),
        _ => None,
    };
    if let Some((bits, size)) = gost_size {
        return match tokenconfirm_gost::public_key(spki, size) {
            Ok((set, _)) => KeyKind::Gost {
                bits,
                param_set: set.name,
            },
            Err(e) => KeyKind::Other(format!("GOST R 34.10-2012 key unusable: {e:?}")),
        };
    }
    KeyKind::Other(alg.to_string())
}

/// The RSA modulus (big-endian, no leading zero) from an RSAPublicKey DER.
pub fn rsa_modulus(rsa_public_key: &[u8]) -> Option<Vec<u8>> {
    let key = rsa::pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(rsa_public_key).ok()?;
    Some(key.modulus.as_bytes().to_vec())
}

pub use tokenconfirm_wire::dn::attribute as name_attr;

pub use tokenconfirm_wire::dn::{display_name, string_value as any_string};

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex (either case); `None` on odd length or a non-hex digit.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00AB10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn rejects_garbage_certificates() {
        let e = CertInfo::parse(vec![0x30, 0x03, 0x02, 0x01, 0x01]).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadCertificate);
    }
}
