//! The built module driven by OpenSC's `pkcs11-tool` (a separate process per call), with keys
//! and certificates made by OpenSSL + Debian's gost engine, signatures checked by
//! `tokenconfirm_gost::verify_digest` and by OpenSSL itself.

mod common;

use common::*;
use std::path::Path;
use tokenconfirm_gost::{streebog, verify_digest, Size};

const PIN: &str = "12345678";

/// Every parameter set OpenSSL's gost engine can generate, each as one key of one token:
/// (id, key spec, raw mechanism name for pkcs11-tool).
fn all_keys(pki: &Path) -> Vec<(KeySpec, Size)> {
    for (name, alg, set, env) in [
        ("cp-a", "gost2012_256", "A", None),
        ("cp-c", "gost2012_256", "C", None),
        (
            "xch-a",
            "gost2012_256",
            "XA",
            Some(("GOST_PK_FORMAT", "LEGACY_PK_WRAP")),
        ),
        ("xch-b", "gost2012_256", "XB", None),
    ] {
        self_signed(pki, name, alg, set, env.as_slice());
    }
    let stems: [(&str, Size); 12] = [
        ("user-256-TCA", Size::Bits256),
        ("user-256-TCB", Size::Bits256),
        ("user-256-TCC", Size::Bits256),
        ("user-256-TCD", Size::Bits256),
        ("user2", Size::Bits256),
        ("cp-a", Size::Bits256),
        ("cp-c", Size::Bits256),
        ("xch-a", Size::Bits256),
        ("xch-b", Size::Bits256),
        ("user-512-A", Size::Bits512),
        ("user-512-B", Size::Bits512),
        ("user-512-C", Size::Bits512),
    ];
    stems
        .iter()
        .enumerate()
        .map(|(i, (stem, size))| (KeySpec::files(&format!("{:02x}", i + 1), pki, stem), *size))
        .collect()
}

fn token(keys: Vec<KeySpec>) -> TokenSpec {
    TokenSpec {
        label: "GOST test token".into(),
        serial: "GT0001".into(),
        pin: PIN.into(),
        max_retries: None,
        keys,
    }
}

#[test]
fn pkcs11_tool_shows_info_slots_token_and_mechanisms() {
    let pki = pki();
    let second = TokenSpec {
        label: "second".into(),
        serial: "GT0002".into(),
        pin: "87654321".into(),
        max_retries: Some(3),
        keys: vec![KeySpec::files("01", pki.path(), "user-512-B")],
    };
    let conf = write_config(
        pki.path(),
        &[
            token(vec![KeySpec::files("01", pki.path(), "user-256-TCA")]),
            second,
        ],
    );

    let info = pkcs11_tool_ok(&conf, &["-I"]);
    assert!(info.contains("Cryptoki version 2.40"), "{info}");
    assert!(info.contains("tokenconfirm GOST test token"), "{info}");

    let slots = pkcs11_tool_ok(&conf, &["-L"]);
    for needle in [
        "Slot 0 (0x0): tokenconfirm GOST soft slot 0",
        "Slot 1 (0x1): tokenconfirm GOST soft slot 1",
        "token label        : GOST test token",
        "token label        : second",
        "serial num         : GT0001",
        "serial num         : GT0002",
        "token model        : GOST soft token",
        "pin min/max        : 4/64",
    ] {
        assert!(slots.contains(needle), "missing {needle:?} in\n{slots}");
    }
    let flags = slots
        .lines()
        .find(|l| l.contains("token flags"))
        .expect("flags line");
    for f in [
        "login required",
        "rng",
        "token initialized",
        "PIN initialized",
    ] {
        assert!(flags.contains(f), "{flags}");
    }
    assert!(
        !flags.contains("count low") && !flags.contains("locked"),
        "{flags}"
    );
    assert_eq!(
        pkcs11_tool_ok(&conf, &["-T"]),
        slots,
        "-T lists the same tokens"
    );

    let mechanisms = pkcs11_tool_ok(&conf, &["-M"]);
    for line in [
        "GOSTR3410, keySize={256,256}, sign",
        "GOSTR3410_512, keySize={512,512}, sign",
        "GOSTR3410-WITH-GOSTR3411-12-256, keySize={256,256}, sign",
        "GOSTR3410-WITH-GOSTR3411-12-512, keySize={512,512}, sign",
    ] {
        assert!(
            mechanisms.contains(line),
            "missing {line:?} in\n{mechanisms}"
        );
    }
    assert_eq!(
        mechanisms.lines().filter(|l| l.contains("keySize")).count(),
        4
    );
}

