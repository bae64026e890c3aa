//! A software PKCS#11 v2.40 token holding GOST R 34.10-2012 keys (256 and 512 bit), for tests
//! and for CA integrators who need a GOST "token" without hardware.
//!
//! # ⚠ TEST-ONLY SIGNING ⚠
//!
//! **The signing code in this crate is NOT constant-time.** Scalar multiplication is a plain
//! variable-time double-and-add, the private key sits in ordinary process memory, and the key
//! files are plain PKCS#8. Timing, cache and memory side channels leak the private key. Use it
//! with test keys only — never with a key that protects anything real.
//!
//! # What it is
//!
//! The `cdylib` build, `libtokenconfirm_gost_token.so`, is a PKCS#11 module: `C_GetFunctionList`
//! returns the standard v2.40 function list. It works with OpenSC's `pkcs11-tool`, with the
//! `cryptoki` crate (and so with `tokenconfirm-agent`), and with anything else that loads
//! PKCS#11 modules.
//!
//! Configuration comes from the TOML file named by `$TOKENCONFIRM_GOST_TOKEN_CONF`
//! ([`config::ENV_VAR`]); see [`config`] for the format. Each configured token is one slot
//! (slot ids `0, 1, …` in file order) holding, per key pair, an X.509 certificate object, a
//! public-key object and a private-key object. Keys and certificates are the files OpenSSL 3
//! with Debian's gost engine (`libengine-gost-openssl`) writes.
//!
//! A missing or invalid configuration makes `C_Initialize` fail with `CKR_GENERAL_ERROR`; the
//! reason (never a PIN) is printed to stderr.
//!
//! # Layout
//!
//! * [`ffi`] — the C ABI, the only module with `unsafe` code: pointer checks, copying in and
//!   out, `catch_unwind` around every entry point.
//! * [`token`] — the module state behind one global mutex: slots, sessions, login, objects,
//!   find, attributes, sign operations. Safe Rust.
//! * [`config`], [`key`], [`sign`], [`pin_state`], [`error`] — configuration, key and
//!   certificate parsing, GOST signing, the persisted PIN retry counter, the error type.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod key;
pub mod mechanism;
pub mod pin_state;
pub mod sign;
pub mod token;

pub use error::Error;

/// For tests in this workspace that load the module built alongside them.
pub mod built {
    use std::path::PathBuf;

    /// The shared library's file name.
    pub const FILE_NAME: &str = "libtokenconfirm_gost_token.so";

    /// The cdylib cargo built next to the running test binary (in its `deps/` directory or the
    /// profile directory above it), else under `$CARGO_TARGET_DIR` or `target/{debug,release}`;
    /// `$TOKENCONFIRM_GOST_TOKEN_MODULE` overrides. `Err` lists where it looked.
    pub fn module() -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os("TOKENCONFIRM_GOST_TOKEN_MODULE") {
            return Ok(PathBuf::from(path));
        }
        let mut candidates = Vec::new();
        if let Ok(exe) = std::env::current_exe() {
            if let Some(deps) = exe.parent() {
                candidates.push(deps.join(FILE_NAME));
                if let Some(profile) = deps.parent() {
                    candidates.push(profile.join(FILE_NAME));
                }
            }
        }
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        for profile in ["debug", "release"] {
            candidates.push(target.join(profile).join(FILE_NAME));
        }
        candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| {
                format!(
                    "{FILE_NAME} not found (looked at {candidates:?}); build it with \
                 `cargo build -p tokenconfirm-gost-token` or set TOKENCONFIRM_GOST_TOKEN_MODULE"
                )
            })
    }
}
