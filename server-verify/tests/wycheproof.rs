//! Wycheproof conformance harness for `tokenconfirm_verify::signature`.
//!
//! Data: the C2SP Wycheproof `testvectors_v1` copy in
//! `<repo>/../shared/testdata/wycheproof/testvectors_v1` (resolved from `CARGO_MANIFEST_DIR`),
//! or the directory named by the environment variable `TOKENCONFIRM_WYCHEPROOF_DIR`. The list
//! of files and their expected counts comes from `counts.tsv`, looked up in that directory and
//! then in its parent (where the shared copy keeps it).
//!
//! Coverage: every file of `counts.tsv` must exist, and every `*.json` in the directory must be
//! listed there and belong to one of the families run here (ECDSA DER `ecdsa_*_test.json`,
//! ECDSA P1363 `ecdsa_*_p1363_test.json`, RSA PKCS#1 v1.5 `rsa_signature_*_test.json`,
//! RSA-PSS `rsa_pss_*_test.json` with an rsaEncryption key, RSA-PSS `rsa_pss_*_params_test.json`
//! with an id-RSASSA-PSS key carrying RSASSA-PSS-params); otherwise the test fails. Each file's
//! `schema`, `numberOfTests` and valid/invalid/acceptable counts are checked against
//! `counts.tsv`.
//!
//! How a vector is run: the key is the group's `publicKeyDer` (SPKI, used as is, so the
//! `_params_` files exercise the key's PSS restriction). The signature algorithm is built from
//! the group's `sha` (and for PSS `mgf`/`mgfSha`/`sLen`): ecdsa-with-SHAxxx without
//! parameters, shaxxxWithRSAEncryption with NULL, id-RSASSA-PSS with explicit RFC 4055
//! parameters (hash and MGF1 hash with NULL parameters, saltLength). DER ECDSA and RSA go
//! through `signature::verify` with `SignaturePolicy { min_rsa_bits: 2048 }`, P1363 through
//! `signature::verify_ecdsa_p1363`.
//!
//! Expectations:
//! * `valid` must verify and `invalid` must be rejected: 100 % agreement is asserted.
//! * `acceptable` (only in the PKCS#1 v1.5 files: one `MissingNull` vector each, a `DigestInfo`
//!   without the NULL hash parameters): **we reject them**, and the harness asserts it. RFC 8017
//!   §8.2.2 verifies by re-encoding the one canonical `EMSA-PKCS1-v1_5` form and comparing;
//!   the NULL-less form only comes from legacy implementations (Wycheproof's own flag says
//!   LEGACY: "such signatures are indeed invalid"), and accepting a second encoding would add
//!   malleability and an ASN.1 parsing surface for no user benefit. aws-lc and the
//!   encode-and-compare fallback both reject it. They are counted separately.
//! * Out of policy: groups whose `sha` or `mgfSha` is not SHA-256/384/512 (only in
//!   `rsa_pss_misc*_test.json`: SHA-1 and SHA-224, all `valid`) must be rejected with
//!   `unsupported-algorithm`, whatever Wycheproof expects — SHA-1 is rejected as weak and
//!   SHA-224 is outside the allowed set. They are counted separately and not part of the
//!   valid/invalid agreement.
//!
//! Output: a tally per file on stdout (`cargo test --test wycheproof -- --nocapture`).
//!
//! Run time (debug build, the project's 2-core machine): about 1.0 s of CPU for all 8624
//! vectors, 1.7–2.1 s wall while other builds share the machine
//! (`cargo test -p tokenconfirm-verify --test wycheproof`). Most of it is JSON parsing and the
//! pure-Rust RSA-PSS path (salt ≠ hash length or MGF1 hash ≠ message hash: about 300
//! vectors); ECDSA and the common RSA cases run in aws-lc (C, optimised even in debug builds).

use serde::Deserialize;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokenconfirm_verify::signature::{
    verify, verify_ecdsa_p1363, HashAlg, SignatureError, SignaturePolicy,
};

use der::asn1::ObjectIdentifier;
use der::Decode;

