//! The agent as a browser starts it: real process, frames on stdin/stdout, real SoftHSM.

mod common;

use common::{challenge_at, fixture, fresh_challenge, openssl_verify, serial, Fixture, Host};
use serde_json::{json, Value};
use std::process::{Command, Stdio};

const ORIGIN: &str = "https://portal.example";

fn config(f: &Fixture, pin_prompt: &str) -> std::path::PathBuf {
    let path = f.dir.path().join(format!("agent-{pin_prompt}.toml"));
    let text = format!(
        "modules = [{:?}]\ndiscover = false\npin_prompt = {pin_prompt:?}\n",
        f.module()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A stand-in for GnuPG's pinentry speaking Assuan: answers every command with OK, logs the
/// description it was asked to show, and returns the PIN from $FAKE_PINENTRY_PIN.
fn fake_pinentry(f: &Fixture) -> std::path::PathBuf {
    let path = f.dir.path().join("fake-pinentry");
    let script = r#"#!/bin/bash
echo "OK Pleased to meet you"
while IFS= read -r line; do
  case "$line" in
    GETPIN*) echo "D $FAKE_PINENTRY_PIN"; echo "OK" ;;
    SETDESC*) printf '%s\n' "${line#SETDESC }" >> "$FAKE_PINENTRY_LOG"; echo "OK" ;;
    BYE*) echo "OK closing connection"; exit 0 ;;
    *) echo "OK" ;;
  esac
done
"#;
    std::fs::write(&path, script).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

/// Starts the host as Chromium does (first argument: the caller origin).
fn start(f: &Fixture, args: &[&str]) -> Host {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"));
    cmd.args(args)
        .env("SOFTHSM2_CONF", f.softhsm_conf())
        .env("TOKENCONFIRM_CONFIG", config(f, "none"));
    Host::spawn(cmd)
}

fn chrome(f: &Fixture) -> Host {
    start(f, &["chrome-extension://kgnbgkhkpnbnfhcnnmiegdekmgjbhdcg/"])
}

fn sign_request(id: &str, challenge: &str, origin: &str, cert: &str, pin: Option<&str>) -> Value {
    let mut v = json!({
        "id": id, "command": "sign", "origin": origin, "certificateId": cert,
        "challenge": serde_json::from_str::<Value>(challenge).unwrap(),
    });
    if let Some(pin) = pin {
        v["pin"] = json!(pin);
    }
    v
}

#[test]
fn hello_list_and_sign_through_native_messaging() {
    let _g = serial();
    let f = fixture();
    let mut host = chrome(f);
    let hello = host.call(json!({"id": 1, "command": "hello", "extensionVersion": "0.1.0"}));
    assert_eq!(hello["id"], 1);
    assert_eq!(hello["ok"], true);
    assert_eq!(hello["result"]["agent"], "tokenconfirm-agent");
    assert_eq!(hello["result"]["protocol"], 1);

    let list = host.call(json!({"id": "l", "command": "list-certificates"}));
    let certs = list["result"]["certificates"]
        .as_array()
        .expect("certificates");
    assert_eq!(certs.len(), 2);
    let ec = certs.iter().find(|c| c["keyType"] == "ec-p256").unwrap();
    let id = ec["id"].as_str().unwrap();
    assert_eq!(ec["snils"], "11223344595");

    let reply = host.call(sign_request(
        "s",
        &fresh_challenge(ORIGIN),
        ORIGIN,
        id,
        Some("123456"),
    ));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["certificateId"], id);
    let der =
        tokenconfirm_wire::b64::std_decode(reply["result"]["envelope"].as_str().unwrap()).unwrap();
    let content = openssl_verify(f, &der);
    assert_eq!(
        content,
        reply["result"]["statement"].as_str().unwrap().as_bytes()
    );

    let (code, rest) = host.finish();
    assert_eq!(code, 0, "clean exit on EOF");
    assert!(rest.is_empty(), "nothing but frames on stdout");
}

#[test]
fn sign_refusals_carry_stable_codes() {
    let _g = serial();
    let f = fixture();
    let mut host = chrome(f);
    let challenge = fresh_challenge(ORIGIN);
    let wrong = host.call(sign_request("a", &challenge, ORIGIN, "01", Some("111111")));
    assert_eq!(wrong["error"]["code"], "pin-incorrect", "{wrong}");
    assert_eq!(wrong["error"]["retriable"], true);
    assert_eq!(
        wrong["error"]["message"]["ru"]
            .as_str()
            .map(|s| s.starts_with("Неверный PIN-код")),
        Some(true)
    );
    assert!(wrong["error"]["details"]["pinFinalTry"].is_boolean());
    let no_pin = host.call(sign_request("b", &challenge, ORIGIN, "01", None));
    assert_eq!(no_pin["error"]["code"], "pin-required", "{no_pin}");
    let phishing = host.call(sign_request(
        "c",
        &challenge,
        "https://gosuslugi.example.evil",
        "01",
        Some("123456"),
    ));
    assert_eq!(phishing["error"]["code"], "origin-mismatch", "{phishing}");
    let old = challenge_at(
        ORIGIN,
        time::OffsetDateTime::now_utc() - time::Duration::minutes(20),
    );
    let expired = host.call(sign_request("d", &old, ORIGIN, "01", Some("123456")));
    assert_eq!(expired["error"]["code"], "challenge-expired", "{expired}");
    let unknown = host.call(sign_request(
        "e",
        &challenge,
        ORIGIN,
        "no-such-certificate",
        Some("123456"),
    ));
    assert_eq!(
        unknown["error"]["code"], "certificate-not-found",
        "{unknown}"
    );
    let insecure = host.call(sign_request(
        "f",
        &challenge,
        "http://portal.example",
        "01",
        Some("123456"),
    ));
    assert_eq!(
        insecure["error"]["code"], "origin-not-allowed",
        "{insecure}"
    );
    assert_eq!(host.finish().0, 0);
}