#[test]
fn pkcs11_tool_lists_private_keys_only_after_login() {
    let pki = pki();
    let keys = vec![
        KeySpec::files("0a", pki.path(), "user-256-TCB"),
        KeySpec::files("0b", pki.path(), "user-512-C"),
    ];
    let conf = write_config(pki.path(), &[token(keys.clone())]);

    let public = pkcs11_tool_ok(&conf, &["-O"]);
    assert_eq!(
        public
            .matches("Certificate Object; type = X.509 cert")
            .count(),
        2,
        "{public}"
    );
    assert_eq!(
        public
            .matches("Public Key Object; GOSTR3410-2012-256")
            .count(),
        1,
        "{public}"
    );
    assert_eq!(
        public
            .matches("Public Key Object; GOSTR3410-2012-512")
            .count(),
        1,
        "{public}"
    );
    assert!(!public.contains("Private Key Object"), "{public}");

    let all = pkcs11_tool_ok(&conf, &["-O", "--login", "--pin", PIN]);
    assert!(
        all.contains("Private Key Object; GOSTR3410-2012-256"),
        "{all}"
    );
    assert!(
        all.contains("Private Key Object; GOSTR3410-2012-512"),
        "{all}"
    );
    assert!(all.contains("Access:     sensitive"), "{all}");
    // CKA_GOSTR3410_PARAMS = DER of the curve OID (tc26 256 B, 512 C).
    assert!(all.contains("PARAMS OID: 06092a8503070102010102"), "{all}");
    assert!(all.contains("PARAMS OID: 06092a8503070102010203"), "{all}");
    // The public key VALUE is the certificate's X‖Y little-endian, as pkcs11-tool prints it.
    let squashed: String = all.split_whitespace().collect();
    for k in &keys {
        let value = hex(&k.cert().public_le);
        assert!(squashed.contains(&value), "public key {value} not listed");
    }
    assert!(
        all.contains("ID:         0a") && all.contains("ID:         0b"),
        "{all}"
    );
}

#[test]
fn pkcs11_tool_raw_signatures_on_every_param_set_verify_with_tokenconfirm_gost_and_openssl() {
    let pki = pki();
    let keys = all_keys(pki.path());
    let conf = write_config(
        pki.path(),
        &[token(keys.iter().map(|k| k.0.clone()).collect())],
    );
    let dir = pki.path();
    std::fs::write(
        dir.join("msg.txt"),
        "tokenconfirm: подтверждение учётной записи\n",
    )
    .unwrap();
    let message = std::fs::read(dir.join("msg.txt")).unwrap();

    for (key, size) in &keys {
        let (md, mechanism) = match size {
            Size::Bits256 => ("-md_gost12_256", "GOSTR3410"),
            Size::Bits512 => ("-md_gost12_512", "GOSTR3410_512"),
        };
        let digest_file = dir.join(format!("{}.digest", key.label));
        let sig_file = dir.join(format!("{}.sig", key.label));
        let digest = openssl(dir, &["dgst", "-engine", "gost", md, "-binary", "msg.txt"]).stdout;
        assert_eq!(
            digest,
            streebog(*size, &message),
            "OpenSSL and streebog agree"
        );
        std::fs::write(&digest_file, &digest).unwrap();

        sign_with_pkcs11_tool(&conf, mechanism, &key.id, &digest_file, &sig_file);
        let signature = std::fs::read(&sig_file).unwrap();
        assert_eq!(signature.len(), 2 * bytes(*size), "{}", key.label);
        let cert = key.cert();
        verify_digest(cert.param_set, &cert.public_le, &digest, &signature)
            .unwrap_or_else(|e| panic!("{} ({}): {e:?}", key.label, cert.param_set.name));

        let openssl_verify = |sig: &Path| {
            std::process::Command::new("openssl")
                .current_dir(dir)
                .args(["pkeyutl", "-engine", "gost", "-verify", "-certin", "-inkey"])
                .arg(&key.certificate)
                .arg("-in")
                .arg(&digest_file)
                .arg("-sigfile")
                .arg(sig)
                .output()
                .expect("openssl")
        };
        let out = openssl_verify(&sig_file);
        assert!(
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("Verified Successfully"),
            "OpenSSL rejects the token's {} signature: {}",
            key.label,
            String::from_utf8_lossy(&out.stderr)
        );

        let mut bad = signature.clone();
        bad[5] ^= 0x10;
        assert!(verify_digest(cert.param_set, &cert.public_le, &digest, &bad).is_err());
        let bad_file = dir.join(format!("{}.bad", key.label));
        std::fs::write(&bad_file, &bad).unwrap();
        assert!(!openssl_verify(&bad_file).status.success(), "{}", key.label);
    }
}

