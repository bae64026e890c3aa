//! The token configuration: a TOML file named by `$TOKENCONFIRM_GOST_TOKEN_CONF`.
//!
//! ```toml
//! # One [[token]] per slot (slot ids 0, 1, … in this order).
//! [[token]]
//! label = "tokenconfirm GOST test"   # CKA_LABEL of the token, ≤ 32 bytes UTF-8
//! serial = "GT0001"                  # serialNumber, ≤ 16 printable ASCII characters
//! user_pin = "12345678"              # 4–64 bytes; a quoted string
//! max_pin_retries = 10               # optional, 1–255, default 10
//! state_file = "gt0001.pin-state"    # optional, default "<serial>.pin-state"
//!
//! # One [[token.key]] per key pair: a certificate, a public key and a private key object.
//! [[token.key]]
//! id = "01"                          # hex, CKA_ID of all three objects, unique per token
//! label = "Иванов Иван Иванович"     # CKA_LABEL of all three objects
//! certificate = "user.pem"           # X.509, PEM or DER
//! private_key = "user.key"           # PKCS#8 from OpenSSL + gost engine, PEM or DER
//! ```
//!
//! Relative paths are relative to the configuration file's directory. Unknown keys are errors.
//! The PIN retry counter lives in `state_file` (see [`crate::pin_state`]).
//!
//! Errors never quote a PIN: TOML syntax errors are reported by line and message only (without
//! the source excerpt), and a `user_pin` of the wrong type is reported without its value.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The environment variable naming the configuration file.
pub const ENV_VAR: &str = "TOKENCONFIRM_GOST_TOKEN_CONF";
/// `max_pin_retries` when the file does not set it (the factory default of common Russian
/// tokens' user PIN).
pub const DEFAULT_MAX_PIN_RETRIES: u32 = 10;
/// Shortest user PIN accepted (`ulMinPinLen`).
pub const MIN_PIN_LEN: usize = 4;
/// Longest user PIN accepted (`ulMaxPinLen`).
pub const MAX_PIN_LEN: usize = 64;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `$TOKENCONFIRM_GOST_TOKEN_CONF` is not set.
    #[error("${ENV_VAR} is not set (it must name the token configuration file)")]
    EnvUnset,
    /// A file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is not valid TOML of the expected shape.
    #[error("{path}: line {line}: {message}")]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// The parser's message (no source excerpt).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: {what}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// Which token / key / field.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A key or certificate file does not decode.
    #[error("{path}: {source}")]
    Key {
        /// The key or certificate file.
        path: PathBuf,
        /// Why.
        source: crate::key::KeyError,
    },
    /// The PIN retry counter file is unreadable.
    #[error("{0}")]
    State(#[from] crate::pin_state::StateError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default, rename = "token")]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    label: String,
    serial: String,
    /// Taken as a generic value so that a mistyped PIN is never echoed by serde's error.
    user_pin: toml::Value,
    max_pin_retries: Option<i64>,
    pin_pad_entry: Option<toml::Value>,
    state_file: Option<PathBuf>,
    mechanisms: Option<Vec<String>>,
    #[serde(default, rename = "key")]
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: String,
    label: String,
    certificate: PathBuf,
    private_key: PathBuf,
}

/// The parsed configuration (files not yet read).
#[derive(Debug)]
pub struct Config {
    /// The configuration file (for messages).
    pub path: PathBuf,
    /// One entry per slot.
    pub tokens: Vec<TokenConfig>,
}

/// One token (slot).
pub struct TokenConfig {
    /// Token label (≤ 32 bytes).
    pub label: String,
    /// Serial number (≤ 16 printable ASCII).
    pub serial: String,
    /// The user PIN (wiped on drop, never printed).
    pub user_pin: Zeroizing<Vec<u8>>,
    /// Simulated PIN pad: the token sets CKF_PROTECTED_AUTHENTICATION_PATH and a C_Login with
    /// a NULL PIN checks this entry as if the citizen typed it on the reader (wiped on drop).
    pub pin_pad_entry: Option<Zeroizing<Vec<u8>>>,
    /// Consecutive wrong PINs that lock the PIN.
    pub max_pin_retries: u32,
    /// The retry counter file (absolute or relative to the working directory).
    pub state_file: PathBuf,
    /// The mechanisms the token offers (all four unless the file restricts them, to play a
    /// token that only has the raw or only the hashing ones).
    pub mechanisms: Vec<crate::mechanism::Mechanism>,
    /// Key pairs.
    pub keys: Vec<KeyConfig>,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("label", &self.label)
            .field("serial", &self.serial)
            .field("user_pin", &"<redacted>")
            .field("pin_pad", &self.pin_pad_entry.is_some())
            .field("max_pin_retries", &self.max_pin_retries)
            .field("state_file", &self.state_file)
            .field("mechanisms", &self.mechanisms)
            .field("keys", &self.keys)
            .finish()
    }
}