#[test]
fn firefox_style_launch_is_recognized() {
    let _g = serial();
    let f = fixture();
    let mut host = start(
        f,
        &[
            "/home/u/.mozilla/native-messaging-hosts/ru.tokenconfirm.agent.json",
            "agent@tokenconfirm.ru",
        ],
    );
    assert_eq!(
        host.call(json!({"id": "x", "command": "hello"}))["ok"],
        true
    );
    assert_eq!(host.finish().0, 0);
}

#[test]
fn bad_frames_get_error_replies_and_the_loop_continues() {
    let _g = serial();
    let f = fixture();
    let mut host = chrome(f);
    // invalid UTF-8
    host.send_raw(&[3, 0, 0, 0, 0xff, 0xfe, 0xfd]);
    let r = host.recv();
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (Value::Null, json!("invalid-utf8"))
    );
    // invalid JSON
    host.send_raw(&[5, 0, 0, 0, b'{', b'"', b'a', b'"', b':']);
    assert_eq!(host.recv()["error"]["code"], "invalid-json");
    // unknown command keeps the id
    let r = host.call(json!({"id": 9, "command": "format-token"}));
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(9), json!("unknown-command"))
    );
    // malformed challenge
    let r = host.call(json!({"id": 10, "command": "sign", "origin": ORIGIN, "certificateId": "x", "challenge": {"version": 1}}));
    assert_eq!(r["error"]["code"], "invalid-challenge");
    // cancel of nothing
    let r = host.call(json!({"id": 11, "command": "cancel", "target": "nothing"}));
    assert_eq!(r["result"]["cancelled"], false);
    // still alive
    assert_eq!(host.call(json!({"id": 12, "command": "hello"}))["ok"], true);
    assert_eq!(host.finish().0, 0);
}

#[test]
fn oversize_length_is_refused_with_a_frame_and_exit() {
    let _g = serial();
    let mut host = chrome(fixture());
    host.send_raw(&((1024 * 1024 + 1) as u32).to_ne_bytes());
    let r = host.recv();
    assert_eq!(r["error"]["code"], "frame-too-large");
    let (code, rest) = host.finish();
    assert_eq!(code, 3);
    assert!(rest.is_empty());
}

#[test]
fn eof_inside_a_frame_is_reported_and_exits() {
    let _g = serial();
    let mut host = chrome(fixture());
    host.send_raw(&[200, 0, 0, 0]);
    host.send_raw(b"{\"id\":1,\"comm");
    drop(host.stdin.take());
    let r = host.recv();
    assert_eq!(r["error"]["code"], "truncated-frame");
    assert_eq!(host.finish().0, 3);
    // EOF inside the length prefix.
    let mut host = chrome(fixture());
    host.send_raw(&[1, 0]);
    drop(host.stdin.take());
    assert_eq!(host.recv()["error"]["code"], "truncated-frame");
    assert_eq!(host.finish().0, 3);
}

#[test]
fn immediate_eof_is_a_clean_exit() {
    let _g = serial();
    let host = chrome(fixture());
    let (code, rest) = host.finish();
    assert_eq!(code, 0);
    assert!(rest.is_empty());
}

