//! GOST R 34.10-2012 verification speed: this crate's pure-Rust verifier against OpenSSL with
//! Debian's gost engine doing the same verifications in-process (the `openssl` crate; the engine
//! is loaded through an OpenSSL configuration file set before OpenSSL initializes), for 256-bit
//! keys on TC26 paramsets A, B (= CryptoPro-A) and D and 512-bit keys on A and B. Both sides hash the same short message
//! with Streebog and verify the same signature, made by OpenSSL.
//!
//! `cargo bench -p tokenconfirm-verify --bench gost`

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support.rs"]
mod support;
use der::{Decode, Encode};
use std::path::{Path, PathBuf};
use std::process::Command;
use tokenconfirm_verify::signature::{verify, SignaturePolicy};
use x509_cert::Certificate;

struct Case {
    name: &'static str,
    spki_der: Vec<u8>,
    spki: spki::SubjectPublicKeyInfoOwned,
    algorithm: spki::AlgorithmIdentifierOwned,
    digest: &'static str,
    signature: Vec<u8>,
}

const MESSAGE: &[u8] = b"{\"challenge\":\"GOST benchmark\"}";

fn pem_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).expect("pem");
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    tokenconfirm_wire::b64::std_decode(&body).expect("base64")
}

fn setup(dir: &Path) -> Vec<Case> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new("bash")
        .arg(repo.join("tests/fixtures/make-gost-pki.sh"))
        .arg(dir)
        .status()
        .expect("bash");
    assert!(
        status.success(),
        "make-gost-pki.sh (needs libengine-gost-openssl)"
    );
    std::fs::write(dir.join("message"), MESSAGE).expect("message");
    const S256: &str = "1.2.643.7.1.1.3.2";
    const S512: &str = "1.2.643.7.1.1.3.3";
    [
        ("gost-256-A", "user-256-TCA", "md_gost12_256", S256),
        ("gost-256-B", "user-256-TCB", "md_gost12_256", S256),
        ("gost-256-D", "user-256-TCD", "md_gost12_256", S256),
        ("gost-512-A", "user-512-A", "md_gost12_512", S512),
        ("gost-512-B", "user-512-B", "md_gost12_512", S512),
    ]
    .into_iter()
    .map(|(name, user, digest, sig_oid)| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args([
                "dgst",
                "-engine",
                "gost",
                &format!("-{digest}"),
                "-sign",
                &format!("{user}.key"),
                "message",
            ])
            .stderr(std::process::Stdio::null())
            .output()
            .expect("openssl dgst");
        assert!(out.status.success(), "openssl dgst -sign");
        let cert = Certificate::from_der(&pem_der(&dir.join(format!("{user}.pem")))).expect("cert");
        let spki = cert.tbs_certificate().subject_public_key_info().clone();
        Case {
            name,
            spki_der: spki.to_der().expect("spki"),
            spki,
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: sig_oid.parse().expect("oid"),
                parameters: None,
            },
            digest,
            signature: out.stdout,
        }
    })
    .collect()
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tmp");
    // OpenSSL reads its configuration once, at the first call: point it at one that loads the
    // gost engine for every algorithm it provides.
    let conf = tmp.path().join("openssl-gost.cnf");
    std::fs::write(
        &conf,
        "openssl_conf = conf\n[conf]\nengines = engines\n[engines]\ngost = gost\n[gost]\nengine_id = gost\ndefault_algorithms = ALL\n",
    )
    .expect("conf");
    std::env::set_var("OPENSSL_CONF", &conf);
    let cases = setup(&tmp.path().join("pki"));
    let policy = SignaturePolicy::default();
    let mut group = c.benchmark_group("gost-verify");
    group
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(4))
        .warm_up_time(std::time::Duration::from_secs(1));
    for case in &cases {
        verify(
            &policy,
            &case.spki,
            &case.algorithm,
            MESSAGE,
            &case.signature,
        )
        .expect("ours verifies OpenSSL's signature");
        group.bench_function(format!("tokenconfirm/{}", case.name), |b| {
            b.iter(|| {
                verify(
                    &policy,
                    &case.spki,
                    &case.algorithm,
                    std::hint::black_box(MESSAGE),
                    &case.signature,
                )
                .expect("valid")
            })
        });
        let key = openssl::pkey::PKey::public_key_from_der(&case.spki_der)
            .expect("OpenSSL loads the GOST key (gost engine)");
        let md = openssl::hash::MessageDigest::from_name(case.digest)
            .expect("Streebog in OpenSSL (gost engine)");
        let check = || {
            let mut v = openssl::sign::Verifier::new(md, &key).expect("verifier");
            v.update(std::hint::black_box(MESSAGE)).expect("update");
            v.verify(&case.signature).expect("verify call")
        };
        assert!(check(), "OpenSSL verifies its own signature");
        group.bench_function(format!("openssl-gost-engine/{}", case.name), |b| {
            b.iter(|| assert!(check()))
        });
    }
    group.finish();
    cms_two_level(c, &tmp.path().join("pki"));
}