/// One key pair.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// `CKA_LABEL`.
    pub label: String,
    /// Certificate file.
    pub certificate: PathBuf,
    /// Private key file.
    pub private_key: PathBuf,
}

/// Decodes hex (upper or lower case, even length, optional `:` or space separators).
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b':' && *b != b' ').collect();
    if digits.is_empty() || digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map(|before| before.bytes().filter(|b| *b == b'\n').count() + 1)
        .unwrap_or(0)
}

/// Parses configuration text; relative paths are resolved against `base_dir`. `path` is used in
/// messages only. Reads no files.
pub fn parse(text: &str, path: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
        message: e.message().to_owned(),
    })?;
    let invalid = |what: String, message: &str| ConfigError::Invalid {
        path: path.to_owned(),
        what,
        message: message.to_owned(),
    };
    if raw.tokens.is_empty() {
        return Err(invalid("[[token]]".into(), "no token configured"));
    }
    let mut tokens = Vec::with_capacity(raw.tokens.len());
    for (t, token) in raw.tokens.into_iter().enumerate() {
        let what = |field: &str| format!("token #{} {field}", t + 1);
        if token.label.is_empty() || token.label.len() > 32 {
            return Err(invalid(what("label"), "must be 1 to 32 bytes"));
        }
        if token.serial.is_empty()
            || token.serial.len() > 16
            || !token
                .serial
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(invalid(
                what("serial"),
                "must be 1 to 16 printable ASCII characters",
            ));
        }
        let user_pin = match token.user_pin {
            toml::Value::String(pin) => Zeroizing::new(pin.into_bytes()),
            _ => return Err(invalid(what("user_pin"), "must be a quoted string")),
        };
        if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&user_pin.len()) {
            return Err(invalid(
                what("user_pin"),
                &format!("must be {MIN_PIN_LEN} to {MAX_PIN_LEN} bytes long"),
            ));
        }
        let pin_pad_entry = match token.pin_pad_entry {
            None => None,
            Some(toml::Value::String(entry)) => Some(Zeroizing::new(entry.into_bytes())),
            Some(_) => return Err(invalid(what("pin_pad_entry"), "must be a quoted string")),
        };
        let max_pin_retries = match token.max_pin_retries {
            None => DEFAULT_MAX_PIN_RETRIES,
            Some(n) if (1..=255).contains(&n) => n as u32,
            Some(_) => return Err(invalid(what("max_pin_retries"), "must be 1 to 255")),
        };
        let state_file = base_dir.join(
            token
                .state_file
                .unwrap_or_else(|| PathBuf::from(format!("{}.pin-state", token.serial))),
        );
        let mechanisms = match token.mechanisms {
            None => crate::mechanism::ALL.to_vec(),
            Some(names) => {
                let mut list = Vec::with_capacity(names.len());
                for name in &names {
                    let m = crate::mechanism::Mechanism::from_name(name).ok_or_else(|| {
                        invalid(
                            what("mechanisms"),
                            "names CKM_GOSTR3410, CKM_GOSTR3410_512, \
                             CKM_GOSTR3410_WITH_GOSTR3411_12_256 or _12_512 only",
                        )
                    })?;
                    if !list.contains(&m) {
                        list.push(m);
                    }
                }
                if list.is_empty() {
                    return Err(invalid(what("mechanisms"), "must name at least one"));
                }
                list
            }
        };
        let mut keys: Vec<KeyConfig> = Vec::with_capacity(token.keys.len());
        for (k, key) in token.keys.into_iter().enumerate() {
            let what = |field: &str| format!("token #{} key #{} {field}", t + 1, k + 1);
            let id =
                decode_hex(&key.id).ok_or_else(|| invalid(what("id"), "must be non-empty hex"))?;
            if keys.iter().any(|other| other.id == id) {
                return Err(invalid(what("id"), "is used by another key of this token"));
            }
            keys.push(KeyConfig {
                id,
                label: key.label,
                certificate: base_dir.join(key.certificate),
                private_key: base_dir.join(key.private_key),
            });
        }
        tokens.push(TokenConfig {
            label: token.label,
            serial: token.serial,
            user_pin,
            pin_pad_entry,
            max_pin_retries,
            state_file,
            mechanisms,
            keys,
        });
    }
    Ok(Config {
        path: path.to_owned(),
        tokens,
    })
}

/// Reads and parses the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
        );
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(&text, path, base)
}