#[test]
fn pinentry_asks_for_the_pin_showing_origin_purpose_and_holder() {
    let _g = serial();
    let f = fixture();
    let program = fake_pinentry(f);
    let log = f.dir.path().join("pinentry.log");
    let config = f.dir.path().join("agent-pinentry.toml");
    std::fs::write(
        &config,
        format!("modules = [{:?}]\ndiscover = false\npin_prompt = \"pinentry\"\npinentry_program = {:?}\npin_dialog = \"agent\"\n", f.module(), program),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"))
        .arg("chrome-extension://kgnbgkhkpnbnfhcnnmiegdekmgjbhdcg/")
        .env("SOFTHSM2_CONF", f.softhsm_conf())
        .env("TOKENCONFIRM_CONFIG", &config)
        .env("FAKE_PINENTRY_PIN", "123456")
        .env("FAKE_PINENTRY_LOG", &log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    let mut host = Host {
        child,
        stdin,
        stdout,
    };
    let hello = host.call(json!({"id": 1, "command": "hello"}));
    assert!(
        hello["result"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("pinentry")),
        "{hello}"
    );
    // pin_dialog = "agent": the extension is told to leave the PIN to this dialog.
    assert!(
        hello["result"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("pin-dialog-agent")),
        "{hello}"
    );
    let mut req = sign_request("p", &fresh_challenge(ORIGIN), ORIGIN, "01", None);
    req["lang"] = json!("en");
    let reply = host.call(req);
    assert_eq!(reply["ok"], true, "{reply}");
    let der =
        tokenconfirm_wire::b64::std_decode(reply["result"]["envelope"].as_str().unwrap()).unwrap();
    openssl_verify(f, &der);
    let shown = std::fs::read_to_string(&log).unwrap();
    for expected in [
        "https://portal.example",
        "account confirmation",
        "acct-test-1",
        "Token: tokenconfirm-test",
    ] {
        assert!(
            shown.contains(expected),
            "pinentry description lacks {expected:?}: {shown}"
        );
    }
    assert_eq!(host.finish().0, 0);
}

/// Starts the host as Chromium does with extra environment variables.
fn chrome_with(f: &Fixture, config: &std::path::Path, envs: &[(&str, &std::path::Path)]) -> Host {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"));
    command
        .arg("chrome-extension://kgnbgkhkpnbnfhcnnmiegdekmgjbhdcg/")
        .env("SOFTHSM2_CONF", f.softhsm_conf())
        .env("TOKENCONFIRM_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    Host {
        child,
        stdin,
        stdout,
    }
}

/// No pcscd (the PC/SC client pointed at a socket that does not exist): `wait-for-token`
/// answers at once with a clear state instead of hanging or crashing, and the certificate list
/// says the same about the readers.
#[test]
fn wait_for_token_without_pcscd_is_a_clear_state() {
    let _g = serial();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("no-pcscd.comm");
    let mut host = chrome_with(f, &config(f, "none"), &[("PCSCLITE_CSOCK_NAME", &socket)]);
    let hello = host.call(json!({"id": 1, "command": "hello"}));
    let caps = hello["result"]["capabilities"].as_array().unwrap();
    for cap in ["wait-for-token", "pin-pad"] {
        assert!(caps.contains(&json!(cap)), "{cap} missing: {hello}");
    }
    let started = std::time::Instant::now();
    let reply = host.call(json!({"id": "w", "command": "wait-for-token", "timeoutMs": 60000}));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "waited"
    );
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["event"], "unavailable");
    let readers = &reply["result"]["readers"];
    assert_eq!(readers["state"], "no-service");
    assert!(readers["messageRu"].as_str().unwrap().contains("pcscd"));
    assert!(readers["messageEn"].as_str().unwrap().contains("pcscd"));
    // The list carries the same readers state and no hints; certificates as usual.
    let list = host.call(json!({"id": "l", "command": "list-certificates"}));
    assert_eq!(list["result"]["readers"]["state"], "no-service", "{list}");
    assert_eq!(list["result"]["hints"], json!([]));
    assert_eq!(list["result"]["certificates"].as_array().unwrap().len(), 2);
    // Malformed parameters are refused before anything waits.
    let bad = host.call(json!({"id": "b", "command": "wait-for-token", "timeoutMs": "soon"}));
    assert_eq!(bad["error"]["code"], "invalid-request");
    let (code, rest) = host.finish();
    assert_eq!(code, 0);
    assert!(rest.is_empty(), "nothing but frames on stdout");
}

/// SoftHSM only reads its token directory at C_Initialize. A token that appears after the
/// agent started (here: copied into an empty token directory) is found by a later
/// `list-certificates` without restarting the agent, because a module that showed no token is
/// re-initialized when idle; signing with it then works.
#[test]
fn a_token_that_appears_after_the_agent_started_is_found() {
    let _g = serial();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let socket = dir.path().join("no-pcscd.comm");
    let mut host = chrome_with(
        f,
        &config(f, "none"),
        &[("SOFTHSM2_CONF", &conf), ("PCSCLITE_CSOCK_NAME", &socket)],
    );
    let empty = host.call(json!({"id": 1, "command": "list-certificates"}));
    assert_eq!(empty["result"]["certificates"], json!([]), "{empty}");

    // "Insert" the token: copy the fixture's token directory.
    let fixture_tokens = std::path::Path::new(f.softhsm_conf())
        .parent()
        .unwrap()
        .join("tokens");
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture_tokens.display()))
        .arg(&tokens)
        .status()
        .unwrap();
    assert!(status.success());
    // An empty module is refreshed once it has been initialized for 4 seconds.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let list = host.call(json!({"id": 2, "command": "list-certificates"}));
    let certs = list["result"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{list}");
    let id = certs[0]["id"].as_str().unwrap();
    let reply = host.call(sign_request(
        "s",
        &fresh_challenge(ORIGIN),
        ORIGIN,
        id,
        Some("123456"),
    ));
    assert_eq!(reply["ok"], true, "{reply}");
    let der =
        tokenconfirm_wire::b64::std_decode(reply["result"]["envelope"].as_str().unwrap()).unwrap();
    openssl_verify(f, &der);
    assert_eq!(host.finish().0, 0);
}
