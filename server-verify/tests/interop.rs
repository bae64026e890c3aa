//! Interop: envelopes made by the agent on a real SoftHSM token, and CMS made by OpenSSL
//! (`openssl cms -sign`, with and without `-cades`, attached and detached), verify; tampered
//! ones fail with the right code; the `tokenconfirm-verify` CLI keeps its contract.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use tokenconfirm_verify::error::Code;
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Settings, UnixTime};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_verify::trust::{self, TrustStore};
use tokenconfirm_verify::verify::Context;

struct Fixture {
    _dir: tempfile::TempDir,
    token: PathBuf,
}

impl Fixture {
    fn pki(&self, f: &str) -> PathBuf {
        self.token.join("pki").join(f)
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("token");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/make-token.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(&token)
            .output()
            .expect("make-token.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::env::set_var("SOFTHSM2_CONF", token.join("softhsm2.conf"));
        Fixture { _dir: dir, token }
    })
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|p| p.into_inner())
}

fn now() -> UnixTime {
    UnixTime::from_datetime(time::OffsetDateTime::now_utc())
}

fn store(f: &Fixture) -> TrustStore {
    let mut s = TrustStore::new();
    s.add_path(&f.pki("root.pem")).expect("root");
    s
}

fn crls(f: &Fixture) -> CrlSet {
    let mut ders = trust::load_crls(&f.pki("intermediate.crl.pem")).expect("crl");
    ders.extend(trust::load_crls(&f.pki("root.crl.pem")).expect("crl"));
    CrlSet::parse(&ders).expect("crls parse")
}

fn context<'a>(
    trust: &'a TrustStore,
    crls: &'a CrlSet,
    settings: &'a Settings,
    profile: Profile,
) -> Context<'a> {
    Context {
        trust,
        untrusted: &[],
        crls,
        profile,
        settings,
        cache: None,
    }
}

