//! The agent against real PC/SC: a private pcscd with vsmartcard's vpcd virtual readers, a
//! virtual OpenPGP card (tests/vcard: opcard on trussed's software platform) in them, OpenSC's
//! PKCS#11 module over it, personalised at setup with an EC P-256 key generated on the card
//! and a certificate from the test CA. Envelopes are verified with the server library.
//! See tests/pcsc/README.md.
//!
//! Without pcscd or vpcd installed these tests are skipped loudly, unless CI is set: then they
//! fail.

mod common;
#[path = "common/pcsc.rs"]
mod smartcard;

use smartcard::{Components, Pcscd, VirtualCard};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ORIGIN: &str = "https://portal.example";
const AGENT: &str = env!("CARGO_BIN_EXE_tokenconfirm-agent");
/// The OpenPGP card 3.x ATR the virtual card answers with (agent/data/known-tokens.toml).
const ATR: &str = "3B DA 18 FF 81 B1 FE 75 1F 03 00 31 F5 73 C0 01 60 00 90 00 1C";
const CARD_SNILS: &str = "11122233372";
/// What the agent may take at most to give up after the card went away.
const REMOVAL_BOUND: Duration = Duration::from_secs(10);

/// A card personalised once per test binary (its flash is copied for every test), and the PKI
/// that issued its certificate.
struct Personalised {
    fixture: common::Fixture,
    flash: tempfile::TempDir,
}

fn personalised(c: &Components) -> &'static Personalised {
    static P: OnceLock<Personalised> = OnceLock::new();
    P.get_or_init(|| {
        let started = Instant::now();
        let fixture = common::make_token();
        let flash = tempfile::tempdir().unwrap();
        let pcscd = Pcscd::start(c, true);
        let mut card = VirtualCard::new(c, &flash.path().join("card"), pcscd.port.unwrap());
        card.insert();
        pcscd.wait_card(true);
        let out_dir = flash.path().join("personalisation");
        let out = pcscd
            .env(&mut Command::new("bash"))
            .arg(smartcard::repo_root().join("tests/pcsc/personalise.sh"))
            .arg(fixture.pki(""))
            .arg(&out_dir)
            .env("OPENSC_MODULE", &c.opensc)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "personalise.sh failed:\n{}\ncard log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            card.log_tail()
        );
        // The agent sees the certificate through OpenSC, paired with the card's key.
        let config = write_config(flash.path(), &c.opensc, None);
        let list = agent_with(&pcscd, &config)
            .args(["list", "--json"])
            .output()
            .unwrap();
        assert!(list.status.success(), "{}", stderr(&list));
        let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
        let certs = v["certificates"].as_array().cloned().unwrap_or_default();
        assert_eq!(certs.len(), 1, "one certificate on the card: {v}");
        assert_eq!(certs[0]["snils"], CARD_SNILS, "{v}");
        assert_eq!(certs[0]["keyId"], "03", "{v}");
        assert_eq!(certs[0]["keyType"], "ec-p256", "{v}");
        card.remove();
        eprintln!(
            "virtual card personalised in {:.1} s (key generated on the card, certificate from the test CA)",
            started.elapsed().as_secs_f64()
        );
        Personalised { fixture, flash }
    })
}

fn write_config(dir: &Path, opensc: &Path, pinentry: Option<&Path>) -> PathBuf {
    let path = dir.join(if pinentry.is_some() {
        "agent-pinentry.toml"
    } else {
        "agent.toml"
    });
    let prompt = match pinentry {
        Some(p) => format!(
            "pin_prompt = \"pinentry\"\npinentry_program = \"{}\"\n",
            p.display()
        ),
        None => "pin_prompt = \"none\"\n".to_owned(),
    };
    std::fs::write(
        &path,
        format!(
            "modules = [\"{}\"]\ndiscover = false\n{prompt}",
            opensc.display()
        ),
    )
    .unwrap();
    path
}

