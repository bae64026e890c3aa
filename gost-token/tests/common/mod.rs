//! Shared helpers of the integration tests: the built module, a GOST PKI made by OpenSSL with
//! Debian's gost engine, token configurations, and the external tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tokenconfirm_gost::Size;
use tokenconfirm_gost_token::key::{parse_certificate, CertificateInfo};

/// The cdylib under test (see [`tokenconfirm_gost_token::built::module`]).
pub fn module() -> PathBuf {
    tokenconfirm_gost_token::built::module().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs OpenSSL in `dir`; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    openssl_env(dir, args, &[])
}

/// As [`openssl`], with extra environment variables.
pub fn openssl_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("openssl is not installed");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A test PKI in a fresh temporary directory: `tests/fixtures/make-gost-pki.sh` (root CA,
/// users on 256 TCA–TCD and 512 A–C, `user2` on a CryptoPro set under a 512-bit intermediate).
pub fn pki() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/make-gost-pki.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(dir.path())
        .stdout(Stdio::null())
        .status()
        .expect("bash");
    assert!(
        status.success(),
        "{} failed (is libengine-gost-openssl installed? scripts/deps.sh installs it)",
        script.display()
    );
    dir
}

/// A self-signed certificate and key `name.pem`/`name.key` in `dir` made by OpenSSL's gost
/// engine (`algorithm` gost2012_256/512, `paramset` as `-pkeyopt paramset:`), with `env`
/// (e.g. `GOST_PK_FORMAT=LEGACY_PK_WRAP`).
pub fn self_signed(dir: &Path, name: &str, algorithm: &str, paramset: &str, env: &[(&str, &str)]) {
    let md = if algorithm.ends_with("512") {
        "-md_gost12_512"
    } else {
        "-md_gost12_256"
    };
    openssl_env(
        dir,
        &[
            "req",
            "-engine",
            "gost",
            "-x509",
            "-newkey",
            algorithm,
            "-pkeyopt",
            &format!("paramset:{paramset}"),
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN=tokenconfirm gost-token test {name}"),
            "-days",
            "2",
            md,
        ],
        env,
    );
}

/// One key pair of a token configuration.
#[derive(Clone)]
pub struct KeySpec {
    /// Hex `CKA_ID`.
    pub id: String,
    /// `CKA_LABEL`.
    pub label: String,
    /// Certificate path.
    pub certificate: PathBuf,
    /// Private key path.
    pub private_key: PathBuf,
}

impl KeySpec {
    /// `stem.pem` / `stem.key` in `dir`.
    pub fn files(id: &str, dir: &Path, stem: &str) -> KeySpec {
        KeySpec {
            id: id.into(),
            label: stem.into(),
            certificate: dir.join(format!("{stem}.pem")),
            private_key: dir.join(format!("{stem}.key")),
        }
    }

    /// The decoded certificate.
    pub fn cert(&self) -> CertificateInfo {
        parse_certificate(&std::fs::read(&self.certificate).expect("certificate"))
            .expect("certificate decodes")
    }
}

/// One token of a configuration.
pub struct TokenSpec {
    /// Label.
    pub label: String,
    /// Serial.
    pub serial: String,
    /// User PIN.
    pub pin: String,
    /// `max_pin_retries`, if set.
    pub max_retries: Option<u32>,
    /// Keys.
    pub keys: Vec<KeySpec>,
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// Writes `dir/token.toml` for `tokens` and returns its path.
pub fn write_config(dir: &Path, tokens: &[TokenSpec]) -> PathBuf {
    let mut text = String::new();
    for t in tokens {
        text += &format!(
            "[[token]]\nlabel = {}\nserial = {}\nuser_pin = {}\n",
            quote(&t.label),
            quote(&t.serial),
            quote(&t.pin)
        );
        if let Some(n) = t.max_retries {
            text += &format!("max_pin_retries = {n}\n");
        }
        for k in &t.keys {
            text += &format!(
                "\n[[token.key]]\nid = {}\nlabel = {}\ncertificate = {}\nprivate_key = {}\n",
                quote(&k.id),
                quote(&k.label),
                quote(&k.certificate.to_string_lossy()),
                quote(&k.private_key.to_string_lossy())
            );
        }
        text += "\n";
    }
    let path = dir.join("token.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Runs `pkcs11-tool --module <module> args…` with `$TOKENCONFIRM_GOST_TOKEN_CONF` = `conf`.
pub fn pkcs11_tool(conf: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new("pkcs11-tool");
    cmd.arg("--module").arg(module()).args(args);
    cmd.env_remove("TOKENCONFIRM_GOST_TOKEN_CONF");
    if let Some(conf) = conf {
        cmd.env("TOKENCONFIRM_GOST_TOKEN_CONF", conf);
    }
    cmd.output()
        .expect("pkcs11-tool is not installed (apt-get install opensc)")
}

/// As [`pkcs11_tool`], asserting success; returns stdout.
pub fn pkcs11_tool_ok(conf: &Path, args: &[&str]) -> String {
    let out = pkcs11_tool(Some(conf), args);
    assert!(
        out.status.success(),
        "pkcs11-tool {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// 32 or 64.
pub fn bytes(size: Size) -> usize {
    match size {
        Size::Bits256 => 32,
        Size::Bits512 => 64,
    }
}

/// Lowercase hex.
pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
