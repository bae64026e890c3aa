//! The agent's configuration file (TOML) and where it lives.
//!
//! Location, first found wins: `--config FILE`, `$TOKENCONFIRM_CONFIG`,
//! `<XDG config dir>/tokenconfirm/agent.toml` (platform equivalent on macOS/Windows). A missing
//! file means defaults; a file that exists but is invalid is an error, never silently ignored.

use crate::error::{AgentError, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokenconfirm_wire::error::ErrorCode;

/// How the agent asks for a PIN when the request does not carry one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinPromptKind {
    /// GnuPG pinentry over Assuan.
    #[default]
    Pinentry,
    /// Never ask: a request without a PIN fails with `pin-required` (unless a PIN pad is used).
    None,
}

/// Where the citizen types the PIN when the browser extension asks for a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinDialog {
    /// In the extension's confirmation window (the PIN travels in the `sign` request).
    #[default]
    Window,
    /// In the agent's own pinentry dialog: the agent advertises `pin-dialog-agent` and the
    /// extension sends `sign` without a PIN (needs `pin_prompt = "pinentry"`).
    Agent,
}

/// Which RSA signature scheme to use when the token offers both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RsaScheme {
    /// RSASSA-PKCS1-v1_5 (widest verifier support).
    #[default]
    Pkcs1,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    Pss,
}

/// Parsed `agent.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PKCS#11 modules to load, before the discovered ones.
    #[serde(default)]
    pub modules: Vec<PathBuf>,
    /// Also load modules registered with p11-kit and found at known vendor locations.
    #[serde(default = "yes")]
    pub discover: bool,
    /// How to ask for a PIN when the request carries none.
    #[serde(default)]
    pub pin_prompt: PinPromptKind,
    /// The pinentry program; default: `pinentry` from PATH.
    #[serde(default)]
    pub pinentry_program: Option<PathBuf>,
    /// Where the extension's users type the PIN.
    #[serde(default)]
    pub pin_dialog: PinDialog,
    /// RSA scheme preference.
    #[serde(default)]
    pub rsa_scheme: RsaScheme,
    /// Write logs here instead of stderr.
    #[serde(default)]
    pub log_file: Option<PathBuf>,
    /// `error`, `warn`, `info`, `debug` or `trace` (an `EnvFilter` directive).
    #[serde(default)]
    pub log_level: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            modules: Vec::new(),
            discover: true,
            pin_prompt: PinPromptKind::default(),
            pinentry_program: None,
            pin_dialog: PinDialog::default(),
            rsa_scheme: RsaScheme::default(),
            log_file: None,
            log_level: None,
        }
    }
}

/// The default configuration file location for this platform.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tokenconfirm")
        .map(|dirs| dirs.config_dir().join("agent.toml"))
}

/// The configuration file in effect: explicit path, `$TOKENCONFIRM_CONFIG`, or the default.
pub fn effective_path(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("TOKENCONFIRM_CONFIG").map(PathBuf::from))
        .or_else(default_path)
}

/// Loads the configuration. An explicitly named file must exist; the default one may not.
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
    let Some(path) = effective_path(explicit) else {
        return Ok((Config::default(), None));
    };
    let must_exist = explicit.is_some() || std::env::var_os("TOKENCONFIRM_CONFIG").is_some();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok((Config::default(), None))
        }
        Err(e) => {
            return Err(AgentError::new(
                ErrorCode::Config,
                format!("{}: {e}", path.display()),
            ))
        }
    };
    let config = parse(&text).map_err(|e| {
        AgentError::new(
            ErrorCode::Config,
            format!("{}: {}", path.display(), e.detail),
        )
    })?;
    Ok((config, Some(path)))
}

/// Parses configuration text.
pub fn parse(text: &str) -> Result<Config> {
    toml::from_str(text).map_err(|e| AgentError::new(ErrorCode::Config, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_file() {
        assert_eq!(parse("").unwrap(), Config::default());
        let c = parse(
            "modules = [\"/usr/lib/softhsm/libsofthsm2.so\"]\ndiscover = false\npin_prompt = \"none\"\nrsa_scheme = \"pss\"\n",
        )
        .unwrap();
        assert!(!c.discover);
        assert_eq!(c.pin_prompt, PinPromptKind::None);
        assert_eq!(c.rsa_scheme, RsaScheme::Pss);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = parse("modules = []\nmodule = \"x\"\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::Config);
        assert!(e.detail.contains("module"), "{}", e.detail);
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let e = load(Some(Path::new("/nonexistent/tokenconfirm.toml"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::Config);
    }
}
