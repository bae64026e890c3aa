//! Choosing how a key signs: the PKCS#11 mechanism, what the host hashes, how the token's
//! output becomes a CMS signature, and the self-check against the certificate.

use crate::certinfo::{oid, CertInfo, KeyKind};
use crate::config::RsaScheme;
use crate::error::{AgentError, Result};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki_sys::CK_MECHANISM_TYPE;
use der::asn1::{Any, ObjectIdentifier as Oid};
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384};
use spki::AlgorithmIdentifierOwned;
use tokenconfirm_wire::error::ErrorCode;

/// The message digest used for the content and the signed attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// GOST R 34.11-2012 (Streebog) 256.
    Streebog256,
    /// GOST R 34.11-2012 (Streebog) 512.
    Streebog512,
}

/// GOST signature mechanisms: PKCS#11 2.40 and the TC26 vendor range (base 0xD4321000).
pub mod gost {
    use cryptoki_sys::CK_MECHANISM_TYPE;
    /// CKM_GOSTR3410: raw GOST R 34.10 over a digest the host computed (256-bit keys; some
    /// modules accept it for 512-bit keys too).
    pub const GOSTR3410: CK_MECHANISM_TYPE = 0x1201;
    /// CKM_GOSTR3410_512 (TC26): raw GOST R 34.10-2012 512 over a digest.
    pub const GOSTR3410_512: CK_MECHANISM_TYPE = 0xD432_1006;
    /// CKM_GOSTR3410_WITH_GOSTR3411_12_256 (TC26): the token hashes with Streebog-256.
    pub const WITH_GOSTR3411_12_256: CK_MECHANISM_TYPE = 0xD432_1008;
    /// CKM_GOSTR3410_WITH_GOSTR3411_12_512 (TC26): the token hashes with Streebog-512.
    pub const WITH_GOSTR3411_12_512: CK_MECHANISM_TYPE = 0xD432_1009;
}

impl DigestAlg {
    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
            DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
            DigestAlg::Streebog256 => {
                tokenconfirm_gost::streebog(tokenconfirm_gost::Size::Bits256, data)
            }
            DigestAlg::Streebog512 => {
                tokenconfirm_gost::streebog(tokenconfirm_gost::Size::Bits512, data)
            }
        }
    }

    /// The algorithm OID.
    pub fn oid(self) -> Oid {
        match self {
            DigestAlg::Sha256 => oid::SHA256,
            DigestAlg::Sha384 => oid::SHA384,
            DigestAlg::Streebog256 => oid::STREEBOG256,
            DigestAlg::Streebog512 => oid::STREEBOG512,
        }
    }

    /// AlgorithmIdentifier: SHA-2 with absent parameters (RFC 5754 §2); Streebog with NULL
    /// parameters, as CryptoPro and OpenSSL's gost engine write it.
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: match self {
                DigestAlg::Sha256 | DigestAlg::Sha384 => None,
                DigestAlg::Streebog256 | DigestAlg::Streebog512 => Some(Any::null()),
            },
        }
    }

    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            DigestAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            DigestAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            // RSA is never planned with Streebog.
            DigestAlg::Streebog256 | DigestAlg::Streebog512 => &[],
        }
    }
}

/// The signature scheme and how the token is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// CKM_ECDSA over the host-computed digest; the token returns r‖s.
    Ecdsa,
    /// RSASSA-PKCS1-v1_5; `combined` = CKM_SHA256_RSA_PKCS over the message, otherwise
    /// CKM_RSA_PKCS over a host-built DigestInfo.
    RsaPkcs1 {
        /// The token hashes.
        combined: bool,
    },
    /// RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32); `combined` = CKM_SHA256_RSA_PKCS_PSS,
    /// otherwise CKM_RSA_PKCS_PSS over the digest.
    RsaPss {
        /// The token hashes.
        combined: bool,
    },
    /// GOST R 34.10-2012: `mechanism` is one of [`gost`]'s; with `token_hashes` the token
    /// gets the message (combined TC26 mechanism), otherwise the host's Streebog digest.
    /// The token returns s‖r big-endian, which is also the CMS signature value.
    Gost {
        /// The CKM_ value.
        mechanism: CK_MECHANISM_TYPE,
        /// The token hashes.
        token_hashes: bool,
    },
}