// ---------------------------------------------------------------------------------------------
// Wycheproof JSON (only the fields we use; serde ignores the rest)
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestFile {
    algorithm: String,
    schema: String,
    number_of_tests: usize,
    test_groups: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestGroup {
    #[serde(rename = "type")]
    kind: String,
    public_key_der: String,
    sha: String,
    mgf: Option<String>,
    mgf_sha: Option<String>,
    s_len: Option<u32>,
    tests: Vec<TestCase>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestCase {
    tc_id: u64,
    comment: String,
    flags: Vec<String>,
    msg: String,
    sig: String,
    result: Expected,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Valid,
    Invalid,
    Acceptable,
}

// ---------------------------------------------------------------------------------------------
// Files and families
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    EcdsaDer,
    EcdsaP1363,
    RsaPkcs1,
    RsaPss,
    RsaPssParams,
}

impl Family {
    fn of(file: &str) -> Option<Self> {
        if !file.ends_with("_test.json") {
            return None;
        }
        if file.starts_with("ecdsa_") {
            Some(if file.ends_with("_p1363_test.json") {
                Self::EcdsaP1363
            } else {
                Self::EcdsaDer
            })
        } else if file.starts_with("rsa_signature_") {
            Some(Self::RsaPkcs1)
        } else if file.starts_with("rsa_pss_") {
            Some(if file.ends_with("_params_test.json") {
                Self::RsaPssParams
            } else {
                Self::RsaPss
            })
        } else {
            None
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Self::EcdsaDer => "ecdsa_verify_schema_v1.json",
            Self::EcdsaP1363 => "ecdsa_p1363_verify_schema_v1.json",
            Self::RsaPkcs1 => "rsassa_pkcs1_verify_schema_v1.json",
            Self::RsaPss => "rsassa_pss_verify_schema_v1.json",
            Self::RsaPssParams => "rsassa_pss_with_parameters_verify_schema.json",
        }
    }

    fn group_type(self) -> &'static str {
        match self {
            Self::EcdsaDer => "EcdsaVerify",
            Self::EcdsaP1363 => "EcdsaP1363Verify",
            Self::RsaPkcs1 => "RsassaPkcs1Verify",
            Self::RsaPss => "RsassaPssVerify",
            Self::RsaPssParams => "RsassaPssWithParametersVerify",
        }
    }
}

/// One row of `counts.tsv`.
struct Listed {
    file: String,
    schema: String,
    tests: usize,
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

fn data_dir() -> PathBuf {
    match std::env::var_os("TOKENCONFIRM_WYCHEPROOF_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/testdata/wycheproof/testvectors_v1"),
    }
}

fn counts_tsv(dir: &Path) -> PathBuf {
    let here = dir.join("counts.tsv");
    if here.is_file() {
        return here;
    }
    dir.join("../counts.tsv")
}

fn listed_files(dir: &Path) -> Vec<Listed> {
    let path = counts_tsv(dir);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("counts.tsv is empty")
        .split('\t')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("counts.tsv has no column {name}"))
    };
    let (c_file, c_schema, c_tests, c_valid, c_invalid, c_acceptable) = (
        col("file"),
        col("schema"),
        col("tests"),
        col("valid"),
        col("invalid"),
        col("acceptable"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let num = |c: usize| -> usize {
                cells
                    .get(c)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("counts.tsv: bad number in {line:?}"))
            };
            Listed {
                file: cells[c_file].to_string(),
                schema: cells[c_schema].to_string(),
                tests: num(c_tests),
                valid: num(c_valid),
                invalid: num(c_invalid),
                acceptable: num(c_acceptable),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Building keys and algorithm identifiers
// ---------------------------------------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("bad hex digit {c:#x}"),
        }
    }
    assert!(s.len() % 2 == 0, "odd-length hex");
    s.as_bytes()
        .chunks(2)
        .map(|p| (nibble(p[0]) << 4) | nibble(p[1]))
        .collect()
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn oid_tlv(dotted: &str) -> Vec<u8> {
    use der::Encode;
    ObjectIdentifier::new(dotted)
        .expect("OID")
        .to_der()
        .expect("encode OID")
}