#[test]
fn pkcs11_tool_hash_and_sign_mechanisms_verify_with_openssl_dgst_single_and_multi_part() {
    let pki = pki();
    let dir = pki.path();
    let keys = [
        (KeySpec::files("01", dir, "user-256-TCD"), Size::Bits256),
        (KeySpec::files("02", dir, "user-512-A"), Size::Bits512),
    ];
    let conf = write_config(dir, &[token(keys.iter().map(|k| k.0.clone()).collect())]);
    // pkcs11-tool signs inputs of up to 1 KiB with C_Sign, larger ones with C_SignUpdate.
    std::fs::write(dir.join("small.txt"), "short message\n").unwrap();
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();

    for (key, size) in &keys {
        let (md, mechanism) = match size {
            Size::Bits256 => ("-md_gost12_256", "GOSTR3410-WITH-GOSTR3411-12-256"),
            Size::Bits512 => ("-md_gost12_512", "GOSTR3410-WITH-GOSTR3411-12-512"),
        };
        openssl(
            dir,
            &["x509", "-engine", "gost", "-pubkey", "-noout", "-in"]
                .into_iter()
                .chain([
                    key.certificate.to_str().unwrap(),
                    "-out",
                    &format!("{}.pub", key.label),
                ])
                .collect::<Vec<_>>(),
        );
        for input in ["small.txt", "big.bin"] {
            let sig = format!("{}-{input}.sig", key.label);
            sign_with_pkcs11_tool(&conf, mechanism, &key.id, &dir.join(input), &dir.join(&sig));
            let out = openssl(
                dir,
                &[
                    "dgst",
                    "-engine",
                    "gost",
                    md,
                    "-verify",
                    &format!("{}.pub", key.label),
                    "-signature",
                    &sig,
                    input,
                ],
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));
            let cert = key.cert();
            let digest = streebog(*size, &std::fs::read(dir.join(input)).unwrap());
            let signature = std::fs::read(dir.join(&sig)).unwrap();
            verify_digest(cert.param_set, &cert.public_le, &digest, &signature).unwrap();
        }
    }

    // Through OpenSC's PKCS#11 spy: the large input really went through C_SignUpdate.
    let spy = Path::new("/usr/lib/x86_64-linux-gnu/pkcs11-spy.so");
    if spy.is_file() {
        let log = dir.join("spy.log");
        let out = std::process::Command::new("pkcs11-tool")
            .env("TOKENCONFIRM_GOST_TOKEN_CONF", &conf)
            .env("PKCS11SPY", module())
            .env("PKCS11SPY_OUTPUT", &log)
            .arg("--module")
            .arg(spy)
            .args([
                "--login",
                "--pin",
                PIN,
                "--sign",
                "-m",
                "GOSTR3410-WITH-GOSTR3411-12-256",
            ])
            .args(["--id", "01", "-i"])
            .arg(dir.join("big.bin"))
            .arg("-o")
            .arg(dir.join("spy.sig"))
            .output()
            .expect("pkcs11-tool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::read_to_string(log).unwrap();
        assert!(
            log.contains("C_SignUpdate") && log.contains("C_SignFinal"),
            "spy log lacks multi-part signing"
        );
    } else {
        eprintln!("note: {} missing, multi-part use not traced", spy.display());
    }
}