fn agent_with(pcscd: &Pcscd, config: &Path) -> Command {
    let mut cmd = Command::new(AGENT);
    pcscd
        .env(&mut cmd)
        .env("TOKENCONFIRM_CONFIG", config)
        .env_remove("TOKENCONFIRM_LOG")
        .stdin(Stdio::null());
    cmd
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One test's world: its own pcscd, its own copy of the personalised card (inserted or not).
/// Fields drop in order: the card first, then pcscd, then the directory.
struct Setup {
    card: VirtualCard,
    pcscd: Pcscd,
    dir: tempfile::TempDir,
    config: PathBuf,
    p: &'static Personalised,
    c: &'static Components,
}

fn setup(inserted: bool) -> Option<Setup> {
    let c = smartcard::components()?;
    let p = personalised(c);
    let pcscd = Pcscd::start(c, true);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card");
    smartcard::copy_card(&p.flash.path().join("card"), &state);
    let mut card = VirtualCard::new(c, &state, pcscd.port.unwrap());
    if inserted {
        card.insert();
        pcscd.wait_card(true);
    }
    let config = write_config(dir.path(), &c.opensc, None);
    Some(Setup {
        card,
        pcscd,
        dir,
        config,
        p,
        c,
    })
}

impl Setup {
    fn agent(&self) -> Command {
        agent_with(&self.pcscd, &self.config)
    }

    fn challenge(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, common::fresh_challenge(ORIGIN)).unwrap();
        path
    }

    fn sign_command(&self, name: &str) -> (Command, PathBuf) {
        let challenge = self.challenge(&format!("{name}.json"));
        let out = self.dir.path().join(format!("{name}.p7s"));
        let mut cmd = self.agent();
        cmd.args(["sign", "--origin", ORIGIN, "--challenge"])
            .arg(&challenge)
            .arg("--out")
            .arg(&out);
        (cmd, out)
    }

    /// Signs with the PIN from the environment; returns the output and the envelope (if any).
    fn sign(&self, name: &str) -> (Output, Option<Vec<u8>>) {
        let (mut cmd, out) = self.sign_command(name);
        let output = cmd
            .env("TEST_PIN", "123456")
            .args(["--pin-from-env", "TEST_PIN"])
            .output()
            .unwrap();
        (output, std::fs::read(&out).ok())
    }

    /// Signs and checks the envelope with the server library and with OpenSSL.
    fn sign_and_verify(&self, name: &str) {
        let started = Instant::now();
        let (out, envelope) = self.sign(name);
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "sign failed: {}\ncard log:\n{}",
            stderr(&out),
            self.card.log_tail()
        );
        let envelope = envelope.expect("envelope written");
        let verified = verify_with_server_library(self.p, &envelope);
        let statement = String::from_utf8(verified.content.clone()).unwrap();
        assert!(
            statement.contains(&format!("\"origin\":\"{ORIGIN}\"")),
            "{statement}"
        );
        assert_eq!(verified.identity.snils.as_deref(), Some(CARD_SNILS));
        assert_eq!(
            verified.path.chain.len(),
            3,
            "card cert, intermediate, root"
        );
        assert!(verified.path.revocation_checked);
        openssl_verify_with_chain(self.p, &envelope);
        eprintln!(
            "{name}: signed on the virtual card through OpenSC in {} ms; the server library verified it (SNILS {CARD_SNILS}, 3-certificate path, CRLs checked)",
            took.as_millis()
        );
    }
}