/// The configuration named by `$TOKENCONFIRM_GOST_TOKEN_CONF`.
pub fn load_from_env() -> Result<Config, ConfigError> {
    let path = std::env::var_os(ENV_VAR).ok_or(ConfigError::EnvUnset)?;
    load(Path::new(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("/etc/t.toml"), Path::new("/etc/tok"))
    }

    const GOOD: &str = r#"
[[token]]
label = "test token"
serial = "GT0001"
user_pin = "12345678"

[[token.key]]
id = "0A:1b"
label = "Иванов"
certificate = "u.pem"
private_key = "/abs/u.key"

[[token]]
label = "second"
serial = "GT0002"
user_pin = "87654321"
max_pin_retries = 3
state_file = "s/second.state"
"#;

    #[test]
    fn the_documented_format_parses() {
        let c = p(GOOD).unwrap();
        assert_eq!(c.tokens.len(), 2);
        let t = &c.tokens[0];
        assert_eq!(t.max_pin_retries, DEFAULT_MAX_PIN_RETRIES);
        assert_eq!(t.state_file, Path::new("/etc/tok/GT0001.pin-state"));
        assert_eq!(&t.user_pin[..], b"12345678");
        assert_eq!(t.keys[0].id, vec![0x0a, 0x1b]);
        assert_eq!(t.keys[0].certificate, Path::new("/etc/tok/u.pem"));
        assert_eq!(t.keys[0].private_key, Path::new("/abs/u.key"));
        assert_eq!(c.tokens[1].max_pin_retries, 3);
        assert_eq!(c.tokens[1].state_file, Path::new("/etc/tok/s/second.state"));
        assert!(!format!("{c:?}").contains("12345678"));
    }

    #[test]
    fn mechanisms_can_be_restricted_by_name() {
        let base = "[[token]]\nlabel=\"a\"\nserial=\"b\"\nuser_pin=\"12345678\"\n";
        assert_eq!(p(base).unwrap().tokens[0].mechanisms.len(), 4);
        let raw_only = format!("{base}mechanisms=[\"CKM_GOSTR3410\", \"CKM_GOSTR3410_512\"]\n");
        assert_eq!(
            p(&raw_only).unwrap().tokens[0].mechanisms,
            [
                crate::mechanism::Mechanism::Raw256,
                crate::mechanism::Mechanism::Raw512
            ]
        );
        for bad in ["mechanisms=[]\n", "mechanisms=[\"CKM_ECDSA\"]\n"] {
            let e = p(&format!("{base}{bad}")).unwrap_err().to_string();
            assert!(e.contains("mechanisms"), "{e}");
        }
    }

    #[test]
    fn errors_never_quote_the_pin() {
        for (text, needle) in [
            (
                "[[token]]\nlabel=\"a\"\nserial=\"b\"\nuser_pin=98765432\n",
                "user_pin",
            ),
            (
                "[[token]]\nlabel=\"a\"\nserial=\"b\"\nuser_pin=\"98765432\nx",
                "line",
            ),
            (
                "[[token]]\nlabel=\"a\"\nserial=\"b\"\nuser_pin=98765432x\n",
                "line",
            ),
            (
                "[[token]]\nlabel=\"a\"\nserial=\"b\"\nuser_pin=\"987\"\n",
                "user_pin",
            ),
        ] {
            let e = p(text).unwrap_err().to_string();
            assert!(!e.contains("98765432") && !e.contains("987\""), "{e}");
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let base = "[[token]]\nlabel=\"a\"\nserial=\"b\"\nuser_pin=\"1234\"\n";
        for (extra, needle) in [
            ("max_pin_retries = 0\n", "max_pin_retries"),
            ("max_pin_retries = 256\n", "max_pin_retries"),
            ("bogus = 1\n", "bogus"),
            ("[[token.key]]\nid=\"zz\"\nlabel=\"l\"\ncertificate=\"c\"\nprivate_key=\"k\"\n", "id"),
            (
                "[[token.key]]\nid=\"01\"\nlabel=\"l\"\ncertificate=\"c\"\nprivate_key=\"k\"\n[[token.key]]\nid=\"01\"\nlabel=\"m\"\ncertificate=\"c\"\nprivate_key=\"k\"\n",
                "another key",
            ),
        ] {
            let e = p(&format!("{base}{extra}")).unwrap_err().to_string();
            assert!(e.contains(needle), "{extra}: {e}");
        }
        assert!(p("").unwrap_err().to_string().contains("no token"));
        assert!(p("[[token]]\nlabel=\"123456789012345678901234567890123\"\nserial=\"b\"\nuser_pin=\"1234\"\n").is_err());
        assert!(
            p("[[token]]\nlabel=\"a\"\nserial=\"12345678901234567\"\nuser_pin=\"1234\"\n").is_err()
        );
        assert!(matches!(
            load(Path::new("/nonexistent/tokenconfirm.toml")),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn hex_ids() {
        assert_eq!(decode_hex("00ff"), Some(vec![0, 255]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex(""), None);
        assert_eq!(decode_hex("gg"), None);
        assert_eq!(decode_hex("é0"), None);
    }
}
