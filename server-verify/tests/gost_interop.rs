//! GOST interop with OpenSSL + Debian's gost engine (libengine-gost-openssl), made at test
//! time: a GOST 2012-256 root, qualified certificates for every parameter set (256 TCA–TCD,
//! 512 A–C), a CRL; CMS SignedData from `openssl cms -sign` attached, detached, with `-cades`
//! and without signed attributes — all verified by this library under the `qualified` profile
//! (GOST only, signing tools, policies, SNILS, revocation). Tampered, revoked and wrong-profile
//! cases fail with their codes.

use std::path::{Path, PathBuf};
use std::process::Command;
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Settings, UnixTime};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_verify::trust::{self, TrustStore};
use tokenconfirm_verify::verify::Context;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn openssl_cms(dir: &Path, user: &str, md: &str, extra: &[&str], out: &str) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args([
            "cms", "-engine", "gost", "-sign", "-binary", "-outform", "DER", "-in", "data",
        ])
        .args([
            "-signer",
            &format!("{user}.pem"),
            "-inkey",
            &format!("{user}.key"),
            "-md",
            md,
        ])
        .args(extra)
        .args(["-out", out])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl cms -sign {user} {extra:?}");
}

#[test]
fn gost_openssl_cms_verifies_under_the_qualified_profile() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("pki");
    let made = Command::new("bash")
        .arg(repo().join("tests/fixtures/make-gost-pki.sh"))
        .arg(&dir)
        .status()
        .expect("bash");
    assert!(made.success(), "make-gost-pki.sh failed (is libengine-gost-openssl installed? scripts/deps.sh installs it)");
    std::fs::write(dir.join("data"), br#"{"statement":"GOST interop"}"#).expect("data");

    let mut store = TrustStore::new();
    store.add_path(&dir.join("root.pem")).expect("root");
    let mut crl_ders = trust::load_crls(&dir.join("root.crl.pem")).expect("crl");
    crl_ders.extend(trust::load_crls(&dir.join("intermediate.crl.pem")).expect("crl"));
    let crls = CrlSet::parse(&crl_ders).expect("crl");
    let settings = Settings::default();
    let ctx = Context {
        trust: &store,
        untrusted: &[],
        crls: &crls,
        profile: Profile::Qualified,
        settings: &settings,
        cache: None,
    };
    let at = UnixTime::from_datetime(time::OffsetDateTime::now_utc());
    let data = std::fs::read(dir.join("data")).expect("data");
    let mut verified = 0;
    for (user, md) in [
        ("user-256-TCA", "md_gost12_256"),
        ("user-256-TCB", "md_gost12_256"),
        ("user-256-TCC", "md_gost12_256"),
        ("user-256-TCD", "md_gost12_256"),
        ("user-512-A", "md_gost12_512"),
        ("user-512-B", "md_gost12_512"),
        ("user-512-C", "md_gost12_512"),
    ] {
        for (variant, extra) in [
            ("attached", vec!["-nodetach"]),
            ("cades", vec!["-nodetach", "-cades"]),
            ("detached", vec![]),
            ("noattr", vec!["-nodetach", "-noattr"]),
        ] {
            let out = format!("{user}-{variant}.p7s");
            openssl_cms(&dir, user, md, &extra, &out);
            let der = std::fs::read(dir.join(&out)).expect("p7s");
            let detached = (variant == "detached").then_some(data.as_slice());
            // CAdES-BES (the qualified profile) needs signed attributes: -noattr must fail.
            let result = ctx.verify_cms(&der, detached, at);
            if variant == "noattr" {
                let e = result.expect_err("no signed attributes");
                assert_eq!(e.code.as_str(), "signed-attributes-missing", "{out}");
                let rfc = Context {
                    profile: Profile::Rfc5280,
                    ..ctx_clone(&ctx)
                };
                rfc.verify_cms(&der, None, at)
                    .unwrap_or_else(|e| panic!("{out} under rfc5280: {e}"));
            } else {
                let v = result.unwrap_or_else(|e| panic!("{out}: {e}"));
                assert_eq!(v.content, data, "{out}");
                assert_eq!(v.identity.snils.as_deref(), Some("11223344595"), "{out}");
                assert!(v.path.revocation_checked, "{out}");
            }
            verified += 1;
            // One bit of the content changed: refused.
            if variant == "attached" {
                let mut bad = der.clone();
                let at_content = bad
                    .windows(10)
                    .position(|w| w == b"GOST inter")
                    .expect("content inside");
                bad[at_content] ^= 0x20;
                let e = ctx.verify_cms(&bad, None, at).expect_err("tampered");
                assert_eq!(e.code.as_str(), "message-digest-mismatch", "{out}");
            }
        }
    }
    // A 2-level GOST chain: root GOST-256 A → intermediate GOST-512 A → signer GOST-256 B,
    // the intermediate carried in the envelope, both CRLs checked.
    let status = Command::new("openssl")
        .current_dir(&dir)
        .args([
            "cms",
            "-engine",
            "gost",
            "-sign",
            "-binary",
            "-nodetach",
            "-cades",
            "-outform",
            "DER",
            "-in",
            "data",
        ])
        .args([
            "-signer",
            "user2.pem",
            "-inkey",
            "user2.key",
            "-certfile",
            "intermediate.pem",
            "-md",
            "md_gost12_256",
        ])
        .args(["-out", "two-level.p7s"])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl cms -sign (2-level)");
    let der = std::fs::read(dir.join("two-level.p7s")).expect("p7s");
    let v = ctx
        .verify_cms(&der, None, at)
        .unwrap_or_else(|e| panic!("2-level GOST chain: {e}"));
    assert_eq!(v.path.chain.len(), 3, "signer, intermediate, root");
    assert!(v.path.revocation_checked);
    // The revoked user's signature fails on the CRL.
    openssl_cms(
        &dir,
        "user-revoked",
        "md_gost12_256",
        &["-nodetach"],
        "revoked.p7s",
    );
    let der = std::fs::read(dir.join("revoked.p7s")).expect("p7s");
    let e = ctx.verify_cms(&der, None, at).expect_err("revoked");
    assert_eq!(e.code.as_str(), "revoked");
    println!("GOST interop: {verified} OpenSSL-made envelopes (7 parameter sets × attached/CAdES/detached/no-attributes) and a 2-level GOST chain agree; tampered and revoked refused");
}

fn ctx_clone<'a>(c: &Context<'a>) -> Context<'a> {
    Context {
        trust: c.trust,
        untrusted: c.untrusted,
        crls: c.crls,
        profile: c.profile,
        settings: c.settings,
        cache: c.cache,
    }
}