/// The server's verification: CMS, path to the test root with the intermediate as an untrusted
/// certificate (the card holds only its own certificate), CRLs, the qualified-test profile
/// (qualified-certificate rules, ECDSA allowed), identity.
fn verify_with_server_library(
    p: &Personalised,
    envelope: &[u8],
) -> tokenconfirm_verify::verify::Verified {
    use tokenconfirm_verify::path::revocation::CrlSet;
    use tokenconfirm_verify::path::{Settings, UnixTime};
    use tokenconfirm_verify::profile::Profile;
    use tokenconfirm_verify::trust::{self, TrustStore};
    use tokenconfirm_verify::verify::Context;
    let f = &p.fixture;
    let mut store = TrustStore::new();
    store.add_path(&f.pki("root.pem")).expect("root");
    let untrusted: Vec<_> = trust::load_certificates(&f.pki("intermediate.pem"))
        .expect("intermediate")
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let mut crl_ders = trust::load_crls(&f.pki("intermediate.crl.pem")).expect("crl");
    crl_ders.extend(trust::load_crls(&f.pki("root.crl.pem")).expect("crl"));
    let crls = CrlSet::parse(&crl_ders).expect("crls");
    let settings = Settings::default();
    let ctx = Context {
        trust: &store,
        untrusted: &untrusted,
        crls: &crls,
        profile: Profile::QualifiedTest,
        settings: &settings,
        cache: None,
    };
    ctx.verify_cms(
        envelope,
        None,
        UnixTime::from_datetime(time::OffsetDateTime::now_utc()),
    )
    .unwrap_or_else(|e| panic!("the server library rejects the envelope: {e}"))
}

/// `openssl cms -verify` with the intermediate among the trusted certificates (OpenSSL 3.0's
/// `cms -verify` builds chains only from the message and the trust store).
fn openssl_verify_with_chain(p: &Personalised, envelope: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.p7s");
    std::fs::write(&input, envelope).unwrap();
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-purpose", "any", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(p.fixture.pki("chain.pem"))
        .arg("-out")
        .arg(dir.path().join("content"))
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {}", stderr(&out));
}

