//! The module through the `cryptoki` crate, the way `tokenconfirm-agent` uses PKCS#11: find
//! certificates, log in, find the private key by CKA_ID, sign. One test: the module is loaded
//! into this process, and its state (like any PKCS#11 module's) is process-wide.

mod common;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use tokenconfirm_gost::{streebog, verify_digest, Size};
use tokenconfirm_gost_token::mechanism::{
    CKK_GOSTR3410_512, CKM_GOSTR3410_512, CKM_GOSTR3410_WITH_GOSTR3411_12_256,
    CKM_GOSTR3410_WITH_GOSTR3411_12_512,
};

fn vendor(mechanism: u64) -> Mechanism<'static> {
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(
        MechanismType::new_vendor_defined(mechanism as _).unwrap(),
        None,
    ))
}

#[test]
fn cryptoki_finds_logs_in_and_signs_like_the_agent() {
    let pki = pki();
    let dir = pki.path();
    let k256 = KeySpec::files("c1", dir, "user-256-TCC");
    let k512 = KeySpec::files("c2", dir, "user-512-B");
    let conf = write_config(
        dir,
        &[
            TokenSpec {
                label: "cryptoki 256".into(),
                serial: "CK0001".into(),
                pin: "1111".into(),
                max_retries: Some(5),
                keys: vec![k256.clone()],
            },
            TokenSpec {
                label: "cryptoki 512".into(),
                serial: "CK0002".into(),
                pin: "2222".into(),
                max_retries: None,
                keys: vec![k512.clone()],
            },
        ],
    );
    // The only test in this binary: nothing else reads the environment concurrently.
    std::env::set_var("TOKENCONFIRM_GOST_TOKEN_CONF", &conf);

    let pkcs11 = Pkcs11::new(module()).expect("load the module");
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    assert!(matches!(
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)),
        Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _))
    ));
    let library = pkcs11.get_library_info().unwrap();
    assert_eq!(library.manufacturer_id(), "tokenconfirm");
    let slots = pkcs11.get_slots_with_token().unwrap();
    assert_eq!(slots.len(), 2);
    let info = pkcs11.get_token_info(slots[1]).unwrap();
    assert_eq!(
        (info.label(), info.serial_number()),
        ("cryptoki 512", "CK0002")
    );
    assert!(info.login_required() && info.user_pin_initialized() && info.rng());

    for (slot, key, pin, size) in [
        (slots[0], &k256, "1111", Size::Bits256),
        (slots[1], &k512, "2222", Size::Bits512),
    ] {
        let session = pkcs11.open_ro_session(slot).unwrap();
        // What the agent does first: list certificates without logging in.
        let certs = session
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
            ])
            .unwrap();
        assert_eq!(certs.len(), 1);
        let attrs = session
            .get_attributes(
                certs[0],
                &[
                    AttributeType::Value,
                    AttributeType::Id,
                    AttributeType::Label,
                ],
            )
            .unwrap();
        let expected = key.cert();
        for a in &attrs {
            match a {
                Attribute::Value(v) => assert_eq!(v, &expected.der),
                Attribute::Id(id) => assert_eq!(hex(id), key.id),
                Attribute::Label(l) => assert_eq!(l, key.label.as_bytes()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .unwrap()
            .is_empty());

        let wrong = session.login(UserType::User, Some(&AuthPin::new("9999".into())));
        assert!(
            matches!(wrong, Err(Error::Pkcs11(RvError::PinIncorrect, _))),
            "{wrong:?}"
        );
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .unwrap();
        let again = session.login(UserType::User, Some(&AuthPin::new(pin.into())));
        assert!(
            matches!(again, Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _))),
            "{again:?}"
        );

        let id = certs_id(&attrs);
        let private = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id),
            ])
            .unwrap();
        assert_eq!(private.len(), 1);
        let key_attrs = session
            .get_attributes(
                private[0],
                &[
                    AttributeType::KeyType,
                    AttributeType::Sign,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Private,
                    AttributeType::AlwaysAuthenticate,
                    AttributeType::Value,
                ],
            )
            .unwrap();
        let want_type = match size {
            Size::Bits256 => KeyType::GOSTR3410,
            Size::Bits512 => KeyType::new_vendor_defined(CKK_GOSTR3410_512 as _).unwrap(),
        };
        let mut seen = 0;
        for a in &key_attrs {
            seen += 1;
            match a {
                Attribute::KeyType(t) => assert_eq!(*t, want_type),
                Attribute::Sign(b) | Attribute::Sensitive(b) | Attribute::Private(b) => assert!(*b),
                Attribute::Extractable(b) | Attribute::AlwaysAuthenticate(b) => assert!(!*b),
                Attribute::Value(_) => panic!("the private value must stay sensitive"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, 6, "CKA_VALUE is skipped as sensitive");

        // Hash inside the token, single-part and multi-part.
        let (hash_mechanism, raw_mechanism) = match size {
            Size::Bits256 => (CKM_GOSTR3410_WITH_GOSTR3411_12_256, None),
            Size::Bits512 => (CKM_GOSTR3410_WITH_GOSTR3411_12_512, Some(CKM_GOSTR3410_512)),
        };
        let message = "{\"statement\":\"tokenconfirm\"}".repeat(100);
        let digest = streebog(size, message.as_bytes());
        let signature = session
            .sign(&vendor(hash_mechanism as _), private[0], message.as_bytes())
            .unwrap();
        assert_eq!(signature.len(), 2 * bytes(size));
        verify_digest(expected.param_set, &expected.public_le, &digest, &signature).unwrap();

        session
            .sign_init(&vendor(hash_mechanism as _), private[0])
            .unwrap();
        for chunk in message.as_bytes().chunks(333) {
            session.sign_update(chunk).unwrap();
        }
        let signature = session.sign_final().unwrap();
        verify_digest(expected.param_set, &expected.public_le, &digest, &signature).unwrap();

        if let Some(raw) = raw_mechanism {
            let signature = session
                .sign(&vendor(raw as _), private[0], &digest)
                .unwrap();
            verify_digest(expected.param_set, &expected.public_le, &digest, &signature).unwrap();
            let short = session.sign(&vendor(raw as _), private[0], &digest[1..]);
            assert!(
                matches!(short, Err(Error::Pkcs11(RvError::DataLenRange, _))),
                "{short:?}"
            );
        } else {
            let wrong = session.sign(&vendor(CKM_GOSTR3410_512 as _), private[0], &digest);
            assert!(
                matches!(wrong, Err(Error::Pkcs11(RvError::KeyTypeInconsistent, _))),
                "{wrong:?}"
            );
        }

        let mut random = [0u8; 40];
        session.generate_random_slice(&mut random).unwrap();
        assert_ne!(random, [0u8; 40]);
        session.logout().unwrap();
        assert!(session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .unwrap()
            .is_empty());
    }

    // Concurrent sessions on several threads (the module serializes them with its mutex); the
    // login of one session counts for all sessions of the token.
    let keeper = pkcs11.open_ro_session(slots[0]).unwrap();
    keeper
        .login(UserType::User, Some(&AuthPin::new("1111".into())))
        .unwrap();
    let expected = k256.cert();
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let (pkcs11, expected, slot) = (&pkcs11, &expected, slots[0]);
            scope.spawn(move || {
                let session = pkcs11.open_ro_session(slot).unwrap();
                let key = session
                    .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
                    .unwrap();
                assert_eq!(key.len(), 1);
                for i in 0..3u8 {
                    let message = [t, i, 42];
                    let signature = session
                        .sign(
                            &vendor(CKM_GOSTR3410_WITH_GOSTR3411_12_256 as _),
                            key[0],
                            &message,
                        )
                        .unwrap();
                    let digest = streebog(Size::Bits256, &message);
                    verify_digest(expected.param_set, &expected.public_le, &digest, &signature)
                        .unwrap();
                }
            });
        }
    });
    drop(keeper);
    pkcs11.finalize().unwrap();
}

fn certs_id(attrs: &[Attribute]) -> Vec<u8> {
    attrs
        .iter()
        .find_map(|a| match a {
            Attribute::Id(id) => Some(id.clone()),
            _ => None,
        })
        .expect("CKA_ID")
}