/// How C_SignInit is called: through `cryptoki`, or (for mechanisms `cryptoki` cannot name)
/// through [`super::raw`] with a parameterless mechanism value.
#[derive(Debug)]
pub enum TokenMechanism {
    /// A mechanism `cryptoki` knows.
    Known(Mechanism<'static>),
    /// A parameterless mechanism by its raw CKM_ value.
    Raw(CK_MECHANISM_TYPE),
}

/// Everything needed to produce one signature with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Digest for content and signed attributes.
    pub digest: DigestAlg,
    /// Signature scheme.
    pub scheme: Scheme,
}

const PSS_SALT_LEN: u64 = 32;

/// Picks a plan for `key` given the token's mechanisms as raw CKM_ values (empty = unknown:
/// assume the basic raw mechanisms exist and let the token say otherwise). Where the token
/// offers a mechanism that hashes inside it, that one is preferred.
pub fn choose(key: &KeyKind, offered: &[CK_MECHANISM_TYPE], rsa: RsaScheme) -> Result<Plan> {
    let offers = |m: CK_MECHANISM_TYPE| offered.contains(&m);
    let has = |m: MechanismType| offered.is_empty() || offers(m.into());
    let unsupported =
        |what: &str| AgentError::new(ErrorCode::UnsupportedMechanism, what.to_owned());
    match key {
        KeyKind::EcP256 | KeyKind::EcP384 => {
            if !has(MechanismType::ECDSA) {
                return Err(unsupported("token does not offer CKM_ECDSA"));
            }
            let digest = if *key == KeyKind::EcP256 {
                DigestAlg::Sha256
            } else {
                DigestAlg::Sha384
            };
            Ok(Plan {
                digest,
                scheme: Scheme::Ecdsa,
            })
        }
        KeyKind::Rsa { bits, pss_only } => {
            if *bits < 2048 {
                return Err(AgentError::new(
                    ErrorCode::UnsupportedKey,
                    format!("RSA-{bits} is below 2048 bits"),
                ));
            }
            let pkcs1 = if offers(MechanismType::SHA256_RSA_PKCS.into()) {
                Some(Scheme::RsaPkcs1 { combined: true })
            } else if has(MechanismType::RSA_PKCS) {
                Some(Scheme::RsaPkcs1 { combined: false })
            } else {
                None
            };
            let pss = if offers(MechanismType::SHA256_RSA_PKCS_PSS.into()) {
                Some(Scheme::RsaPss { combined: true })
            } else if has(MechanismType::RSA_PKCS_PSS) {
                Some(Scheme::RsaPss { combined: false })
            } else {
                None
            };
            let scheme = match (pss_only, rsa) {
                (true, _) | (false, RsaScheme::Pss) => pss.or(if *pss_only { None } else { pkcs1 }),
                (false, RsaScheme::Pkcs1) => pkcs1.or(pss),
            }
            .ok_or_else(|| unsupported("token offers no usable RSA signature mechanism"))?;
            Ok(Plan {
                digest: DigestAlg::Sha256,
                scheme,
            })
        }
        KeyKind::Gost { bits, .. } => {
            let (digest, combined, raw) = if *bits == 256 {
                (
                    DigestAlg::Streebog256,
                    gost::WITH_GOSTR3411_12_256,
                    gost::GOSTR3410,
                )
            } else {
                (
                    DigestAlg::Streebog512,
                    gost::WITH_GOSTR3411_12_512,
                    gost::GOSTR3410_512,
                )
            };
            let (mechanism, token_hashes) = if offers(combined) {
                (combined, true)
            } else if offered.is_empty() || offers(raw) {
                (raw, false)
            } else if offers(gost::GOSTR3410) {
                // Modules that predate the TC26 range sign 512-bit keys with CKM_GOSTR3410.
                (gost::GOSTR3410, false)
            } else {
                return Err(unsupported(&format!(
                    "token offers no GOST R 34.10-2012 {bits} signature mechanism"
                )));
            };
            Ok(Plan {
                digest,
                scheme: Scheme::Gost {
                    mechanism,
                    token_hashes,
                },
            })
        }
        KeyKind::Other(what) => Err(AgentError::new(ErrorCode::UnsupportedKey, what.clone())),
    }
}