#[test]
fn pkcs11_tool_wrong_mechanism_for_the_key_is_refused() {
    let pki = pki();
    let dir = pki.path();
    let conf = write_config(
        dir,
        &[token(vec![
            KeySpec::files("01", dir, "user-256-TCA"),
            KeySpec::files("02", dir, "user-512-B"),
        ])],
    );
    std::fs::write(dir.join("d32"), [7u8; 32]).unwrap();
    std::fs::write(dir.join("d64"), [7u8; 64]).unwrap();
    for (mechanism, id, input, expected) in [
        ("GOSTR3410", "02", "d32", "CKR_KEY_TYPE_INCONSISTENT"),
        ("GOSTR3410_512", "01", "d64", "CKR_KEY_TYPE_INCONSISTENT"),
        ("GOSTR3410", "01", "d64", "CKR_DATA_LEN_RANGE"),
    ] {
        let out = pkcs11_tool(
            Some(&conf),
            &[
                "--login",
                "--pin",
                PIN,
                "--sign",
                "-m",
                mechanism,
                "--id",
                id,
                "-i",
                &dir.join(input).to_string_lossy(),
                "-o",
                &dir.join("x.sig").to_string_lossy(),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{mechanism} {id}: {stderr}"
        );
    }
}

fn token_flags(conf: &Path) -> String {
    pkcs11_tool_ok(conf, &["-T"])
        .lines()
        .find(|l| l.contains("token flags"))
        .expect("flags")
        .to_owned()
}

fn login(conf: &Path, pin: &str) -> (bool, String) {
    let out = pkcs11_tool(Some(conf), &["-O", "--login", "--pin", pin]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pin_retry_counter_locks_survives_new_processes_and_resets_on_success() {
    let pki = pki();
    let dir = pki.path();
    let mut spec = token(vec![KeySpec::files("01", dir, "user-256-TCB")]);
    spec.max_retries = Some(3);
    let conf = write_config(dir, &[spec]);
    let state = dir.join("GT0001.pin-state");

    let (ok, err) = login(&conf, "00000000");
    assert!(!ok && err.contains("CKR_PIN_INCORRECT"), "{err}");
    let flags = token_flags(&conf);
    assert!(
        flags.contains("user PIN count low") && !flags.contains("final"),
        "{flags}"
    );
    assert!(std::fs::read_to_string(&state)
        .unwrap()
        .contains("failed_logins = 1"));

    // A right PIN before locking resets the counter.
    let (ok, err) = login(&conf, PIN);
    assert!(ok, "{err}");
    let flags = token_flags(&conf);
    assert!(!flags.contains("count low"), "{flags}");
    assert!(std::fs::read_to_string(&state)
        .unwrap()
        .contains("failed_logins = 0"));

    let (ok, err) = login(&conf, "00000000");
    assert!(!ok && err.contains("CKR_PIN_INCORRECT"), "{err}");
    let (ok, err) = login(&conf, "11111111");
    assert!(!ok && err.contains("CKR_PIN_INCORRECT"), "{err}");
    let flags = token_flags(&conf);
    assert!(flags.contains("final user PIN try"), "{flags}");
    let (ok, err) = login(&conf, "22222222");
    assert!(
        !ok && err.contains("CKR_PIN_LOCKED"),
        "the locking attempt: {err}"
    );

    // Every later process sees the lock, the right PIN included.
    let flags = token_flags(&conf);
    assert!(
        flags.contains("user PIN locked") && !flags.contains("count low"),
        "{flags}"
    );
    let (ok, err) = login(&conf, PIN);
    assert!(!ok && err.contains("CKR_PIN_LOCKED"), "{err}");
    assert!(std::fs::read_to_string(&state)
        .unwrap()
        .contains("failed_logins = 3"));
    // Public objects stay readable.
    assert!(pkcs11_tool_ok(&conf, &["-O"]).contains("Certificate Object"));
}

#[test]
fn a_bad_configuration_fails_c_initialize_and_never_prints_the_pin() {
    let pki = pki();
    let dir = pki.path();
    let check = |conf: Option<&Path>, needle: &str| {
        let out = pkcs11_tool(conf, &["-L"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("C_Initialize") && stderr.contains("CKR_GENERAL_ERROR"),
            "{stderr}"
        );
        assert!(stderr.contains(needle), "missing {needle:?} in {stderr}");
        assert!(!stderr.contains("31415926"), "PIN leaked: {stderr}");
    };
    check(None, "TOKENCONFIRM_GOST_TOKEN_CONF is not set");
    check(Some(&dir.join("missing.toml")), "missing.toml");

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[token]]\nlabel = \"x\"\nserial = \"s\"\nuser_pin = 31415926\n",
    )
    .unwrap();
    check(Some(&bad), "user_pin: must be a quoted string");
    std::fs::write(
        &bad,
        "[[token]]\nlabel = \"x\"\nserial = \"s\"\nuser_pin = \"31415926\n",
    )
    .unwrap();
    check(Some(&bad), "line 4");

    // A private key that does not belong to its certificate.
    let mut mixed = KeySpec::files("01", dir, "user-256-TCA");
    mixed.private_key = dir.join("user-256-TCB.key");
    let mut spec = token(vec![mixed]);
    spec.pin = "31415926".into();
    let conf = write_config(dir, &[spec]);
    check(Some(&conf), "the private key is on id-tc26-gost-3410-2012-256-paramSetB but the certificate on id-tc26-gost-3410-2012-256-paramSetA");
    let mut mixed = KeySpec::files("01", dir, "user-256-TCB");
    mixed.certificate = dir.join("user2.pem");
    let conf = write_config(dir, &[token(vec![mixed])]);
    let out = pkcs11_tool(Some(&conf), &["-L"]);
    assert!(!out.status.success());

    // A certificate file that is not a certificate.
    let mut broken = KeySpec::files("01", dir, "user-256-TCA");
    broken.certificate = dir.join("user-256-TCA.key");
    let conf = write_config(dir, &[token(vec![broken])]);
    check(Some(&conf), "unexpected PEM label \"PRIVATE KEY\"");
}

/// `pkcs11-tool --login --pin PIN --sign -m MECHANISM --id ID -i INPUT -o OUTPUT`, which must
/// succeed.
fn sign_with_pkcs11_tool(conf: &Path, mechanism: &str, id: &str, input: &Path, output: &Path) {
    pkcs11_tool_ok(
        conf,
        &[
            "--login",
            "--pin",
            PIN,
            "--sign",
            "-m",
            mechanism,
            "--id",
            id,
            "-i",
            &input.to_string_lossy(),
            "-o",
            &output.to_string_lossy(),
        ],
    );
}