/// Hash algorithm OID by Wycheproof name (also the out-of-policy ones, to build their params).
fn hash_oid(name: &str) -> &'static str {
    match name {
        "SHA-1" => "1.3.14.3.2.26",
        "SHA-224" => "2.16.840.1.101.3.4.2.4",
        "SHA-256" => "2.16.840.1.101.3.4.2.1",
        "SHA-384" => "2.16.840.1.101.3.4.2.2",
        "SHA-512" => "2.16.840.1.101.3.4.2.3",
        "SHA-512/224" => "2.16.840.1.101.3.4.2.5",
        "SHA-512/256" => "2.16.840.1.101.3.4.2.6",
        "SHA3-224" => "2.16.840.1.101.3.4.2.7",
        "SHA3-256" => "2.16.840.1.101.3.4.2.8",
        "SHA3-384" => "2.16.840.1.101.3.4.2.9",
        "SHA3-512" => "2.16.840.1.101.3.4.2.10",
        other => panic!("unknown hash name {other:?}"),
    }
}

fn in_policy_hash(name: &str) -> Option<HashAlg> {
    match name {
        "SHA-256" => Some(HashAlg::Sha256),
        "SHA-384" => Some(HashAlg::Sha384),
        "SHA-512" => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn algorithm(oid: &str, params: Option<&[u8]>) -> AlgorithmIdentifierOwned {
    let mut content = oid_tlv(oid);
    if let Some(p) = params {
        content.extend_from_slice(p);
    }
    AlgorithmIdentifierOwned::from_der(&tlv(0x30, &content)).expect("AlgorithmIdentifier")
}

/// `RSASSA-PSS-params` with every field explicit (hash parameters NULL).
fn pss_algorithm(sha: &str, mgf_sha: &str, salt: u32) -> AlgorithmIdentifierOwned {
    let hash_ai = |name: &str| tlv(0x30, &[oid_tlv(hash_oid(name)), vec![0x05, 0x00]].concat());
    let mgf_ai = tlv(
        0x30,
        &[oid_tlv("1.2.840.113549.1.1.8"), hash_ai(mgf_sha)].concat(),
    );
    let salt_bytes = salt.to_be_bytes();
    let start = salt_bytes.iter().position(|&b| b != 0).unwrap_or(3);
    let mut salt_int = salt_bytes[start..].to_vec();
    if salt_int[0] & 0x80 != 0 {
        salt_int.insert(0, 0);
    }
    let params = tlv(
        0x30,
        &[
            tlv(0xa0, &hash_ai(sha)),
            tlv(0xa1, &mgf_ai),
            tlv(0xa2, &tlv(0x02, &salt_int)),
        ]
        .concat(),
    );
    algorithm("1.2.840.113549.1.1.10", Some(&params))
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    valid_ok: usize,
    valid: usize,
    invalid_ok: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    out_of_policy: usize,
    out_of_policy_ok: usize,
    rejected_by_code: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

/// How one group is verified.
enum Runner {
    /// `verify` with this algorithm identifier.
    X509(AlgorithmIdentifierOwned),
    /// `verify_ecdsa_p1363` with this hash.
    P1363(HashAlg),
    /// Out of policy: must be rejected as unsupported-algorithm.
    OutOfPolicy(AlgorithmIdentifierOwned),
}

fn runner_for(family: Family, group: &TestGroup) -> Runner {
    let sha = group.sha.as_str();
    match family {
        Family::EcdsaDer => {
            let oid = match sha {
                "SHA-256" => "1.2.840.10045.4.3.2",
                "SHA-384" => "1.2.840.10045.4.3.3",
                "SHA-512" => "1.2.840.10045.4.3.4",
                other => panic!("ECDSA group with hash {other}: extend the harness"),
            };
            Runner::X509(algorithm(oid, None))
        }
        Family::EcdsaP1363 => Runner::P1363(
            in_policy_hash(sha)
                .unwrap_or_else(|| panic!("P1363 group with hash {sha}: extend the harness")),
        ),
        Family::RsaPkcs1 => {
            let oid = match sha {
                "SHA-256" => "1.2.840.113549.1.1.11",
                "SHA-384" => "1.2.840.113549.1.1.12",
                "SHA-512" => "1.2.840.113549.1.1.13",
                other => panic!("PKCS#1 group with hash {other}: extend the harness"),
            };
            Runner::X509(algorithm(oid, Some(&[0x05, 0x00])))
        }
        Family::RsaPss | Family::RsaPssParams => {
            assert_eq!(group.mgf.as_deref(), Some("MGF1"), "PSS group without MGF1");
            let mgf_sha = group.mgf_sha.as_deref().expect("PSS group without mgfSha");
            let salt = group.s_len.expect("PSS group without sLen");
            let alg = pss_algorithm(sha, mgf_sha, salt);
            if in_policy_hash(sha).is_some() && in_policy_hash(mgf_sha).is_some() {
                Runner::X509(alg)
            } else {
                Runner::OutOfPolicy(alg)
            }
        }
    }
}

fn run_file(dir: &Path, listed: &Listed, family: Family) -> Tally {
    let path = dir.join(&listed.file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file: TestFile = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not a Wycheproof file: {e}", listed.file));
    let mut tally = Tally::default();
    let fail = |tally: &mut Tally, msg: String| tally.failures.push(msg);

    if file.schema != family.schema() || file.schema != listed.schema {
        fail(
            &mut tally,
            format!(
                "{}: schema {} (counts.tsv {}, harness expects {})",
                listed.file,
                file.schema,
                listed.schema,
                family.schema()
            ),
        );
        return tally;
    }
    let total: usize = file.test_groups.iter().map(|g| g.tests.len()).sum();
    if total != file.number_of_tests || total != listed.tests {
        fail(
            &mut tally,
            format!(
                "{}: {total} tests, numberOfTests {}, counts.tsv {}",
                listed.file, file.number_of_tests, listed.tests
            ),
        );
    }

    let policy = SignaturePolicy { min_rsa_bits: 2048 };
    for group in &file.test_groups {
        if group.kind != family.group_type() {
            fail(
                &mut tally,
                format!("{}: group type {} unexpected", listed.file, group.kind),
            );
            continue;
        }
        let spki = match SubjectPublicKeyInfoOwned::from_der(&hex(&group.public_key_der)) {
            Ok(spki) => spki,
            Err(e) => {
                fail(
                    &mut tally,
                    format!("{}: group publicKeyDer does not parse: {e}", listed.file),
                );
                continue;
            }
        };
        let runner = runner_for(family, group);
        for test in &group.tests {
            let msg = hex(&test.msg);
            let sig = hex(&test.sig);
            let result: Result<(), SignatureError> = match &runner {
                Runner::X509(alg) | Runner::OutOfPolicy(alg) => {
                    verify(&policy, &spki, alg, &msg, &sig)
                }
                Runner::P1363(hash) => verify_ecdsa_p1363(&spki, *hash, &msg, &sig),
            };
            if let Err(e) = &result {
                *tally.rejected_by_code.entry(e.code()).or_default() += 1;
            }
            let describe = || {
                format!(
                    "{} tcId {} ({:?}, {:?}, flags {:?}): got {:?}",
                    listed.file, test.tc_id, test.result, test.comment, test.flags, result
                )
            };
            if let Runner::OutOfPolicy(_) = runner {
                tally.out_of_policy += 1;
                if matches!(result, Err(SignatureError::UnsupportedAlgorithm(_))) {
                    tally.out_of_policy_ok += 1;
                } else {
                    let msg = format!(
                        "out of policy, expected unsupported-algorithm: {}",
                        describe()
                    );
                    fail(&mut tally, msg);
                }
                continue;
            }
            match test.result {
                Expected::Valid => {
                    tally.valid += 1;
                    if result.is_ok() {
                        tally.valid_ok += 1;
                    } else {
                        fail(&mut tally, describe());
                    }
                }
                Expected::Invalid => {
                    tally.invalid += 1;
                    if result.is_err() {
                        tally.invalid_ok += 1;
                    } else {
                        fail(&mut tally, describe());
                    }
                }
                Expected::Acceptable => {
                    if result.is_ok() {
                        tally.acceptable_accepted += 1;
                        fail(
                            &mut tally,
                            format!(
                                "acceptable vector accepted, policy is reject: {}",
                                describe()
                            ),
                        );
                    } else {
                        tally.acceptable_rejected += 1;
                    }
                }
            }
        }
    }

    // Counts by Wycheproof verdict must match counts.tsv (in and out of policy together).
    let mut by_verdict = [0usize; 3];
    for test in file.test_groups.iter().flat_map(|g| &g.tests) {
        by_verdict[test.result as usize] += 1;
    }
    if by_verdict != [listed.valid, listed.invalid, listed.acceptable] {
        fail(
            &mut tally,
            format!(
                "{}: valid/invalid/acceptable {:?}, counts.tsv {:?}; algorithm {}",
                listed.file,
                by_verdict,
                [listed.valid, listed.invalid, listed.acceptable],
                file.algorithm
            ),
        );
    }
    tally
}

fn run_family(family: Family) {
    let start = Instant::now();
    let dir = data_dir();
    let listed: Vec<Listed> = listed_files(&dir)
        .into_iter()
        .filter(|l| Family::of(&l.file) == Some(family))
        .collect();
    assert!(
        !listed.is_empty(),
        "counts.tsv lists no {family:?} file (data dir {})",
        dir.display()
    );
    let mut failures = Vec::new();
    let (mut agree, mut total) = (0usize, 0usize);
    for entry in &listed {
        let t = run_file(&dir, entry, family);
        agree += t.valid_ok + t.invalid_ok;
        total += t.valid + t.invalid;
        let codes: Vec<String> = t
            .rejected_by_code
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        println!(
            "{:<46} valid {:>3}/{:<3} invalid {:>3}/{:<3} acceptable accepted {}/rejected {} \
             out-of-policy rejected {}/{}  [{}]",
            entry.file,
            t.valid_ok,
            t.valid,
            t.invalid_ok,
            t.invalid,
            t.acceptable_accepted,
            t.acceptable_rejected,
            t.out_of_policy_ok,
            t.out_of_policy,
            codes.join(", ")
        );
        failures.extend(t.failures);
    }
    println!(
        "{family:?}: {} files, valid+invalid agreement {agree}/{total}, {:.2?}",
        listed.len(),
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} disagreement(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Every listed file exists, and every vector file in the directory is listed and run.
#[test]
fn wycheproof_files_are_all_covered() {
    let dir = data_dir();
    let listed = listed_files(&dir);
    let listed_names: BTreeSet<&str> = listed.iter().map(|l| l.file.as_str()).collect();
    let mut problems = Vec::new();
    for l in &listed {
        if !dir.join(&l.file).is_file() {
            problems.push(format!("listed in counts.tsv but missing: {}", l.file));
        }
        match Family::of(&l.file) {
            None => problems.push(format!("listed but no harness family: {}", l.file)),
            Some(f) if f.schema() != l.schema => problems.push(format!(
                "{}: counts.tsv schema {} but family {f:?} expects {}",
                l.file,
                l.schema,
                f.schema()
            )),
            Some(_) => {}
        }
    }
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".json") {
            continue;
        }
        if Family::of(&name).is_none() {
            problems.push(format!("{name}: no harness family covers this file"));
        }
        if !listed_names.contains(name.as_ref()) {
            problems.push(format!("{name}: present but not listed in counts.tsv"));
        }
    }
    for family in [
        Family::EcdsaDer,
        Family::EcdsaP1363,
        Family::RsaPkcs1,
        Family::RsaPss,
        Family::RsaPssParams,
    ] {
        if !listed.iter().any(|l| Family::of(&l.file) == Some(family)) {
            problems.push(format!("no {family:?} file listed"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// ECDSA P-256/384/521, DER (X9.62) signatures, through `verify`.
#[test]
fn wycheproof_ecdsa_der() {
    run_family(Family::EcdsaDer);
}

/// ECDSA P-256/384/521, IEEE P1363 `r‖s` signatures, through `verify_ecdsa_p1363`.
#[test]
fn wycheproof_ecdsa_p1363() {
    run_family(Family::EcdsaP1363);
}

/// RSASSA-PKCS1-v1_5 with SHA-256/384/512, 2048–4096-bit keys.
#[test]
fn wycheproof_rsa_pkcs1_v1_5() {
    run_family(Family::RsaPkcs1);
}

/// RSASSA-PSS, rsaEncryption keys, parameters in the signature algorithm identifier.
#[test]
fn wycheproof_rsa_pss() {
    run_family(Family::RsaPss);
}

/// RSASSA-PSS, id-RSASSA-PSS keys whose SPKI carries RSASSA-PSS-params.
#[test]
fn wycheproof_rsa_pss_with_key_parameters() {
    run_family(Family::RsaPssParams);
}
