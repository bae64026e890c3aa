//! Test support: a real SoftHSM token with a test PKI (made by tests/fixtures/make-token.sh),
//! fresh challenges, and OpenSSL as the verification oracle.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The fixture: paths and values from the env file.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

impl Fixture {
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{key} missing from fixture env"))
    }
    pub fn module(&self) -> PathBuf {
        PathBuf::from(self.get("TOKENCONFIRM_TEST_MODULE"))
    }
    pub fn pki(&self, file: &str) -> PathBuf {
        Path::new(self.get("TOKENCONFIRM_TEST_PKI")).join(file)
    }
    pub fn softhsm_conf(&self) -> &str {
        self.get("SOFTHSM2_CONF")
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Creates a token in a fresh temp dir.
pub fn make_token() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("token");
    let script = repo_root().join("tests/fixtures/make-token.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .output()
        .expect("run make-token.sh");
    assert!(
        status.status.success(),
        "make-token.sh failed (install softhsm2, opensc, openssl: see README):\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let env_text = std::fs::read_to_string(out.join("env")).expect("env file");
    let env = env_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect();
    Fixture { dir, env }
}

/// The fixture shared by all tests of one test binary; also points this process's SoftHSM at
/// it (SoftHSM reads SOFTHSM2_CONF once, at C_Initialize).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let f = make_token();
        std::env::set_var("SOFTHSM2_CONF", f.softhsm_conf());
        f
    })
}

/// Tests that touch SoftHSM run one at a time (concurrent C_Initialize can crash it, and
/// login state is per token).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh challenge for `origin`: random nonce, issued a minute ago, expiring in 4 minutes.
pub fn fresh_challenge(origin: &str) -> String {
    challenge_at(
        origin,
        time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    )
}

/// A challenge issued at `issued` with a 5-minute lifetime.
pub fn challenge_at(origin: &str, issued: time::OffsetDateTime) -> String {
    use tokenconfirm_wire::challenge::Timestamp;
    let mut nonce = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").expect("urandom");
    std::io::Read::read_exact(&mut urandom, &mut nonce).expect("random");
    serde_json::json!({
        "version": 1,
        "nonce": tokenconfirm_wire::b64::url_encode(&nonce),
        "origin": origin,
        "account": "acct-test-1",
        "purpose": "account-confirmation",
        "issuedAt": Timestamp::from_datetime(issued).to_string(),
        "expiresAt": Timestamp::from_datetime(issued + time::Duration::minutes(5)).to_string(),
    })
    .to_string()
}

/// Verifies a DER envelope with `openssl cms -verify` against the test root and returns the
/// encapsulated content. Panics with OpenSSL's message when verification fails.
pub fn openssl_verify(fixture: &Fixture, envelope_der: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("envelope.p7s");
    let content = dir.path().join("content");
    std::fs::write(&input, envelope_der).expect("write envelope");
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-purpose", "any", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(fixture.pki("root.pem"))
        .arg("-out")
        .arg(&content)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl cms -verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&content).expect("content")
}

/// `openssl cms -cmsout -print` of an envelope, for structural assertions.
pub fn openssl_print(envelope_der: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("envelope.p7s");
    std::fs::write(&input, envelope_der).expect("write envelope");
    let out = Command::new("openssl")
        .args(["cms", "-cmsout", "-print", "-inform", "DER", "-in"])
        .arg(&input)
        .output()
        .expect("run openssl");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The agent as a native-messaging host: a child process spoken to in frames (4-byte
/// native-endian length + JSON) on stdin/stdout.
pub struct Host {
    pub child: std::process::Child,
    pub stdin: Option<std::process::ChildStdin>,
    pub stdout: std::process::ChildStdout,
}

impl Host {
    /// Spawns `cmd` with piped stdin/stdout and stderr discarded.
    pub fn spawn(mut cmd: Command) -> Host {
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the agent");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        Host {
            child,
            stdin,
            stdout,
        }
    }
    pub fn send_raw(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write frame");
        stdin.flush().expect("flush");
    }
    pub fn send(&mut self, v: &serde_json::Value) {
        let body = serde_json::to_vec(v).expect("json");
        let mut frame = (body.len() as u32).to_ne_bytes().to_vec();
        frame.extend(body);
        self.send_raw(&frame);
    }
    pub fn recv(&mut self) -> serde_json::Value {
        use std::io::Read;
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).expect("reply length");
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        self.stdout.read_exact(&mut body).expect("reply body");
        serde_json::from_slice(&body).expect("reply is JSON")
    }
    pub fn call(&mut self, v: serde_json::Value) -> serde_json::Value {
        self.send(&v);
        self.recv()
    }
    /// Closes stdin; returns the exit code and anything left on stdout (must be nothing).
    pub fn finish(mut self) -> (i32, Vec<u8>) {
        use std::io::Read;
        drop(self.stdin.take());
        let mut rest = Vec::new();
        self.stdout.read_to_end(&mut rest).expect("read rest");
        let status = self.child.wait().expect("wait");
        (status.code().unwrap_or(-1), rest)
    }
}