impl Plan {
    fn pss_params() -> PkcsPssParams {
        PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            s_len: PSS_SALT_LEN.into(),
        }
    }

    /// The mechanism and the bytes to pass to C_Sign for signing `message`.
    pub fn token_input(&self, message: &[u8]) -> (TokenMechanism, Vec<u8>) {
        let digest = || self.digest.digest(message);
        let known = TokenMechanism::Known;
        match self.scheme {
            Scheme::Ecdsa => (known(Mechanism::Ecdsa), digest()),
            Scheme::RsaPkcs1 { combined: true } => {
                (known(Mechanism::Sha256RsaPkcs), message.to_vec())
            }
            Scheme::RsaPkcs1 { combined: false } => {
                let mut info = self.digest.digest_info_prefix().to_vec();
                info.extend(digest());
                (known(Mechanism::RsaPkcs), info)
            }
            Scheme::RsaPss { combined: true } => (
                known(Mechanism::Sha256RsaPkcsPss(Self::pss_params())),
                message.to_vec(),
            ),
            Scheme::RsaPss { combined: false } => {
                (known(Mechanism::RsaPkcsPss(Self::pss_params())), digest())
            }
            Scheme::Gost {
                mechanism,
                token_hashes: true,
            } => (TokenMechanism::Raw(mechanism), message.to_vec()),
            Scheme::Gost {
                mechanism,
                token_hashes: false,
            } => (TokenMechanism::Raw(mechanism), digest()),
        }
    }

    /// Converts the token's output to the CMS SignatureValue (ECDSA r‖s → DER SEQUENCE).
    pub fn finish(&self, key: &KeyKind, raw: Vec<u8>) -> Result<Vec<u8>> {
        let bad = |e: String| {
            AgentError::new(
                ErrorCode::SigningFailed,
                format!("token returned a malformed signature: {e}"),
            )
        };
        match (self.scheme, key) {
            (Scheme::Ecdsa, KeyKind::EcP256) => p256::ecdsa::Signature::from_slice(&raw)
                .map(|s| s.to_der().as_bytes().to_vec())
                .map_err(|e| bad(e.to_string())),
            (Scheme::Ecdsa, KeyKind::EcP384) => p384::ecdsa::Signature::from_slice(&raw)
                .map(|s| s.to_der().as_bytes().to_vec())
                .map_err(|e| bad(e.to_string())),
            (Scheme::Ecdsa, _) => Err(bad("ECDSA plan for a non-EC key".into())),
            (Scheme::Gost { .. }, KeyKind::Gost { bits, .. }) => {
                let want = usize::from(*bits) / 4;
                if raw.len() == want {
                    Ok(raw)
                } else {
                    Err(bad(format!(
                        "{} bytes where GOST R 34.10-2012 {bits} gives {want}",
                        raw.len()
                    )))
                }
            }
            (Scheme::Gost { .. }, _) => Err(bad("GOST plan for a non-GOST key".into())),
            _ => Ok(raw),
        }
    }

    /// The SignerInfo signatureAlgorithm.
    pub fn signature_algorithm(&self) -> Result<AlgorithmIdentifierOwned> {
        Ok(match self.scheme {
            Scheme::Ecdsa => AlgorithmIdentifierOwned {
                oid: if self.digest == DigestAlg::Sha256 {
                    oid::ECDSA_SHA256
                } else {
                    oid::ECDSA_SHA384
                },
                parameters: None,
            },
            Scheme::RsaPkcs1 { .. } => AlgorithmIdentifierOwned {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            },
            Scheme::RsaPss { .. } => AlgorithmIdentifierOwned {
                oid: oid::RSASSA_PSS,
                parameters: Some(pss_parameters()?),
            },
            // The key algorithm with NULL, as CryptoPro and OpenSSL's gost engine write
            // SignerInfo.signatureAlgorithm for GOST (RFC 4490 §3.2).
            Scheme::Gost { .. } => AlgorithmIdentifierOwned {
                oid: if self.digest == DigestAlg::Streebog256 {
                    tokenconfirm_gost::KEY_256
                } else {
                    tokenconfirm_gost::KEY_512
                },
                parameters: Some(Any::null()),
            },
        })
    }

    /// Verifies `signature` (CMS form) over `message` with the certificate's key, so a token
    /// that signs with the wrong key or garbles the output is caught before anything is sent.
    pub fn self_check(&self, cert: &CertInfo, message: &[u8], signature: &[u8]) -> Result<()> {
        use signature::Verifier;
        let failed = |e: String| AgentError::new(ErrorCode::SelfCheckFailed, e);
        let key = cert.public_key_bytes();
        match (&cert.key, self.scheme) {
            (KeyKind::EcP256, Scheme::Ecdsa) => {
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|e| failed(e.to_string()))?;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|e| failed(e.to_string()))?;
                vk.verify(message, &sig).map_err(|e| failed(e.to_string()))
            }
            (KeyKind::EcP384, Scheme::Ecdsa) => {
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key)
                    .map_err(|e| failed(e.to_string()))?;
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|e| failed(e.to_string()))?;
                vk.verify(message, &sig).map_err(|e| failed(e.to_string()))
            }
            (KeyKind::Rsa { .. }, Scheme::RsaPkcs1 { .. }) => {
                let pk = rsa_public_key(key).map_err(failed)?;
                let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk);
                let sig = rsa::pkcs1v15::Signature::try_from(signature)
                    .map_err(|e| failed(e.to_string()))?;
                vk.verify(message, &sig).map_err(|e| failed(e.to_string()))
            }
            (KeyKind::Rsa { .. }, Scheme::RsaPss { .. }) => {
                let pk = rsa_public_key(key).map_err(failed)?;
                let vk = rsa::pss::VerifyingKey::<Sha256>::new(pk);
                let sig =
                    rsa::pss::Signature::try_from(signature).map_err(|e| failed(e.to_string()))?;
                vk.verify(message, &sig).map_err(|e| failed(e.to_string()))
            }
            (KeyKind::Gost { bits, .. }, Scheme::Gost { .. }) => {
                let size = if *bits == 256 {
                    tokenconfirm_gost::Size::Bits256
                } else {
                    tokenconfirm_gost::Size::Bits512
                };
                let spki = cert.cert.tbs_certificate().subject_public_key_info();
                let (set, public) = tokenconfirm_gost::public_key(spki, size)
                    .map_err(|e| failed(format!("{e:?}")))?;
                let digest = tokenconfirm_gost::streebog(size, message);
                tokenconfirm_gost::verify_digest(set, &public, &digest, signature)
                    .map_err(|e| failed(format!("GOST signature does not verify: {e:?}")))
            }
            (other, scheme) => Err(failed(format!(
                "no self-check for {other:?} with {scheme:?}"
            ))),
        }
    }
}

