//! GOST end to end: the agent CLI signs confirmation statements with GOST R 34.10-2012 keys
//! on the software GOST PKCS#11 token (gost-token/), and both the project's verifier (the
//! `qualified` profile, with revocation) and `openssl cms -verify` with Debian's gost engine
//! accept the envelopes. Keys and certificates are made at test time by
//! tests/fixtures/make-gost-pki.sh (OpenSSL + gost engine).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Settings, UnixTime};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_verify::trust::{self, TrustStore};
use tokenconfirm_verify::verify::Context;

const ORIGIN: &str = "https://portal.example";
const PIN: &str = "12345678";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A GOST PKI and a two-token configuration: "full" offers every mechanism (the agent takes
/// the TC26 hashing ones), "raw" offers only CKM_GOSTR3410 / CKM_GOSTR3410_512 (the agent
/// hashes with Streebog itself).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = Command::new("bash")
            .arg(repo().join("tests/fixtures/make-gost-pki.sh"))
            .arg(dir.path())
            .status()
            .expect("bash");
        assert!(
            made.success(),
            "make-gost-pki.sh failed (libengine-gost-openssl missing? scripts/deps.sh installs it)"
        );
        let key = |id: &str, stem: &str| {
            format!(
                "[[token.key]]\nid = \"{id}\"\nlabel = \"{stem}\"\ncertificate = \"{stem}.pem\"\nprivate_key = \"{stem}.key\"\n"
            )
        };
        let config = format!(
            "[[token]]\nlabel = \"GOST full\"\nserial = \"GF0001\"\nuser_pin = \"{PIN}\"\n{}{}{}\
             [[token]]\nlabel = \"GOST raw\"\nserial = \"GR0001\"\nuser_pin = \"{PIN}\"\n\
             mechanisms = [\"CKM_GOSTR3410\", \"CKM_GOSTR3410_512\"]\n{}{}",
            key("01", "user-256-TCA"),
            key("02", "user-512-A"),
            key("03", "user2"),
            key("11", "user-256-TCB"),
            key("12", "user-512-C"),
        );
        std::fs::write(dir.path().join("gost-token.toml"), config).expect("config");
        std::fs::write(dir.path().join("agent.toml"), "").expect("agent config");
        // OpenSSL's cms has no -untrusted: its store gets the root and the intermediate.
        let chain = [
            std::fs::read(dir.path().join("root.pem")).expect("root"),
            std::fs::read(dir.path().join("intermediate.pem")).expect("intermediate"),
        ]
        .concat();
        std::fs::write(dir.path().join("chain.pem"), chain).expect("chain");
        Setup { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn agent(&self) -> Command {
        let module = tokenconfirm_gost_token::built::module().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"));
        cmd.env("TOKENCONFIRM_GOST_TOKEN_CONF", self.path("gost-token.toml"))
            .env("TOKENCONFIRM_CONFIG", self.path("agent.toml"))
            .env_remove("TOKENCONFIRM_LOG")
            .arg("--module")
            .arg(module);
        cmd
    }

    fn sign(&self, id: &str, pin: &str) -> (Output, PathBuf) {
        let challenge = self.path(&format!("challenge-{id}.json"));
        std::fs::write(&challenge, common::fresh_challenge(ORIGIN)).expect("challenge");
        let out_file = self.path(&format!("envelope-{id}.p7s"));
        let out = self
            .agent()
            .env("TEST_PIN", pin)
            .args(["sign", "--origin", ORIGIN, "--cert", id])
            .args(["--pin-from-env", "TEST_PIN", "--challenge"])
            .arg(&challenge)
            .arg("--out")
            .arg(&out_file)
            .output()
            .expect("run the agent");
        (out, out_file)
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `openssl cms -verify` with the gost engine; returns the encapsulated content.
fn openssl_verify(s: &Setup, envelope: &Path) -> Vec<u8> {
    let content = envelope.with_extension("content");
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-engine", "gost", "-inform", "DER"])
        .args(["-purpose", "any", "-in"])
        .arg(envelope)
        .arg("-CAfile")
        .arg(s.path("chain.pem"))
        .arg("-out")
        .arg(&content)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl cms -verify (gost engine) refused {}: {}",
        envelope.display(),
        stderr(&out)
    );
    std::fs::read(&content).expect("content")
}

fn openssl_print(envelope: &Path) -> String {
    let out = Command::new("openssl")
        .args([
            "cms", "-cmsout", "-print", "-engine", "gost", "-inform", "DER", "-in",
        ])
        .arg(envelope)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gost_agent_signs_on_the_soft_token_and_openssl_and_the_verifier_accept() {
    let s = Setup::new();
    let mut store = TrustStore::new();
    store.add_path(&s.path("root.pem")).expect("root");
    let mut crl_ders = trust::load_crls(&s.path("root.crl.pem")).expect("crl");
    crl_ders.extend(trust::load_crls(&s.path("intermediate.crl.pem")).expect("crl"));
    let crls = CrlSet::parse(&crl_ders).expect("crls");
    let intermediate: Vec<_> = trust::load_certificates(&s.path("intermediate.pem"))
        .expect("intermediate")
        .into_iter()
        .map(|(_, cert)| cert)
        .collect();
    let settings = Settings::default();
    let ctx = Context {
        trust: &store,
        untrusted: &intermediate,
        crls: &crls,
        profile: Profile::Qualified,
        settings: &settings,
        cache: None,
    };
    let at = UnixTime::from_datetime(time::OffsetDateTime::now_utc());

    // (id, key size, what the token offers → which mechanism the agent must use)
    for (id, bits, how) in [
        (
            "01",
            256,
            "TC26 CKM_GOSTR3410_WITH_GOSTR3411_12_256 (token hashes)",
        ),
        (
            "02",
            512,
            "TC26 CKM_GOSTR3410_WITH_GOSTR3411_12_512 (token hashes)",
        ),
        ("03", 256, "CryptoPro-A key under a GOST-512 intermediate"),
        ("11", 256, "CKM_GOSTR3410 over the agent's Streebog-256"),
        ("12", 512, "CKM_GOSTR3410_512 over the agent's Streebog-512"),
    ] {
        let (out, envelope) = s.sign(id, PIN);
        assert!(out.status.success(), "sign {id} ({how}): {}", stderr(&out));
        let der = std::fs::read(&envelope).expect("envelope");

        let verified = ctx
            .verify_cms(&der, None, at)
            .unwrap_or_else(|e| panic!("tokenconfirm-verify refused {id} ({how}): {e}"));
        assert_eq!(verified.identity.snils.as_deref(), Some("11223344595"));
        assert!(verified.path.revocation_checked, "{id}");
        let statement = String::from_utf8(verified.content.clone()).expect("utf-8");
        assert!(
            statement.contains(&format!("\"origin\":\"{ORIGIN}\"")),
            "{statement}"
        );

        assert_eq!(openssl_verify(&s, &envelope), verified.content, "{id}");

        // The algorithm identifiers as OpenSSL and CryptoPro write them: Streebog digest, the
        // key algorithm as signatureAlgorithm, a 2×(bits/8)-byte s‖r signature.
        let printed = openssl_print(&envelope);
        let (digest, key) = if bits == 256 {
            (
                "GOST R 34.11-2012 with 256 bit hash",
                "GOST R 34.10-2012 with 256 bit modulus",
            )
        } else {
            (
                "GOST R 34.11-2012 with 512 bit hash",
                "GOST R 34.10-2012 with 512 bit modulus",
            )
        };
        assert!(
            printed.contains(digest) && printed.contains(key),
            "{id}: {printed}"
        );
        println!("GOST {bits} ({how}): agent envelope verified by tokenconfirm-verify and OpenSSL");
    }
}

#[test]
fn gost_wrong_pin_is_refused_with_the_pin_code_and_nothing_is_written() {
    let s = Setup::new();
    let (out, envelope) = s.sign("01", "00000000");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pin-incorrect"), "{}", stderr(&out));
    assert!(!envelope.exists(), "no envelope after a refused PIN");
    // The right PIN still works (and resets the token's counter).
    let (out, envelope) = s.sign("01", PIN);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(envelope.exists());
}

#[test]
fn gost_certificates_are_listed_with_their_key_kind() {
    let s = Setup::new();
    let out = s.agent().args(["list", "--json"]).output().expect("agent");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let certs = v["certificates"].as_array().expect("certificates");
    assert_eq!(certs.len(), 5, "{v:#}");
    let kinds: Vec<&str> = certs.iter().filter_map(|c| c["keyType"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "gost2012-256").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "gost2012-512").count(),
        2,
        "{kinds:?}"
    );
}

/// A token behind a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH; the soft token's
/// `pin_pad_entry` plays the keypad): the agent reports `pinPad`, never asks for a PIN, logs in
/// with a NULL PIN and signs; a wrong entry on the pad is `pin-incorrect`.
#[test]
fn gost_pin_pad_token_logs_in_through_the_protected_path() {
    let s = Setup::new();
    let conf = |name: &str, serial: &str, entry: &str| {
        let path = s.path(name);
        std::fs::write(
            &path,
            format!(
                "[[token]]\nlabel = \"GOST pad\"\nserial = \"{serial}\"\nuser_pin = \"{PIN}\"\n\
                 pin_pad_entry = \"{entry}\"\n[[token.key]]\nid = \"01\"\nlabel = \"k\"\n\
                 certificate = \"user-256-TCA.pem\"\nprivate_key = \"user-256-TCA.key\"\n",
            ),
        )
        .expect("config");
        path
    };
    let right = conf("pad-right.toml", "GP0001", PIN);
    let list = s
        .agent()
        .env("TOKENCONFIRM_GOST_TOKEN_CONF", &right)
        .args(["list", "--json"])
        .output()
        .expect("agent");
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(v["certificates"][0]["token"]["pinPad"], true, "{v:#}");

    let sign = |conf: &Path, name: &str| {
        let challenge = s.path(&format!("{name}.json"));
        std::fs::write(&challenge, common::fresh_challenge(ORIGIN)).expect("challenge");
        let out_file = s.path(&format!("{name}.p7s"));
        // No PIN source at all: only the pad can log in.
        let out = s
            .agent()
            .env("TOKENCONFIRM_GOST_TOKEN_CONF", conf)
            .args(["sign", "--origin", ORIGIN, "--cert", "01", "--challenge"])
            .arg(&challenge)
            .arg("--out")
            .arg(&out_file)
            .output()
            .expect("agent");
        (out, out_file)
    };
    let (out, envelope) = sign(&right, "pad-right");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(envelope.exists());
    let (out, envelope) = sign(&conf("pad-wrong.toml", "GP0002", "00000000"), "pad-wrong");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pin-incorrect"), "{}", stderr(&out));
    assert!(!envelope.exists());
}
