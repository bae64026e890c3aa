//! The agent library against a real SoftHSM token; OpenSSL verifies every envelope.

mod common;

use common::{fixture, fresh_challenge, openssl_print, openssl_verify, serial};
use tokenconfirm_agent::config::RsaScheme;
use tokenconfirm_agent::discovery::Candidate;
use tokenconfirm_agent::pin::{GivenPin, NoPin};
use tokenconfirm_agent::sign::{self, SignRequest};
use tokenconfirm_agent::token::inventory::Inventory;
use tokenconfirm_wire::challenge::Challenge;
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{Lang, PinText};
use tokenconfirm_wire::origin::Origin;
use tokenconfirm_wire::statement::Statement;

const ORIGIN: &str = "https://portal.example";

fn inventory() -> Inventory {
    let f = fixture();
    Inventory::scan(&[Candidate {
        path: f.module(),
        source: "test".into(),
    }])
}

fn request(selector: &str) -> SignRequest {
    SignRequest {
        challenge: Challenge::from_json(fresh_challenge(ORIGIN).as_bytes()).unwrap(),
        origin: Origin::parse(ORIGIN).unwrap(),
        certificate: Some(selector.into()),
        lang: Lang::En,
    }
}

fn pin(p: &str) -> GivenPin {
    GivenPin(PinText::new(p.into()))
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[test]
fn lists_both_certificates_with_qualified_attributes() {
    let _g = serial();
    let inv = inventory();
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(inv.certificates.len(), 2, "EC and RSA user certificates");
    assert_eq!(
        inv.authorities.len(),
        1,
        "the intermediate stored on the token"
    );
    let mut kinds: Vec<String> = inv
        .certificates
        .iter()
        .map(|c| c.describe().key_type)
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["ec-p256", "rsa-2048"]);
    for c in &inv.certificates {
        let d = c.describe();
        assert_eq!(
            d.snils.as_deref(),
            Some(fixture().get("TOKENCONFIRM_TEST_SNILS"))
        );
        assert_eq!(
            d.inn.as_deref(),
            Some(fixture().get("TOKENCONFIRM_TEST_INN"))
        );
        assert_eq!(d.common_name.as_deref(), Some("Иванов Иван Иванович"));
        assert_eq!(d.surname.as_deref(), Some("Иванов"));
        assert_eq!(d.given_name.as_deref(), Some("Иван Иванович"));
        assert_eq!(d.token.label, "tokenconfirm-test");
        assert!(!d.token.pin_pad);
        assert!(d.subject.contains("SNILS=11223344595"), "{}", d.subject);
        assert_eq!(d.id.len(), 43, "base64url SHA-256");
    }
}

fn sign_and_check(selector: &str, rsa: RsaScheme) -> (Vec<u8>, String) {
    let _g = serial();
    let inv = inventory();
    let req = request(selector);
    let signed = sign::sign(&inv, &req, &pin("123456"), rsa, &now, &|| false).expect("sign");
    let content = openssl_verify(fixture(), &signed.envelope);
    assert_eq!(
        content, signed.statement,
        "attached content is the statement"
    );
    let statement = Statement::from_signed_bytes(&content).expect("canonical statement");
    assert_eq!(statement.origin.as_str(), ORIGIN);
    assert_eq!(statement.challenge, req.challenge);
    let cert = inv.select(Some(selector)).unwrap();
    assert!(statement.names_certificate(&cert.info.der));
    assert_eq!(signed.certificate_id, cert.id);
    let printed = openssl_print(&signed.envelope);
    (signed.envelope, printed)
}

#[test]
fn ec_p256_envelope_verifies_with_openssl_and_carries_cades_attributes() {
    let (_, printed) = sign_and_check("01", RsaScheme::Pkcs1);
    for attr in [
        "contentType",
        "signingTime",
        "messageDigest",
        "id-smime-aa-signingCertificateV2",
        "ecdsa-with-SHA256",
    ] {
        assert!(printed.contains(attr), "missing {attr} in\n{printed}");
    }
    assert!(
        printed.contains("Тестовый УЦ") || printed.contains("\\D0"),
        "intermediate included"
    );
}

#[test]
fn rsa_pkcs1_envelope_verifies_with_openssl() {
    let (_, printed) = sign_and_check("02", RsaScheme::Pkcs1);
    assert!(printed.contains("rsaEncryption"), "{printed}");
}

#[test]
fn rsa_pss_envelope_verifies_with_openssl() {
    let (_, printed) = sign_and_check("02", RsaScheme::Pss);
    assert!(printed.contains("rsassaPss"), "{printed}");
}

