//! Full CMS verification of agent-made envelopes (EC P-256 and RSA-2048, 2-level chain:
//! user ← intermediate ← root, both CRLs checked), side by side in the same run with:
//! (i) OpenSSL's in-process `CMS_verify` + `X509_verify_cert` (the `openssl` crate, same
//! inputs, CRL checking on the whole chain), and (ii) the crypto floor: the raw aws-lc-rs
//! verifications our check performs per envelope with warm caches — the CMS signature and
//! the end-entity certificate's signature (CA certificate and CRL signatures are cached;
//! an end-entity certificate is new with every citizen, so it is never cached).
//!
//! Run: `cargo bench -p tokenconfirm-verify --bench verify`.

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support.rs"]
mod support;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::openssl_store;
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Settings, SignatureCache, UnixTime};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_verify::trust::{self, TrustStore};
use tokenconfirm_verify::verify::Context;

struct Setup {
    _dir: tempfile::TempDir,
    pki: PathBuf,
    envelopes: Vec<(&'static str, Vec<u8>)>,
}

fn setup() -> Setup {
    use tokenconfirm_agent::config::RsaScheme;
    use tokenconfirm_agent::discovery::Candidate;
    use tokenconfirm_agent::pin::GivenPin;
    use tokenconfirm_agent::sign::{self, SignRequest};
    use tokenconfirm_agent::token::inventory::Inventory;
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
    let env = std::fs::read_to_string(token.join("env")).expect("env");
    let module = env
        .lines()
        .find_map(|l| l.strip_prefix("TOKENCONFIRM_TEST_MODULE="))
        .expect("module")
        .to_owned();
    let inv = Inventory::scan(&[Candidate {
        path: module.into(),
        source: "bench".into(),
    }]);
    let now = time::OffsetDateTime::now_utc();
    let challenge = serde_json::json!({
        "version": 1, "nonce": tokenconfirm_wire::b64::url_encode(&[9u8; 32]), "origin": "https://portal.example",
        "account": "acct-bench", "purpose": "account-confirmation",
        "issuedAt": tokenconfirm_wire::challenge::Timestamp::from_datetime(now).to_string(),
        "expiresAt": tokenconfirm_wire::challenge::Timestamp::from_datetime(now + time::Duration::minutes(5)).to_string(),
    });
    let mut envelopes = Vec::new();
    for (name, id) in [("p256", "01"), ("rsa2048", "02")] {
        let req = SignRequest {
            challenge: tokenconfirm_wire::challenge::Challenge::from_json(
                challenge.to_string().as_bytes(),
            )
            .expect("challenge"),
            origin: tokenconfirm_wire::origin::Origin::parse("https://portal.example")
                .expect("origin"),
            certificate: Some(id.into()),
            lang: tokenconfirm_wire::native::Lang::En,
        };
        let pin = GivenPin(tokenconfirm_wire::native::PinText::new("123456".into()));
        let signed = sign::sign(
            &inv,
            &req,
            &pin,
            RsaScheme::Pkcs1,
            &time::OffsetDateTime::now_utc,
            &|| false,
        )
        .expect("sign");
        envelopes.push((name, signed.envelope));
    }
    Setup {
        pki: token.join("pki"),
        _dir: dir,
        envelopes,
    }
}

/// The two verifications of the floor, with the inputs extracted beforehand.
struct Floor {
    cms_key: Vec<u8>,
    cms_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
    cms_message: Vec<u8>,
    cms_signature: Vec<u8>,
    cert_key: Vec<u8>,
    cert_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
    cert_message: Vec<u8>,
    cert_signature: Vec<u8>,
}

fn floor_inputs(envelope: &[u8], intermediate_der: &[u8], rsa: bool) -> Floor {
    use aws_lc_rs::signature as sig;
    use der::{Decode, Encode};
    let info = cms::content_info::ContentInfo::from_der(envelope).expect("ContentInfo");
    let sd: cms::signed_data::SignedData = info.content.decode_as().expect("SignedData");
    let si = sd.signer_infos.0.iter().next().expect("signer");
    let ee = sd
        .certificates
        .as_ref()
        .expect("certs")
        .0
        .iter()
        .find_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c)
                if c.tbs_certificate().subject().to_string().contains("SNILS")
                    || c.tbs_certificate()
                        .subject()
                        .to_string()
                        .contains("1.2.643.100.3") =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("EE certificate");
    let intermediate = x509_cert::Certificate::from_der(intermediate_der).expect("intermediate");
    let key = |c: &x509_cert::Certificate| {
        c.tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
            .to_vec()
    };
    let (cms_alg, cert_alg): (
        &'static dyn sig::VerificationAlgorithm,
        &'static dyn sig::VerificationAlgorithm,
    ) = if rsa {
        (
            &sig::RSA_PKCS1_2048_8192_SHA256,
            &sig::ECDSA_P256_SHA256_ASN1,
        )
    } else {
        (&sig::ECDSA_P256_SHA256_ASN1, &sig::ECDSA_P256_SHA256_ASN1)
    };
    Floor {
        cms_key: key(&ee),
        cms_alg,
        cms_message: si
            .signed_attrs
            .as_ref()
            .expect("signed attrs")
            .to_der()
            .expect("der"),
        cms_signature: si.signature.as_bytes().to_vec(),
        cert_key: key(&intermediate),
        cert_alg,
        cert_message: ee.tbs_certificate().to_der().expect("tbs"),
        cert_signature: ee.signature().raw_bytes().to_vec(),
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut trust = TrustStore::new();
    trust.add_path(&s.pki.join("root.pem")).expect("root");
    let mut crl_ders = trust::load_crls(&s.pki.join("intermediate.crl.pem")).expect("crl");
    crl_ders.extend(trust::load_crls(&s.pki.join("root.crl.pem")).expect("crl"));
    let crls = CrlSet::parse(&crl_ders).expect("crls");
    let settings = Settings::default();
    let cache = SignatureCache::default();
    let ctx = Context {
        trust: &trust,
        untrusted: &[],
        crls: &crls,
        profile: Profile::QualifiedTest,
        settings: &settings,
        cache: Some(&cache),
    };
    let at = UnixTime::from_datetime(time::OffsetDateTime::now_utc());
    let store = openssl_store(&s.pki);
    let intermediate = std::fs::read(s.pki.join("intermediate.der")).expect("intermediate der");
    let mut group = c.benchmark_group("cms-verify");
    group
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(4))
        .warm_up_time(std::time::Duration::from_secs(1));
    for (name, envelope) in &s.envelopes {
        ctx.verify_cms(envelope, None, at).expect("ours verifies");
        group.bench_function(format!("tokenconfirm/{name}"), |b| {
            b.iter(|| {
                ctx.verify_cms(std::hint::black_box(envelope), None, at)
                    .expect("valid")
            })
        });
        group.bench_function(format!("openssl/{name}"), |b| {
            b.iter(|| {
                let mut cms =
                    openssl::cms::CmsContentInfo::from_der(std::hint::black_box(envelope))
                        .expect("parse");
                let mut out = Vec::new();
                cms.verify(
                    None,
                    Some(&store),
                    None,
                    Some(&mut out),
                    openssl::cms::CMSOptions::BINARY,
                )
                .expect("openssl verifies");
                out
            })
        });
        let f = floor_inputs(envelope, &intermediate, *name == "rsa2048");
        group.bench_function(format!("crypto-floor/{name}"), |b| {
            b.iter(|| {
                aws_lc_rs::signature::UnparsedPublicKey::new(f.cms_alg, &f.cms_key)
                    .verify(&f.cms_message, &f.cms_signature)
                    .expect("cms sig");
                aws_lc_rs::signature::UnparsedPublicKey::new(f.cert_alg, &f.cert_key)
                    .verify(&f.cert_message, &f.cert_signature)
                    .expect("cert sig");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