fn rsa_public_key(pkcs1_der: &[u8]) -> std::result::Result<rsa::RsaPublicKey, String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    rsa::RsaPublicKey::from_pkcs1_der(pkcs1_der).map_err(|e| e.to_string())
}

/// RSASSA-PSS-params for SHA-256 / MGF1-SHA-256 / salt 32 / trailer 1 (RFC 4055).
fn pss_parameters() -> Result<Any> {
    #[derive(der::Sequence)]
    struct PssParams {
        #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
        hash: AlgorithmIdentifierOwned,
        #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
        mgf: AlgorithmIdentifierOwned,
        #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
        salt_len: u8,
    }
    let sha256 = AlgorithmIdentifierOwned {
        oid: oid::SHA256,
        parameters: None,
    };
    let params = PssParams {
        hash: sha256.clone(),
        mgf: AlgorithmIdentifierOwned {
            oid: oid::MGF1,
            parameters: Some(Any::encode_from(&sha256).map_err(internal)?),
        },
        salt_len: PSS_SALT_LEN as u8,
    };
    let der = params.to_der().map_err(internal)?;
    Any::from_der(&der).map_err(internal)
}

fn internal(e: der::Error) -> AgentError {
    AgentError::new(ErrorCode::Internal, format!("DER encoding: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_keys_use_raw_ecdsa_with_matching_hash() {
        let p = choose(
            &KeyKind::EcP384,
            &[CK_MECHANISM_TYPE::from(MechanismType::ECDSA)],
            RsaScheme::Pkcs1,
        )
        .unwrap();
        assert_eq!(
            p,
            Plan {
                digest: DigestAlg::Sha384,
                scheme: Scheme::Ecdsa
            }
        );
        let e = choose(
            &KeyKind::EcP256,
            &[CK_MECHANISM_TYPE::from(MechanismType::RSA_PKCS)],
            RsaScheme::Pkcs1,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedMechanism);
    }

    #[test]
    fn rsa_prefers_combined_then_raw_and_honours_pss() {
        let rsa = KeyKind::Rsa {
            bits: 2048,
            pss_only: false,
        };
        let both = [
            CK_MECHANISM_TYPE::from(MechanismType::RSA_PKCS),
            CK_MECHANISM_TYPE::from(MechanismType::SHA256_RSA_PKCS),
            CK_MECHANISM_TYPE::from(MechanismType::RSA_PKCS_PSS),
        ];
        assert_eq!(
            choose(&rsa, &both, RsaScheme::Pkcs1).unwrap().scheme,
            Scheme::RsaPkcs1 { combined: true }
        );
        assert_eq!(
            choose(
                &rsa,
                &[CK_MECHANISM_TYPE::from(MechanismType::RSA_PKCS)],
                RsaScheme::Pkcs1
            )
            .unwrap()
            .scheme,
            Scheme::RsaPkcs1 { combined: false }
        );
        assert_eq!(
            choose(&rsa, &both, RsaScheme::Pss).unwrap().scheme,
            Scheme::RsaPss { combined: false }
        );
        assert_eq!(
            choose(
                &rsa,
                &[CK_MECHANISM_TYPE::from(MechanismType::RSA_PKCS_PSS)],
                RsaScheme::Pkcs1
            )
            .unwrap()
            .scheme,
            Scheme::RsaPss { combined: false }
        );
        let pss_key = KeyKind::Rsa {
            bits: 3072,
            pss_only: true,
        };
        assert_eq!(
            choose(
                &pss_key,
                &[CK_MECHANISM_TYPE::from(MechanismType::RSA_PKCS)],
                RsaScheme::Pkcs1
            )
            .unwrap_err()
            .code,
            ErrorCode::UnsupportedMechanism
        );
        let small = KeyKind::Rsa {
            bits: 1024,
            pss_only: false,
        };
        assert_eq!(
            choose(&small, &both, RsaScheme::Pkcs1).unwrap_err().code,
            ErrorCode::UnsupportedKey
        );
    }

    #[test]
    fn gost_keys_prefer_the_combined_tc26_mechanism_then_raw() {
        let g256 = KeyKind::Gost {
            bits: 256,
            param_set: "tc26-256-A",
        };
        let g512 = KeyKind::Gost {
            bits: 512,
            param_set: "tc26-512-A",
        };
        let plan = |key: &KeyKind, offered: &[CK_MECHANISM_TYPE]| {
            choose(key, offered, RsaScheme::Pkcs1).map(|p| (p.digest, p.scheme))
        };
        let gost = |mechanism, token_hashes| Scheme::Gost {
            mechanism,
            token_hashes,
        };
        let all = [
            gost::GOSTR3410,
            gost::GOSTR3410_512,
            gost::WITH_GOSTR3411_12_256,
            gost::WITH_GOSTR3411_12_512,
        ];
        assert_eq!(
            plan(&g256, &all).unwrap(),
            (
                DigestAlg::Streebog256,
                gost(gost::WITH_GOSTR3411_12_256, true)
            )
        );
        assert_eq!(
            plan(&g512, &all).unwrap(),
            (
                DigestAlg::Streebog512,
                gost(gost::WITH_GOSTR3411_12_512, true)
            )
        );
        assert_eq!(
            plan(&g256, &[gost::GOSTR3410]).unwrap().1,
            gost(gost::GOSTR3410, false)
        );
        assert_eq!(
            plan(&g512, &[]).unwrap().1,
            gost(gost::GOSTR3410_512, false)
        );
        assert_eq!(
            plan(&g512, &[gost::GOSTR3410]).unwrap().1,
            gost(gost::GOSTR3410, false)
        );
        assert_eq!(
            plan(&g256, &[CK_MECHANISM_TYPE::from(MechanismType::ECDSA)])
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedMechanism
        );
    }

    #[test]
    fn gost_plans_hash_on_the_host_only_for_raw_mechanisms() {
        let raw = Plan {
            digest: DigestAlg::Streebog256,
            scheme: Scheme::Gost {
                mechanism: gost::GOSTR3410,
                token_hashes: false,
            },
        };
        let (mechanism, input) = raw.token_input(b"abc");
        assert!(matches!(mechanism, TokenMechanism::Raw(gost::GOSTR3410)));
        assert_eq!(
            input,
            tokenconfirm_gost::streebog(tokenconfirm_gost::Size::Bits256, b"abc")
        );
        let combined = Plan {
            digest: DigestAlg::Streebog512,
            scheme: Scheme::Gost {
                mechanism: gost::WITH_GOSTR3411_12_512,
                token_hashes: true,
            },
        };
        assert_eq!(combined.token_input(b"abc").1, b"abc");
        // SignerInfo.signatureAlgorithm is the key algorithm with NULL, as OpenSSL writes it.
        let alg = combined.signature_algorithm().unwrap();
        assert_eq!(alg.oid, tokenconfirm_gost::KEY_512);
        assert_eq!(alg.parameters, Some(Any::null()));
        let digest = DigestAlg::Streebog512.algorithm_identifier();
        assert_eq!(digest.oid, oid::STREEBOG512);
        assert_eq!(digest.parameters, Some(Any::null()));
        // The token's s‖r passes through, at the length the key size gives.
        let key = KeyKind::Gost {
            bits: 512,
            param_set: "tc26-512-A",
        };
        assert_eq!(combined.finish(&key, vec![7; 128]).unwrap().len(), 128);
        assert_eq!(
            combined.finish(&key, vec![7; 64]).unwrap_err().code,
            ErrorCode::SigningFailed
        );
    }

    #[test]
    fn digest_info_is_the_der_of_sha256_digestinfo() {
        let (_, input) = Plan {
            digest: DigestAlg::Sha256,
            scheme: Scheme::RsaPkcs1 { combined: false },
        }
        .token_input(b"abc");
        assert_eq!(input.len(), 19 + 32);
        assert_eq!(&input[19..], Sha256::digest(b"abc").as_slice());
    }

    #[test]
    fn pss_parameters_encode() {
        let any = pss_parameters().unwrap();
        let der = any.to_der().unwrap();
        // SEQUENCE { [0] sha256, [1] mgf1(sha256), [2] 32 }
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[der.len() - 5..], &[0xa2, 0x03, 0x02, 0x01, 0x20]);
    }
}
