//! NIST PKITS (2011 data) conformance: all 249 cases from `pkits_expected.json`, with their
//! RFC 5280 §6.1.1 settings, hard-fail CRL revocation, validation time 2011-04-15.
//! Folder: `$TOKENCONFIRM_PKITS_DIR`, default `../shared/testdata/pkits`.
//!
//! Unsupported (listed, not skipped silently): DSA signatures (4.1.4–4.1.6) — the verifier
//! supports ECDSA, RSA and (later) GOST only; the cases run and must fail closed, and the
//! two SUCCESS cases among them are counted as "unsupported" rather than "agree".

use serde::Deserialize;
use std::path::PathBuf;
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Cert, Settings, UnixTime, Validator};

const UNSUPPORTED: &[(&str, &str)] = &[
    ("4.1.4", "DSA signatures are not supported"),
    (
        "4.1.5",
        "DSA signatures (parameter inheritance) are not supported",
    ),
];

#[derive(Deserialize)]
struct File {
    testcases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    title: String,
    trust_anchor: String,
    intermediates: Vec<String>,
    end_entity: String,
    crls: Vec<String>,
    expected_result: String,
    settings: CaseSettings,
    expected_user_constrained_policy_set_oids: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CaseSettings {
    initial_policy_set_oids: Vec<String>,
    initial_explicit_policy: bool,
    initial_policy_mapping_inhibit: bool,
    initial_inhibit_any_policy: bool,
}

fn dir() -> PathBuf {
    std::env::var_os("TOKENCONFIRM_PKITS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/pkits")
        })
}

fn cert(name: &str) -> Cert {
    let path = dir().join("certs").join(format!("{name}.crt"));
    Cert::from_der(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("PKITS certificate {name} parses: {e}"))
}

fn crl(name: &str) -> Vec<u8> {
    let path = dir().join("crls").join(format!("{name}.crl"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn pkits_all_cases() {
    let file = dir().join("pkits_expected.json");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (set TOKENCONFIRM_PKITS_DIR)", file.display()));
    let cases: File = serde_json::from_str(&text).expect("pkits_expected.json");
    assert_eq!(cases.testcases.len(), 249, "PKITS has 249 cases");
    let time = UnixTime(1_302_825_600); // 2011-04-15T00:00:00Z
    let (mut agree, mut unsupported, mut policy_mismatch) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for case in &cases.testcases {
        let anchors = vec![cert(&case.trust_anchor)];
        let pool: Vec<Cert> = case.intermediates.iter().map(|n| cert(n)).collect();
        let crls = CrlSet::parse(&case.crls.iter().map(|n| crl(n)).collect::<Vec<_>>())
            .expect("PKITS CRLs parse");
        let settings = Settings {
            initial_policy_set: case
                .settings
                .initial_policy_set_oids
                .iter()
                .map(|o| o.parse().expect("oid"))
                .collect(),
            explicit_policy: case.settings.initial_explicit_policy,
            policy_mapping_inhibit: case.settings.initial_policy_mapping_inhibit,
            any_policy_inhibit: case.settings.initial_inhibit_any_policy,
            revocation: true,
            // PKITS's valid paths run through CAs with non-critical policyConstraints.
            critical_policy_constraints: false,
            ..Settings::default()
        };
        let validator = Validator {
            anchors: &anchors,
            pool: &pool,
            crls: &crls,
            time,
            settings: &settings,
            cache: None,
        };
        let result = validator.validate(&cert(&case.end_entity));
        let expected_ok = case.expected_result == "SUCCESS";
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(id, _)| *id == case.id) {
            assert!(result.is_err(), "{} must fail closed ({why})", case.id);
            unsupported += 1;
            println!("unsupported {}: {why}", case.id);
            continue;
        }
        match (&result, expected_ok) {
            (Ok(path), true) => {
                agree += 1;
                if let Some(expected) = &case.expected_user_constrained_policy_set_oids {
                    let mut got: Vec<String> =
                        path.policies.iter().map(|o| o.to_string()).collect();
                    let mut want = expected.clone();
                    got.sort();
                    want.sort();
                    if got != want {
                        policy_mismatch += 1;
                        disagreements.push(format!(
                            "{} {}: user-constrained policy set {got:?}, expected {want:?}",
                            case.id, case.title
                        ));
                    }
                }
            }
            (Err(_), false) => agree += 1,
            (Ok(_), false) => {
                disagreements.push(format!("{} {}: FALSE ACCEPT", case.id, case.title))
            }
            (Err(e), true) => {
                disagreements.push(format!("{} {}: false reject: {e}", case.id, case.title))
            }
        }
    }
    for d in &disagreements {
        println!("DISAGREE {d}");
    }
    println!(
        "PKITS: {agree}/{} agree, {unsupported} unsupported (listed above), {} disagree, {policy_mismatch} policy-set mismatches",
        cases.testcases.len(),
        disagreements.len() - policy_mismatch
    );
    assert!(
        disagreements.is_empty(),
        "{} PKITS disagreements",
        disagreements.len()
    );
}