/// (a) The vpcd readers are listed, the virtual card in the first with its ATR, recognised as
/// an OpenPGP card served by OpenSC.
#[test]
fn pcsc_readers_lists_vpcd_readers_and_the_virtual_card() {
    let Some(s) = setup(true) else { return };
    let (code, v) = s.pcscd.readers(&[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["state"], "ok", "{v}");
    let readers = v["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 2, "vpcd has two slots: {v}");
    assert_eq!(readers[0]["name"], "Virtual PCD 00 00", "{v}");
    assert_eq!(readers[1]["name"], "Virtual PCD 00 01", "{v}");
    assert_eq!(readers[0]["card"], "present", "{v}");
    assert_eq!(readers[0]["atr"], ATR, "{v}");
    assert_eq!(readers[0]["product"], "OpenPGP card", "{v}");
    assert_eq!(readers[0]["modules"][0], "opensc-pkcs11.so", "{v}");
    assert_eq!(readers[1]["card"], "empty", "{v}");
    assert!(readers[1]["atr"].is_null(), "{v}");
    assert!(v["messageEn"].is_null(), "{v}");
    // Text form.
    let out = s
        .pcscd
        .env(&mut Command::new(AGENT))
        .arg("readers")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Virtual PCD 00 00")
            && text.contains(ATR)
            && text.contains("OpenPGP card")
            && text.contains("opensc-pkcs11.so"),
        "{text}"
    );
}

/// The card's certificate, issued at setup for the key generated on the card, is what the
/// agent lists through OpenSC.
#[test]
fn pcsc_virtual_card_certificate_is_listed_through_opensc() {
    let Some(s) = setup(true) else { return };
    let out = s.agent().args(["list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cert = &v["certificates"][0];
    assert_eq!(cert["snils"], CARD_SNILS, "{v}");
    assert_eq!(cert["commonName"], "Картов Виктор Олегович", "{v}");
    assert_eq!(cert["issuerCommonName"], "Тестовый УЦ tokenconfirm", "{v}");
    assert_eq!(cert["token"]["label"], "OpenPGP card (User PIN)", "{v}");
    assert_eq!(cert["token"]["serial"], "ff0000000001", "{v}");
    assert_eq!(
        v["modules"][0]["path"],
        s.c.opensc.display().to_string(),
        "{v}"
    );
}

/// Runs `readers --json --wait 5`, does `change` once the agent is surely waiting, and returns
/// how long after the change the agent answered, with its answer.
fn observe(s: &mut Setup, change: impl FnOnce(&mut Setup)) -> (Duration, serde_json::Value) {
    let waiter = s
        .pcscd
        .env(&mut Command::new(AGENT))
        .args(["readers", "--json", "--wait", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The agent reads the current state first; give it ample time to be waiting.
    std::thread::sleep(Duration::from_millis(700));
    let t0 = Instant::now();
    change(s);
    let out = waiter.wait_with_output().unwrap();
    let latency = t0.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (latency, serde_json::from_slice(&out.stdout).unwrap())
}

/// (b) Insertion and removal are seen within 2 s: `readers --wait` returns with the new state
/// that soon after the card process starts or stops.
#[test]
fn pcsc_card_insertion_and_removal_seen_within_2s() {
    let Some(mut s) = setup(false) else { return };
    let (_, v) = s.pcscd.readers(&[]);
    assert_eq!(v["readers"][0]["card"], "empty", "{v}");

    let (inserted, v) = observe(&mut s, |s| s.card.insert());
    assert_eq!(v["readers"][0]["card"], "present", "{v}");
    assert_eq!(v["readers"][0]["atr"], ATR, "{v}");
    smartcard::loud(&format!(
        "virtual card: insertion seen after {} ms (card process started → readers --wait answered)",
        inserted.as_millis()
    ));

    s.pcscd.wait_card(true);
    let (removed, v) = observe(&mut s, |s| {
        s.card.remove();
    });
    assert_eq!(v["readers"][0]["card"], "empty", "{v}");
    smartcard::loud(&format!(
        "virtual card: removal seen after {} ms (SIGTERM to the card process → readers --wait answered)",
        removed.as_millis()
    ));
    assert!(
        inserted < Duration::from_secs(2),
        "insertion took {inserted:?}"
    );
    assert!(removed < Duration::from_secs(2), "removal took {removed:?}");
}

/// (c) A confirmation signed through OpenSC on the virtual card with the agent CLI verifies
/// with the server library (and OpenSSL); the card survives a removal and re-insertion.
#[test]
fn pcsc_virtual_card_signs_a_confirmation_the_server_library_verifies() {
    let Some(mut s) = setup(true) else { return };
    s.sign_and_verify("first");
    // Out and in again: the key and certificate are on the card's flash.
    s.card.remove();
    s.pcscd.wait_card(false);
    s.card.insert();
    s.pcscd.wait_card(true);
    s.sign_and_verify("after-reinsertion");
}

/// Waits for a child with a deadline; kills it (by PID) and fails when it hangs.
fn wait_bounded(child: &mut std::process::Child, bound: Duration, what: &str) -> Duration {
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return t0.elapsed();
        }
        if t0.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the agent hung for more than {bound:?} after the card was removed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (d) The card is pulled out while the PIN dialog is open (the signing operation has found
/// the key and asks for the PIN): the agent fails with `device-removed` in bounded time, and
/// after re-insertion a signature works.
#[test]
fn pcsc_card_removed_during_signing_pin_dialog_is_device_removed() {
    let Some(mut s) = setup(true) else { return };
    let pinentry = smartcard::repo_root().join("tests/pcsc/fake-pinentry.sh");
    let config = write_config(s.dir.path(), &s.c.opensc, Some(&pinentry));
    let ready = s.dir.path().join("pinentry-ready");
    let go = s.dir.path().join("pinentry-go");
    let (mut cmd, out_file) = s.sign_command("removed-at-pin");
    let mut child = cmd
        .env("TOKENCONFIRM_CONFIG", &config)
        .env("FAKE_PINENTRY_READY", &ready)
        .env("FAKE_PINENTRY_GO", &go)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ready.exists() {
        if child.try_wait().unwrap().is_some() || t0.elapsed() > Duration::from_secs(30) {
            let out = child.wait_with_output().unwrap();
            panic!("the agent never asked for the PIN: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    s.card.remove();
    s.pcscd.wait_card(false);
    std::fs::write(&go, b"").unwrap();
    let took = wait_bounded(&mut child, REMOVAL_BOUND, "removed at the PIN dialog");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    smartcard::loud(&format!(
        "virtual card: removed while the PIN dialog was open: the agent ended {} ms after the PIN was entered: {}",
        took.as_millis(),
        err.lines().next().unwrap_or("")
    ));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("device-removed"), "{err}");
    assert!(!out_file.exists(), "no envelope");

    s.card.insert();
    s.pcscd.wait_card(true);
    s.sign_and_verify("after-removal-at-pin");
}

/// (d) The card is pulled out in the middle of the signature itself: the card process drops
/// its connection instead of answering the signing APDU (INTERNAL AUTHENTICATE, INS 88: OpenSC
/// signs with the authentication key that way). The agent must fail with `device-removed` in
/// bounded time, and after re-insertion a signature works.
#[test]
fn pcsc_card_pulled_out_mid_signature_is_device_removed() {
    let Some(mut s) = setup(false) else { return };
    s.card.insert_with(&["--die-on-ins", "88"]);
    s.pcscd.wait_card(true);
    let (mut cmd, out_file) = s.sign_command("pulled-mid-signature");
    let mut child = cmd
        .env("TEST_PIN", "123456")
        .args(["--pin-from-env", "TEST_PIN"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let took = wait_bounded(&mut child, REMOVAL_BOUND, "pulled mid-signature");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    let card_exit = s.card.wait_exit(Duration::from_secs(5));
    assert_eq!(
        card_exit.and_then(|e| e.code()),
        Some(3),
        "the card process should have dropped the connection at INS 88:\n{}",
        s.card.log_tail()
    );
    smartcard::loud(&format!(
        "virtual card: pulled out during the signing APDU: the agent ended after {} ms: {}",
        took.as_millis(),
        err.lines().next().unwrap_or("")
    ));
    assert!(!out_file.exists(), "no envelope");
    assert_eq!(out.status.code(), Some(1), "{err}");
    let device_removed = err.contains("device-removed");

    s.pcscd.wait_card(false);
    s.card.insert();
    s.pcscd.wait_card(true);
    s.sign_and_verify("after-pulled-mid-signature");
    assert!(
        device_removed,
        "expected the device-removed error code, got: {err}"
    );
}

/// (d′) The same pull-out under the long-lived native-messaging host (as the browser runs it):
/// the `sign` reply is `device-removed`, and after re-insertion the *same* host process lists
/// the card again and signs — no restart.
#[test]
fn pcsc_native_host_keeps_working_after_the_card_is_pulled_mid_signature() {
    let Some(mut s) = setup(false) else { return };
    s.card.insert_with(&["--die-on-ins", "88"]);
    s.pcscd.wait_card(true);
    let mut cmd = s.agent();
    cmd.arg("chrome-extension://kgnbgkhkpnbnfhcnnmiegdekmgjbhdcg/");
    let mut host = common::Host::spawn(cmd);
    let list = host.call(serde_json::json!({"id": "l1", "command": "list-certificates"}));
    let id = list["result"]["certificates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the card's certificate is listed: {list}"))
        .to_owned();
    let sign = |host: &mut common::Host, request: &str| {
        let challenge: serde_json::Value =
            serde_json::from_str(&common::fresh_challenge(ORIGIN)).unwrap();
        host.call(serde_json::json!({
            "id": request, "command": "sign", "origin": ORIGIN, "certificateId": id,
            "challenge": challenge, "pin": "123456",
        }))
    };
    let started = Instant::now();
    let reply = sign(&mut host, "s1");
    let took = started.elapsed();
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["code"], "device-removed", "{reply}");
    assert!(took < REMOVAL_BOUND, "answered in {took:?}");
    let card_exit = s.card.wait_exit(Duration::from_secs(5));
    assert_eq!(
        card_exit.and_then(|e| e.code()),
        Some(3),
        "dropped at INS 88"
    );
    s.pcscd.wait_card(false);

    s.card.insert();
    s.pcscd.wait_card(true);
    let started = Instant::now();
    let list = host.call(serde_json::json!({"id": "l2", "command": "list-certificates"}));
    assert_eq!(
        list["result"]["certificates"][0]["id"], id,
        "the same host lists the re-inserted card: {list}"
    );
    let reply = sign(&mut host, "s2");
    assert_eq!(reply["ok"], true, "{reply}");
    let der =
        tokenconfirm_wire::b64::std_decode(reply["result"]["envelope"].as_str().unwrap()).unwrap();
    let verified = verify_with_server_library(s.p, &der);
    assert_eq!(verified.identity.snils.as_deref(), Some(CARD_SNILS));
    smartcard::loud(&format!(
        "virtual card, native host: device-removed after {} ms; re-inserted card listed and signed by the same host process in {} ms",
        took.as_millis(),
        started.elapsed().as_millis()
    ));
    let (code, rest) = host.finish();
    assert_eq!(code, 0);
    assert!(rest.is_empty());
}

/// A known card in a reader whose PKCS#11 module the agent does not have (here: the agent is
/// configured with a module path that does not exist instead of OpenSC): `list --json` and
/// `doctor` name the product and say what to install, in both languages.
#[test]
fn pcsc_known_card_without_its_module_gets_a_product_hint() {
    let Some(s) = setup(true) else { return };
    let config = s.dir.path().join("agent-no-opensc.toml");
    std::fs::write(
        &config,
        "modules = [\"/nonexistent/vendor-pkcs11.so\"]\ndiscover = false\npin_prompt = \"none\"\n",
    )
    .unwrap();
    let out = agent_with(&s.pcscd, &config)
        .args(["list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("list --json: {e}: {}", stderr(&out)));
    let hint = &v["hints"][0];
    assert_eq!(hint["product"], "OpenPGP card", "{v:#}");
    assert!(
        hint["modules"].to_string().contains("opensc-pkcs11"),
        "{hint}"
    );
    assert!(
        hint["installEn"].as_str().unwrap_or("").contains("OpenSC"),
        "{hint}"
    );
    assert!(
        hint["installRu"].as_str().unwrap_or("").contains("OpenSC"),
        "{hint}"
    );
    let doctor = agent_with(&s.pcscd, &config)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains("OpenPGP card") && text.contains("OpenSC"),
        "doctor names the product and what to install:\n{text}\n{}",
        stderr(&doctor)
    );
}

/// (e) pcscd runs but has no reader: `readers` says so (both languages), exits 1, and
/// `--wait` does not hang.
#[test]
fn pcsc_no_readers_is_a_clear_state() {
    let Some(c) = smartcard::components() else {
        return;
    };
    let pcscd = Pcscd::start(c, false);
    let (code, v) = pcscd.readers(&[]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["state"], "no-readers", "{v}");
    assert_eq!(v["readers"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(
        v["messageEn"]
            .as_str()
            .unwrap()
            .contains("Insert your token"),
        "{v}"
    );
    assert!(
        v["messageRu"].as_str().unwrap().contains("Вставьте токен"),
        "{v}"
    );
    let out = pcscd
        .env(&mut Command::new(AGENT))
        .arg("readers")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Токен или считыватель не подключён") && text.contains("No token"),
        "{text}"
    );
    let started = Instant::now();
    let (code, v) = pcscd.readers(&["--wait", "1"]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["state"], "no-readers", "{v}");
    assert!(started.elapsed() < Duration::from_secs(3), "--wait 1 hung");
}
