//! The `tokenconfirm-agent` CLI as an integrator runs it: real binary, real SoftHSM, OpenSSL.

mod common;

use common::{fixture, fresh_challenge, openssl_verify, serial, Fixture};
use std::process::{Command, Output};

const ORIGIN: &str = "https://portal.example";

fn agent(f: &Fixture) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"));
    cmd.env("SOFTHSM2_CONF", f.softhsm_conf())
        .env(
            "TOKENCONFIRM_CONFIG",
            f.dir.path().join("no-such-config-used.toml"),
        )
        .env_remove("TOKENCONFIRM_LOG")
        .arg("--module")
        .arg(f.module());
    // An explicit TOKENCONFIRM_CONFIG must exist; point it at an empty file instead.
    let config = f.dir.path().join("agent.toml");
    std::fs::write(&config, "").unwrap();
    cmd.env("TOKENCONFIRM_CONFIG", config);
    cmd
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_challenge(f: &Fixture, name: &str, origin: &str) -> std::path::PathBuf {
    let path = f.dir.path().join(name);
    std::fs::write(&path, fresh_challenge(origin)).unwrap();
    path
}

#[test]
fn list_json_shows_modules_tokens_and_certificates() {
    let _g = serial();
    let f = fixture();
    let out = agent(f).args(["list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["modules"][0]["loaded"], true);
    assert_eq!(v["modules"][0]["tokens"][0]["label"], "tokenconfirm-test");
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert!(certs.iter().all(|c| c["snils"] == "11223344595"));
}

#[test]
fn list_text_is_readable() {
    let _g = serial();
    let out = agent(fixture()).arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Иванов Иван Иванович") && text.contains("SNILS:   11223344595"),
        "{text}"
    );
}

#[test]
fn sign_ec_and_rsa_to_files_and_openssl_verifies() {
    let _g = serial();
    let f = fixture();
    let challenge = write_challenge(f, "c1.json", ORIGIN);
    for id in ["01", "02"] {
        let out_file = f.dir.path().join(format!("env-{id}.p7s"));
        let out = agent(f)
            .env("TEST_PIN", "123456")
            .args([
                "sign",
                "--origin",
                ORIGIN,
                "--cert",
                id,
                "--pin-from-env",
                "TEST_PIN",
                "--challenge",
            ])
            .arg(&challenge)
            .arg("--out")
            .arg(&out_file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "nothing on stdout with --out");
        assert!(
            stderr(&out).contains("openssl cms -verify"),
            "tells how to verify"
        );
        let content = openssl_verify(f, &std::fs::read(&out_file).unwrap());
        let text = String::from_utf8(content).unwrap();
        assert!(text.contains(&format!("\"origin\":\"{ORIGIN}\"")), "{text}");
    }
}

#[test]
fn sign_base64_to_stdout() {
    let _g = serial();
    let f = fixture();
    let challenge = write_challenge(f, "c2.json", ORIGIN);
    let out = agent(f)
        .env("TEST_PIN", "123456")
        .args([
            "sign",
            "--origin",
            ORIGIN,
            "--cert",
            "01",
            "--pin-from-env",
            "TEST_PIN",
            "--base64",
            "--challenge",
        ])
        .arg(&challenge)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let der = tokenconfirm_wire::b64::std_decode(&String::from_utf8(out.stdout).unwrap()).unwrap();
    openssl_verify(f, &der);
}

#[test]
fn the_documented_example_challenge_is_accepted() {
    let _g = serial();
    let f = fixture();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/challenge.json");
    let out = agent(f)
        .env("TEST_PIN", "123456")
        .args([
            "sign",
            "--origin",
            ORIGIN,
            "--cert",
            "01",
            "--pin-from-env",
            "TEST_PIN",
            "--base64",
            "--challenge",
        ])
        .arg(example)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

fn failing(f: &Fixture, origin: &str, args: &[&str], pin: &str) -> (i32, String) {
    let challenge = write_challenge(f, "c3.json", ORIGIN);
    let out = agent(f)
        .env("TEST_PIN", pin)
        .args([
            "sign",
            "--origin",
            origin,
            "--pin-from-env",
            "TEST_PIN",
            "--base64",
            "--challenge",
        ])
        .arg(&challenge)
        .args(args)
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "no envelope on failure");
    (out.status.code().unwrap_or(-1), stderr(&out))
}

#[test]
fn wrong_pin_fails_with_code_and_russian_message() {
    let _g = serial();
    let (code, err) = failing(fixture(), ORIGIN, &["--cert", "01"], "999999");
    assert_eq!(code, 1);
    assert!(
        err.contains("pin-incorrect") && err.contains("Неверный PIN-код"),
        "{err}"
    );
}

#[test]
fn unknown_certificate_id() {
    let _g = serial();
    let (code, err) = failing(fixture(), ORIGIN, &["--cert", "does-not-exist"], "123456");
    assert_eq!(code, 1);
    assert!(err.contains("certificate-not-found"), "{err}");
}

#[test]
fn module_path_that_does_not_exist() {
    let _g = serial();
    let f = fixture();
    let challenge = write_challenge(f, "c4.json", ORIGIN);
    let out = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"))
        .env("TEST_PIN", "123456")
        .args([
            "--module",
            "/nonexistent/libpkcs11.so",
            "sign",
            "--origin",
            ORIGIN,
            "--pin-from-env",
            "TEST_PIN",
            "--base64",
            "--challenge",
        ])
        .arg(&challenge)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("module-load-failed") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn no_token_present() {
    let _g = serial();
    let f = fixture();
    // A SoftHSM configuration whose token directory is empty: the module loads, no token.
    let empty = tempfile::tempdir().unwrap();
    let conf = empty.path().join("softhsm2.conf");
    std::fs::create_dir(empty.path().join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}/tokens\nobjectstore.backend = file\n",
            empty.path().display()
        ),
    )
    .unwrap();
    let challenge = write_challenge(f, "c5.json", ORIGIN);
    let out = agent(f)
        .env("SOFTHSM2_CONF", &conf)
        .env("TEST_PIN", "123456")
        .args([
            "sign",
            "--origin",
            ORIGIN,
            "--pin-from-env",
            "TEST_PIN",
            "--base64",
            "--challenge",
        ])
        .arg(&challenge)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no-token") && err.contains("Вставьте токен"),
        "{err}"
    );
}

