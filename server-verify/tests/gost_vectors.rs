//! GOST conformance over `../shared/testdata/gost` (or `$TOKENCONFIRM_GOST_VECTORS`, same file
//! names and formats): Streebog-256/512, the RFC 7091 examples and their invalid variants, and
//! the signatures inside TC26 / RFC 9215 certificates and CMS signer infos. Every case must
//! agree; the tally is printed.

use serde_json::Value;
use std::path::PathBuf;
use tokenconfirm_verify::gost::{self, params::PARAM_SETS, Size};

fn dir() -> PathBuf {
    std::env::var_os("TOKENCONFIRM_GOST_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/gost")
        })
}

fn load(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap_or("");
    let s = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_owned()
    };
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `value` (big-endian hex integer) as exactly `n` little-endian bytes; `None` if it does not fit.
fn le_fixed(v: &Value, n: usize) -> Option<Vec<u8>> {
    let mut be = hex(v);
    while be.len() > n && be[0] == 0 {
        be.remove(0);
    }
    if be.len() > n {
        return None;
    }
    let mut le: Vec<u8> = be.into_iter().rev().collect();
    le.resize(n, 0);
    Some(le)
}

#[test]
fn gost_streebog_vectors() {
    let file = load("streebog.json");
    let mut n = 0;
    for t in file["tests"].as_array().expect("tests") {
        let size = match t["algorithm"].as_str() {
            Some("streebog256") => Size::Bits256,
            Some("streebog512") => Size::Bits512,
            other => panic!("algorithm {other:?}"),
        };
        let got = gost::streebog(size, &hex(&t["msg"]));
        assert_eq!(got, hex(&t["digest"]), "streebog tcId {}", t["tcId"]);
        n += 1;
    }
    println!("GOST Streebog: {n}/{n} agree");
    assert!(n >= 50);
}

#[test]
fn gost_rfc7091_examples_and_invalid_variants() {
    let file = load("gost3410_2012_examples.json");
    let (mut agree, mut total) = (0, 0);
    for group in file["testGroups"].as_array().expect("groups") {
        let name = group["curve"].as_str().expect("curve");
        let set = PARAM_SETS
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("curve {name}"));
        for t in group["tests"].as_array().expect("tests") {
            total += 1;
            let expect_valid = t["result"] == "valid";
            let key = hex(&t["public_key"]["octets_le"]);
            let result = match le_fixed(&t["e"], set.size) {
                Some(e_le) => gost::verify_digest(set, &key, &e_le, &hex(&t["sig_sr_be"])),
                None => Err(gost::GostError::Length),
            };
            if result.is_ok() == expect_valid {
                agree += 1;
            } else {
                panic!(
                    "{name} tcId {} ({}): expected {}, got {result:?}",
                    t["tcId"], t["comment"], t["result"]
                );
            }
        }
    }
    println!("GOST R 34.10-2012 examples: {agree}/{total} agree");
    assert_eq!(agree, total);
    assert!(total >= 30);
}

#[test]
fn gost_signatures_in_tc26_and_rfc9215_structures() {
    let file = load("gost3410_2012_x509_cms_tc26.json");
    let (mut agree, mut total) = (0, 0);
    for t in file["tests"].as_array().expect("tests") {
        total += 1;
        let oid: der::asn1::ObjectIdentifier =
            t["curve_oid"].as_str().expect("oid").parse().expect("oid");
        let set = gost::param_set(&oid).unwrap_or_else(|| panic!("curve {oid}"));
        let size = if set.size == 32 {
            Size::Bits256
        } else {
            Size::Bits512
        };
        let digest = gost::streebog(size, &hex(&t["signed_data"]));
        assert_eq!(digest, hex(&t["digest"]), "digest of tcId {}", t["tcId"]);
        let result = gost::verify_digest(
            set,
            &hex(&t["public_key_octets_le"]),
            &digest,
            &hex(&t["signature_value"]),
        );
        let expect_valid = t["result"] == "valid";
        assert_eq!(
            result.is_ok(),
            expect_valid,
            "tcId {} ({}): {result:?}",
            t["tcId"],
            t["comment"]
        );
        agree += 1;
    }
    println!("GOST signatures in TC26/RFC 9215 certificates and CMS: {agree}/{total} agree");
    assert!(total >= 25);
}

/// The TC26 sample certificates' signatures through the X.509 signature path (SPKI with GOST
/// parameters, signatureAlgorithm OID, Streebog over the TBS bytes). Path validation is not used:
/// the sample root has no basicConstraints, which the validator requires of trust anchors.
#[test]
fn gost_tc26_certificate_signatures_verify_with_the_root_key() {
    use der::{Decode, Encode};
    use tokenconfirm_verify::signature::{verify, SignatureError, SignaturePolicy};
    use x509_cert::Certificate;
    let samples = dir().join("x509_samples/tc26");
    let read = |name: &str| {
        let text = std::fs::read_to_string(samples.join(name)).expect("read");
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        Certificate::from_der(&tokenconfirm_wire::b64::std_decode(&body).expect("base64"))
            .expect("certificate")
    };
    let root = read("root256_cert.pem");
    let key = root.tbs_certificate().subject_public_key_info().clone();
    let policy = SignaturePolicy::default();
    let mut n = 0;
    for name in [
        "root256_cert.pem",
        "sender256_cert.pem",
        "recipient256_cert.pem",
        "sender512_cert.pem",
        "recipient512_cert.pem",
    ] {
        let cert = read(name);
        let tbs = cert.tbs_certificate().to_der().expect("tbs");
        let sig = cert.signature().as_bytes().expect("signature bits");
        verify(&policy, &key, cert.signature_algorithm(), &tbs, sig)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut bad = sig.to_vec();
        bad[0] ^= 1;
        assert_eq!(
            verify(&policy, &key, cert.signature_algorithm(), &tbs, &bad),
            Err(SignatureError::Invalid),
            "{name}"
        );
        n += 1;
    }
    println!("GOST TC26 certificates: {n}/{n} signatures verify with the root key, {n}/{n} tampered refused");
}
