//! Server configuration: a TOML file, overridden by command-line flags and environment
//! variables (`TOKENCONFIRM_*`), with safe defaults.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_wire::origin::Origin;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column).
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Requests allowed per minute for each rate-limited action (per client address, and per
/// session for challenges).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Login attempts.
    pub login_per_minute: u32,
    /// Account registrations (password or e-signature).
    pub registration_per_minute: u32,
    /// Challenges issued.
    pub challenges_per_minute: u32,
    /// New anonymous sessions.
    pub sessions_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login_per_minute: 10,
            registration_per_minute: 5,
            challenges_per_minute: 10,
            sessions_per_minute: 60,
        }
    }
}

/// Argon2id cost parameters for password hashes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordCost {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl Default for PasswordCost {
    /// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        PasswordCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// The file format (every key optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Database URL (`sqlite:PATH` or `postgres://…`).
    pub database: Option<String>,
    /// The public origin the portal is reached at (what signatures must name).
    pub public_origin: Option<String>,
    /// `qualified` (production) or `qualified-test`.
    pub profile: Option<String>,
    /// Trust anchors: PEM/DER files or directories.
    #[serde(default)]
    pub trust: Vec<PathBuf>,
    /// The Минцифры accredited-CA list (XML).
    pub tsl: Option<PathBuf>,
    /// Intermediate certificates for path building.
    #[serde(default)]
    pub untrusted: Vec<PathBuf>,
    /// CRLs: files or directories.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// Challenge lifetime, seconds (1–3600).
    pub challenge_ttl_seconds: Option<u64>,
    /// Session lifetime, seconds.
    pub session_ttl_seconds: Option<u64>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// Rate limits.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Password hashing cost.
    #[serde(default)]
    pub password_cost: PasswordCost,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL.
    pub database: String,
    /// The public origin.
    pub public_origin: Origin,
    /// Whether the origin was derived from `listen` (not configured).
    origin_from_listen: bool,
    /// Verification profile for certificates.
    pub profile: Profile,
    /// Trust anchors.
    pub trust: Vec<PathBuf>,
    /// Accredited-CA list.
    pub tsl: Option<PathBuf>,
    /// Untrusted intermediates.
    pub untrusted: Vec<PathBuf>,
    /// CRLs.
    pub crls: Vec<PathBuf>,
    /// Challenge lifetime.
    pub challenge_ttl: time::Duration,
    /// Session lifetime.
    pub session_ttl: time::Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Password hashing cost.
    pub password_cost: PasswordCost,
}

/// Values given on the command line or in the environment; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `TOKENCONFIRM_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--database` / `TOKENCONFIRM_DATABASE`.
    pub database: Option<String>,
    /// `--public-origin` / `TOKENCONFIRM_PUBLIC_ORIGIN`.
    pub public_origin: Option<String>,
    /// `--profile` / `TOKENCONFIRM_PROFILE`.
    pub profile: Option<String>,
    /// `--log-format` / `TOKENCONFIRM_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--trust` (added to the file's).
    pub trust: Vec<PathBuf>,
    /// `--crl` (added to the file's).
    pub crls: Vec<PathBuf>,
    /// `--untrusted` (added to the file's).
    pub untrusted: Vec<PathBuf>,
}

impl FileConfig {
    /// Reads and parses a config file. Relative paths inside it are taken relative to the
    /// file's directory.
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut file: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        file.trust.iter_mut().for_each(fix);
        file.untrusted.iter_mut().for_each(fix);
        file.crls.iter_mut().for_each(fix);
        if let Some(t) = file.tsl.as_mut() {
            fix(t);
        }
        Ok(file)
    }
}