fn openssl_sign(f: &Fixture, who: &str, extra: &[&str], content: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let out = dir.path().join("out.p7s");
    std::fs::write(&input, content).unwrap();
    let status = Command::new("openssl")
        .args([
            "cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256",
        ])
        .args(extra)
        .arg("-in")
        .arg(&input)
        .arg("-signer")
        .arg(f.pki(&format!("{who}.pem")))
        .arg("-inkey")
        .arg(f.pki(&format!("{who}.key")))
        .arg("-certfile")
        .arg(f.pki("intermediate.pem"))
        .arg("-out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    std::fs::read(out).unwrap()
}

#[test]
fn openssl_cms_variants_verify() {
    let f = fixture();
    let (trust, crls, settings) = (store(f), crls(f), Settings::default());
    let ctx = context(&trust, &crls, &settings, Profile::QualifiedTest);
    let content = b"{\"hello\":\"world\"}";
    for who in ["user-ec", "user-rsa"] {
        for (extra, detached) in [
            (&["-nodetach"][..], false),
            (&["-nodetach", "-cades"][..], false),
            (&[][..], true),
            (&["-cades"][..], true),
        ] {
            let der = openssl_sign(f, who, extra, content);
            let result = ctx.verify_cms(&der, detached.then_some(&content[..]), now());
            let v = result.unwrap_or_else(|e| panic!("{who} {extra:?}: {e}"));
            assert_eq!(v.content, content);
            assert_eq!(v.identity.snils.as_deref(), Some("11223344595"));
            assert_eq!(v.path.chain.len(), 3, "EE, intermediate, root");
            assert!(v.path.revocation_checked);
            if detached {
                let missing = ctx.verify_cms(&der, None, now()).unwrap_err();
                assert_eq!(missing.code, Code::ContentMissing);
                let other = ctx.verify_cms(&der, Some(b"tampered"), now()).unwrap_err();
                assert_eq!(other.code, Code::MessageDigestMismatch, "{other}");
            }
        }
    }
}

#[test]
fn pem_and_base64_wrappers_and_ber() {
    let f = fixture();
    let (trust, crls, settings) = (store(f), crls(f), Settings::default());
    let ctx = context(&trust, &crls, &settings, Profile::QualifiedTest);
    let der = openssl_sign(f, "user-ec", &["-nodetach", "-cades"], b"abc");
    let b64 = tokenconfirm_wire::b64::std_encode(&der);
    let pem = format!("-----BEGIN CMS-----\n{b64}\n-----END CMS-----\n");
    ctx.verify_cms(b64.as_bytes(), None, now()).expect("base64");
    ctx.verify_cms(pem.as_bytes(), None, now()).expect("pem");
    // BER with indefinite lengths, as `openssl cms -stream` writes it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in"), b"abc").unwrap();
    let out = Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-stream",
            "-outform",
            "DER",
            "-md",
            "sha256",
        ])
        .arg("-in")
        .arg(dir.path().join("in"))
        .arg("-signer")
        .arg(f.pki("user-ec.pem"))
        .arg("-inkey")
        .arg(f.pki("user-ec.key"))
        .arg("-certfile")
        .arg(f.pki("intermediate.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout[1], 0x80, "indefinite-length BER");
    let v = ctx.verify_cms(&out.stdout, None, now()).expect("BER");
    assert_eq!(v.content, b"abc");
}

#[test]
fn tampering_is_detected() {
    let f = fixture();
    let (trust, crls, settings) = (store(f), crls(f), Settings::default());
    let ctx = context(&trust, &crls, &settings, Profile::QualifiedTest);
    let der = openssl_sign(f, "user-ec", &["-nodetach", "-cades"], b"0123456789abcdef");
    let at = der
        .windows(16)
        .position(|w| w == b"0123456789abcdef")
        .expect("content in DER");
    let mut content_changed = der.clone();
    content_changed[at] ^= 1;
    assert_eq!(
        ctx.verify_cms(&content_changed, None, now())
            .unwrap_err()
            .code,
        Code::MessageDigestMismatch
    );
    let mut sig_changed = der.clone();
    let last = sig_changed.len() - 3;
    sig_changed[last] ^= 1;
    let e = ctx.verify_cms(&sig_changed, None, now()).unwrap_err();
    assert!(
        matches!(
            e.code,
            Code::InvalidSignature | Code::MalformedSignature | Code::MalformedCms
        ),
        "{e}"
    );
    assert_eq!(
        ctx.verify_cms(&der[..der.len() / 2], None, now())
            .unwrap_err()
            .code,
        Code::MalformedCms
    );
}

#[test]
fn revoked_untrusted_expired_and_profiles() {
    let f = fixture();
    let (trust, crls, settings) = (store(f), crls(f), Settings::default());
    let ctx = context(&trust, &crls, &settings, Profile::QualifiedTest);
    let revoked = openssl_sign(f, "user-revoked", &["-nodetach", "-cades"], b"x");
    assert_eq!(
        ctx.verify_cms(&revoked, None, now()).unwrap_err().code,
        Code::Revoked
    );
    let good = openssl_sign(f, "user-ec", &["-nodetach", "-cades"], b"x");
    let far = UnixTime(now().0 + 3 * 365 * 86400);
    // Three years on, the CRLs are stale first (checked from the anchor down) …
    assert_eq!(
        ctx.verify_cms(&good, None, far).unwrap_err().code,
        Code::RevocationUnknown
    );
    // … and without revocation the signer certificate is simply expired.
    let no_rev = Settings {
        revocation: false,
        ..Settings::default()
    };
    let generic = context(&trust, &crls, &no_rev, Profile::Rfc5280);
    assert_eq!(
        generic.verify_cms(&good, None, far).unwrap_err().code,
        Code::Expired
    );
    let qualified = context(&trust, &crls, &settings, Profile::Qualified);
    assert_eq!(
        qualified.verify_cms(&good, None, now()).unwrap_err().code,
        Code::NotGost
    );
    let empty_crls = CrlSet::empty();
    let no_crl = context(&trust, &empty_crls, &settings, Profile::QualifiedTest);
    assert_eq!(
        no_crl.verify_cms(&good, None, now()).unwrap_err().code,
        Code::RevocationUnknown
    );
    let off = Settings {
        revocation: false,
        ..Settings::default()
    };
    let not_allowed = context(&trust, &crls, &off, Profile::QualifiedTest);
    assert_eq!(
        not_allowed.verify_cms(&good, None, now()).unwrap_err().code,
        Code::RevocationRequired
    );
    let generic = context(&trust, &empty_crls, &off, Profile::Rfc5280);
    generic
        .verify_cms(&good, None, now())
        .expect("rfc5280 without revocation");
    let mut other = TrustStore::new();
    other.add_path(&f.pki("intermediate.pem")).unwrap();
    let wrong_anchor_store = TrustStore::new();
    let untrusted = context(
        &wrong_anchor_store,
        &crls,
        &settings,
        Profile::QualifiedTest,
    );
    assert_eq!(
        untrusted.verify_cms(&good, None, now()).unwrap_err().code,
        Code::Untrusted
    );
}

#[test]
fn agent_envelopes_from_softhsm_verify() {
    use tokenconfirm_agent::config::RsaScheme;
    use tokenconfirm_agent::discovery::Candidate;
    use tokenconfirm_agent::pin::GivenPin;
    use tokenconfirm_agent::sign::{self, SignRequest};
    use tokenconfirm_agent::token::inventory::Inventory;
    let _g = serial();
    let f = fixture();
    let module = std::fs::read_to_string(f.token.join("env"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("TOKENCONFIRM_TEST_MODULE=")
                .map(str::to_owned)
        })
        .expect("module");
    let inv = Inventory::scan(&[Candidate {
        path: module.into(),
        source: "test".into(),
    }]);
    let (trust, crls, settings) = (store(f), crls(f), Settings::default());
    let ctx = context(&trust, &crls, &settings, Profile::QualifiedTest);
    let origin = "https://portal.example";
    let issued = time::OffsetDateTime::now_utc();
    let challenge = serde_json::json!({
        "version": 1, "nonce": tokenconfirm_wire::b64::url_encode(&[7u8; 32]), "origin": origin,
        "account": "acct-1", "purpose": "account-confirmation",
        "issuedAt": tokenconfirm_wire::challenge::Timestamp::from_datetime(issued).to_string(),
        "expiresAt": tokenconfirm_wire::challenge::Timestamp::from_datetime(issued + time::Duration::minutes(5)).to_string(),
    });
    for (id, rsa) in [
        ("01", RsaScheme::Pkcs1),
        ("02", RsaScheme::Pkcs1),
        ("02", RsaScheme::Pss),
    ] {
        let req = SignRequest {
            challenge: tokenconfirm_wire::challenge::Challenge::from_json(
                challenge.to_string().as_bytes(),
            )
            .unwrap(),
            origin: tokenconfirm_wire::origin::Origin::parse(origin).unwrap(),
            certificate: Some(id.into()),
            lang: tokenconfirm_wire::native::Lang::En,
        };
        let pin = GivenPin(tokenconfirm_wire::native::PinText::new("123456".into()));
        let signed = sign::sign(
            &inv,
            &req,
            &pin,
            rsa,
            &time::OffsetDateTime::now_utc,
            &|| false,
        )
        .expect("agent signs");
        let v = ctx
            .verify_cms(&signed.envelope, None, now())
            .unwrap_or_else(|e| panic!("{id} {rsa:?}: {e}"));
        let statement = tokenconfirm_wire::statement::Statement::from_signed_bytes(&v.content)
            .expect("statement");
        assert!(statement.names_certificate(&v.path.chain[0].der));
        assert_eq!(v.identity.surname.as_deref(), Some("Иванов"));
        assert!(v.signing_time.is_some());
    }
}

fn cli(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-verify"))
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is one JSON object: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn cli_contract() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.p7s");
    std::fs::write(
        &good,
        openssl_sign(f, "user-ec", &["-nodetach", "-cades"], b"x"),
    )
    .unwrap();
    let revoked = dir.path().join("revoked.p7s");
    std::fs::write(
        &revoked,
        openssl_sign(f, "user-revoked", &["-nodetach", "-cades"], b"x"),
    )
    .unwrap();
    let s = |p: PathBuf| p.display().to_string();
    let root = s(f.pki("root.pem"));
    let (crl1, crl2) = (s(f.pki("intermediate.crl.pem")), s(f.pki("root.crl.pem")));
    let (code, v) = cli(&[
        "cms",
        "--trust",
        &root,
        "--crl",
        &crl1,
        "--crl",
        &crl2,
        "--profile",
        "qualified-test",
        &s(good.clone()),
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["signer"]["snils"], "11223344595");
    assert_eq!(v["chain"].as_array().map(Vec::len), Some(3));
    let (code, v) = cli(&[
        "cms",
        "--trust",
        &root,
        "--crl",
        &crl1,
        "--crl",
        &crl2,
        &s(revoked),
    ]);
    assert_eq!((code, v["code"].as_str()), (1, Some("revoked")), "{v}");
    let (code, v) = cli(&[
        "chain",
        "--trust",
        &root,
        "--untrusted",
        &s(f.pki("intermediate.pem")),
        "--no-revocation",
        &s(f.pki("user-ec.pem")),
    ]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = cli(&[
        "chain",
        "--trust",
        &root,
        "--at",
        "2001-01-01T00:00:00Z",
        "--untrusted",
        &s(f.pki("intermediate.pem")),
        &s(f.pki("user-ec.pem")),
    ]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("not-yet-valid")),
        "{v}"
    );
    let (code, v) = cli(&["cms", "--trust", "/nonexistent/root.pem", &s(good.clone())]);
    assert_eq!((code, v["code"].as_str()), (2, Some("usage")), "{v}");
    let (code, _) = cli(&[
        "cms",
        "--trust",
        &root,
        "--profile",
        "qualified",
        "--no-revocation",
        &s(good),
    ]);
    assert_eq!(code, 2);
}