#[test]
fn selects_by_id_prefix_and_label() {
    let _g = serial();
    let inv = inventory();
    let ec = inv.select(Some("01")).unwrap();
    assert_eq!(inv.select(Some(&ec.id[..8])).unwrap().id, ec.id);
    assert_eq!(inv.select(Some("Иванов EC")).unwrap().id, ec.id);
    assert_eq!(
        inv.select(None).unwrap_err().code,
        ErrorCode::CertificateAmbiguous
    );
}

#[test]
fn wrong_pin_is_reported_with_retry_flags_and_not_retried() {
    let _g = serial();
    let inv = inventory();
    let err = sign::sign(
        &inv,
        &request("01"),
        &pin("000000"),
        RsaScheme::Pkcs1,
        &now,
        &|| false,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::PinIncorrect);
    let details = err.details.expect("retry flags");
    assert!(
        details.get("pinCountLow").is_some() && details.get("pinFinalTry").is_some(),
        "{details}"
    );
    // The token is still usable with the right PIN afterwards.
    sign::sign(
        &inv,
        &request("01"),
        &pin("123456"),
        RsaScheme::Pkcs1,
        &now,
        &|| false,
    )
    .expect("sign after wrong PIN");
}

#[test]
fn missing_pin_source_is_pin_required() {
    let _g = serial();
    let err = sign::sign(
        &inventory(),
        &request("01"),
        &NoPin,
        RsaScheme::Pkcs1,
        &now,
        &|| false,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::PinRequired);
}

#[test]
fn unknown_certificate_is_certificate_not_found() {
    let _g = serial();
    let err = sign::sign(
        &inventory(),
        &request("ffff"),
        &pin("123456"),
        RsaScheme::Pkcs1,
        &now,
        &|| false,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::CertificateNotFound);
}

#[test]
fn origin_mismatch_is_refused_before_the_token_is_touched() {
    let _g = serial();
    let mut req = request("01");
    req.origin = Origin::parse("https://phishing.example").unwrap();
    let err = sign::sign(
        &inventory(),
        &req,
        &pin("123456"),
        RsaScheme::Pkcs1,
        &now,
        &|| false,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::OriginMismatch);
}

#[test]
fn nonexistent_module_is_reported_and_skipped() {
    let _g = serial();
    let f = fixture();
    let inv = Inventory::scan(&[
        Candidate {
            path: "/nonexistent/libpkcs11.so".into(),
            source: "test".into(),
        },
        Candidate {
            path: f.module(),
            source: "test".into(),
        },
    ]);
    assert_eq!(inv.problems.len(), 1);
    assert_eq!(inv.problems[0].code, ErrorCode::ModuleLoadFailed);
    assert_eq!(inv.certificates.len(), 2, "the working module still counts");
    let only_bad = Inventory::scan(&[Candidate {
        path: "/nonexistent/libpkcs11.so".into(),
        source: "test".into(),
    }]);
    assert_eq!(
        only_bad.select(Some("01")).unwrap_err().code,
        ErrorCode::ModuleLoadFailed
    );
}

#[test]
fn a_file_that_is_not_a_pkcs11_library_fails_cleanly() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libfake.so");
    std::fs::write(&fake, b"not an ELF file").unwrap();
    let inv = Inventory::scan(&[Candidate {
        path: fake,
        source: "test".into(),
    }]);
    assert_eq!(inv.problems.len(), 1);
    assert_eq!(inv.problems[0].code, ErrorCode::ModuleLoadFailed);
}

#[test]
fn expired_challenge_is_detected_by_check_fresh() {
    let issued = now() - time::Duration::minutes(30);
    let c = Challenge::from_json(common::challenge_at(ORIGIN, issued).as_bytes()).unwrap();
    assert_eq!(
        sign::check_fresh(&c, now()).unwrap_err().code,
        ErrorCode::ChallengeExpired
    );
}

#[test]
fn pin_of_impossible_length_is_refused_without_spending_a_try() {
    let _g = serial();
    let err = sign::sign(
        &inventory(),
        &request("01"),
        &pin("12"),
        RsaScheme::Pkcs1,
        &now,
        &|| false,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::PinLengthInvalid, "{err}");
}

#[test]
fn a_cancelled_request_never_logs_in_or_signs() {
    let _g = serial();
    let err = sign::sign(
        &inventory(),
        &request("01"),
        &pin("123456"),
        RsaScheme::Pkcs1,
        &now,
        &|| true,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::Cancelled, "{err}");
}