#[test]
fn origin_mismatch_and_bad_challenge_are_usage_errors_or_refusals() {
    let _g = serial();
    let f = fixture();
    let (code, err) = failing(f, "https://phishing.example", &["--cert", "01"], "123456");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("origin-mismatch"), "{err}");
    let bad = f.dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"version\":1}").unwrap();
    let out = agent(f)
        .args(["sign", "--origin", ORIGIN, "--challenge"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid-challenge"));
    let out = agent(f)
        .args(["sign", "--origin", "http://portal.example", "--challenge"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn doctor_reports_module_and_token() {
    let _g = serial();
    let out = agent(fixture()).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("libsofthsm2.so") && text.contains("tokenconfirm-test"),
        "{text}"
    );
    assert!(text.contains("2 signing certificate(s)"), "{text}");
}

#[test]
fn ec_p384_key_signs_with_sha384_and_openssl_verifies() {
    let _g = serial();
    // A token of its own (the shared one keeps exactly its EC P-256 and RSA keys).
    let f = common::make_token();
    let dir = f.dir.path();
    let pki = f.pki("");
    let script = format!(
        r#"set -euo pipefail
cd {dir}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key 2>/dev/null
openssl req -new -key p384.key -utf8 -subj "/C=RU/SN=Петров/GN=Пётр Петрович/CN=Петров Пётр Петрович" -out p384.csr
printf 'keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > ext.cnf
openssl x509 -req -in p384.csr -CA {pki}/intermediate.pem -CAkey {pki}/intermediate.key -CAcreateserial -days 30 -extfile ext.cnf -out p384.pem 2>/dev/null
openssl x509 -in p384.pem -outform DER -out p384.der
softhsm2-util --import p384.key --token tokenconfirm-test --label p384 --id 03 --pin 123456 >/dev/null
pkcs11-tool --module {module} --token-label tokenconfirm-test --login --pin 123456 --write-object p384.der --type cert --id 03 --label p384 >/dev/null 2>&1
"#,
        dir = dir.display(),
        pki = pki.display(),
        module = f.module().display()
    );
    let setup = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("SOFTHSM2_CONF", f.softhsm_conf())
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let challenge = write_challenge(&f, "c384.json", ORIGIN);
    let out_file = dir.join("p384.p7s");
    let out = agent(&f)
        .env("TEST_PIN", "123456")
        .args([
            "sign",
            "--origin",
            ORIGIN,
            "--cert",
            "03",
            "--pin-from-env",
            "TEST_PIN",
            "--challenge",
        ])
        .arg(&challenge)
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let der = std::fs::read(&out_file).unwrap();
    openssl_verify(&f, &der);
    let printed = common::openssl_print(&der);
    assert!(
        printed.contains("ecdsa-with-SHA384") && printed.contains("sha384"),
        "{printed}"
    );
}

/// No pcscd: `readers` reports the state and what to install, in both languages, and does not
/// hang even when asked to wait (the client is pointed at a socket that does not exist).
#[test]
fn readers_without_pcscd_is_a_clear_state() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["readers", "--json"][..],
        &["readers", "--json", "--wait", "5"][..],
    ] {
        let started = std::time::Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"))
            .args(args)
            .env("PCSCLITE_CSOCK_NAME", dir.path().join("no-pcscd.comm"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["state"], "no-service", "{v}");
        assert!(v["messageEn"].as_str().unwrap().contains("pcscd"));
        assert!(v["messageRu"].as_str().unwrap().contains("pcscd"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{args:?} waited"
        );
    }
}