impl Config {
    /// Combines the file (if any) and the overrides, and checks every value.
    pub fn resolve(file: FileConfig, over: Overrides) -> Result<Config, ConfigError> {
        let listen = over
            .listen
            .or(file.listen)
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let database = over
            .database
            .or(file.database)
            .unwrap_or_else(|| "sqlite:tokenconfirm.db".to_owned());
        let configured_origin = over.public_origin.or(file.public_origin);
        let origin_from_listen = configured_origin.is_none();
        let origin_text = configured_origin.unwrap_or_else(|| {
            // Port 0 is replaced by the bound port in `bound_to`.
            let mut shown = listen;
            if shown.port() == 0 {
                shown.set_port(1);
            }
            format!("http://{shown}")
        });
        let public_origin = Origin::parse(&origin_text)
            .map_err(|e| ConfigError::Invalid(format!("public origin {origin_text:?}: {e}")))?;
        let profile_name = over
            .profile
            .or(file.profile)
            .unwrap_or_else(|| "qualified".to_owned());
        let profile = match Profile::parse(&profile_name) {
            Some(p @ (Profile::Qualified | Profile::QualifiedTest)) => p,
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "profile {profile_name:?}: expected qualified or qualified-test"
                )))
            }
        };
        let ttl = file.challenge_ttl_seconds.unwrap_or(300);
        if !(1..=3600).contains(&ttl) {
            return Err(ConfigError::Invalid(
                "challenge_ttl_seconds must be 1 to 3600".into(),
            ));
        }
        let session_ttl = file.session_ttl_seconds.unwrap_or(8 * 3600);
        if !(60..=30 * 24 * 3600).contains(&session_ttl) {
            return Err(ConfigError::Invalid(
                "session_ttl_seconds must be 60 to 2592000".into(),
            ));
        }
        let log_format = match over.log_format.or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid(format!(
                    "log format {other:?}: expected text or json"
                )))
            }
        };
        let cost = file.password_cost;
        if cost.memory_kib < 8 || cost.iterations < 1 {
            return Err(ConfigError::Invalid("password_cost too low".into()));
        }
        let mut trust = file.trust;
        trust.extend(over.trust);
        let mut crls = file.crls;
        crls.extend(over.crls);
        let mut untrusted = file.untrusted;
        untrusted.extend(over.untrusted);
        if trust.is_empty() && file.tsl.is_none() {
            return Err(ConfigError::Invalid(
                "no trust anchors: give `trust` paths or a `tsl` CA list".into(),
            ));
        }
        Ok(Config {
            listen,
            database,
            public_origin,
            origin_from_listen,
            profile,
            trust,
            tsl: file.tsl,
            untrusted,
            crls,
            challenge_ttl: time::Duration::seconds(ttl as i64),
            session_ttl: time::Duration::seconds(session_ttl as i64),
            log_format,
            rate_limits: file.rate_limits,
            password_cost: cost,
        })
    }

    /// Records the address actually bound: without a configured public origin, the origin is
    /// `http://ADDR` of that address.
    pub fn bound_to(&mut self, local: SocketAddr) -> Result<(), ConfigError> {
        self.listen = local;
        if self.origin_from_listen {
            self.public_origin = Origin::parse(&format!("http://{local}"))
                .map_err(|e| ConfigError::Invalid(format!("origin of {local}: {e}")))?;
        }
        Ok(())
    }

    /// Whether cookies get the `Secure` attribute (the portal is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_origin.as_str().starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_trust() -> FileConfig {
        FileConfig {
            trust: vec!["roots.pem".into()],
            ..FileConfig::default()
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::resolve(with_trust(), Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_origin.as_str(), "http://127.0.0.1:8080");
        assert_eq!(c.profile, Profile::Qualified);
        assert!(!c.secure_cookies());
        let over = Overrides {
            public_origin: Some("https://portal.example".into()),
            profile: Some("qualified-test".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(with_trust(), over).unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.profile, Profile::QualifiedTest);
    }

    #[test]
    fn refuses_bad_values() {
        let bad_profile = Overrides {
            profile: Some("rfc5280".into()),
            ..Overrides::default()
        };
        assert!(Config::resolve(with_trust(), bad_profile).is_err());
        assert!(Config::resolve(FileConfig::default(), Overrides::default()).is_err());
        let ttl = FileConfig {
            challenge_ttl_seconds: Some(7200),
            ..with_trust()
        };
        assert!(Config::resolve(ttl, Overrides::default()).is_err());
        let e = toml::from_str::<FileConfig>("listen = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