/// A whole CAdES-BES `cms` verification with a 2-level GOST chain (root GOST-256 A →
/// intermediate GOST-512 A → signer GOST-256 B), both CRLs checked, warm caches: ours
/// (`Context::verify_cms`, `qualified` profile) and OpenSSL's in-process `CMS_verify` with the
/// gost engine (CRL check on the whole chain).
fn cms_two_level(c: &mut Criterion, pki: &Path) {
    use tokenconfirm_verify::path::revocation::CrlSet;
    use tokenconfirm_verify::path::{Settings, SignatureCache, UnixTime};
    use tokenconfirm_verify::profile::Profile;
    use tokenconfirm_verify::trust::{self, TrustStore};
    use tokenconfirm_verify::verify::Context;
    let status = Command::new("openssl")
        .current_dir(pki)
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
        ])
        .args([
            "-in",
            "message",
            "-signer",
            "user2.pem",
            "-inkey",
            "user2.key",
            "-certfile",
            "intermediate.pem",
        ])
        .args(["-md", "md_gost12_256", "-out", "two-level.p7s"])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl cms");
    assert!(status.success(), "openssl cms -sign");
    let envelope = std::fs::read(pki.join("two-level.p7s")).expect("envelope");
    let mut store = TrustStore::new();
    store.add_path(&pki.join("root.pem")).expect("root");
    let mut ders = trust::load_crls(&pki.join("root.crl.pem")).expect("crl");
    ders.extend(trust::load_crls(&pki.join("intermediate.crl.pem")).expect("crl"));
    let crls = CrlSet::parse(&ders).expect("crls");
    let settings = Settings::default();
    let cache = SignatureCache::default();
    let ctx = Context {
        trust: &store,
        untrusted: &[],
        crls: &crls,
        profile: Profile::Qualified,
        settings: &settings,
        cache: Some(&cache),
    };
    let at = UnixTime::from_datetime(time::OffsetDateTime::now_utc());
    let v = ctx
        .verify_cms(&envelope, None, at)
        .expect("ours verifies the 2-level GOST envelope");
    assert_eq!(v.path.chain.len(), 3);
    let openssl_store = support::openssl_store(pki);
    let mut group = c.benchmark_group("gost-cms-2-level");
    group
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(4))
        .warm_up_time(std::time::Duration::from_secs(1));
    group.bench_function("tokenconfirm", |b| {
        b.iter(|| {
            ctx.verify_cms(std::hint::black_box(&envelope), None, at)
                .expect("valid")
        })
    });
    group.bench_function("openssl-gost-engine", |b| {
        b.iter(|| {
            let mut cms = openssl::cms::CmsContentInfo::from_der(std::hint::black_box(&envelope))
                .expect("parse");
            let mut out = Vec::new();
            cms.verify(
                None,
                Some(&openssl_store),
                None,
                Some(&mut out),
                openssl::cms::CMSOptions::BINARY,
            )
            .expect("openssl verifies");
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
