//! The C ABI itself, called the way a C application calls it: size queries, buffer rules,
//! attribute errors, operation state. One test, because the module state is process-wide.

use super::*;
use crate::mechanism::{CKM_GOSTR3410_512, CKM_GOSTR3410_WITH_GOSTR3411_12_256};
use std::path::Path;
use std::process::Command;
use std::ptr::null_mut;

fn openssl_pair(dir: &Path, name: &str, algorithm: &str, paramset: &str, md: &str) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req", "-engine", "gost", "-x509", "-newkey", algorithm, "-pkeyopt",
        ])
        .arg(format!("paramset:{paramset}"))
        .args(["-nodes", "-keyout", &format!("{name}.key"), "-out"])
        .arg(format!("{name}.pem"))
        .args(["-subj", "/CN=tokenconfirm ffi test", "-days", "2", md])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(
        status.success(),
        "openssl req with the gost engine failed (apt-get install libengine-gost-openssl)"
    );
}

fn attr(t: CK_ATTRIBUTE_TYPE, value: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: t,
        pValue: if value.is_empty() {
            null_mut()
        } else {
            value.as_mut_ptr() as *mut c_void
        },
        ulValueLen: value.len() as CK_ULONG,
    }
}

unsafe fn find(
    f: &CK_FUNCTION_LIST,
    s: CK_SESSION_HANDLE,
    template: &mut [CK_ATTRIBUTE],
) -> Vec<CK_OBJECT_HANDLE> {
    let init = f.C_FindObjectsInit.unwrap();
    assert_eq!(
        init(s, template.as_mut_ptr(), template.len() as CK_ULONG),
        CKR_OK
    );
    let mut out = Vec::new();
    loop {
        let mut batch = [0 as CK_OBJECT_HANDLE; 2];
        let mut n: CK_ULONG = 0;
        assert_eq!(
            f.C_FindObjects.unwrap()(s, batch.as_mut_ptr(), 2, &mut n),
            CKR_OK
        );
        if n == 0 {
            break;
        }
        out.extend_from_slice(&batch[..n as usize]);
    }
    assert_eq!(f.C_FindObjectsFinal.unwrap()(s), CKR_OK);
    out
}

fn class(c: CK_OBJECT_CLASS) -> Vec<u8> {
    c.to_ne_bytes().to_vec()
}

#[test]
fn a_panic_becomes_general_error() {
    assert_eq!(guard(|| panic!("test panic")), CKR_GENERAL_ERROR);
    assert_eq!(guard(|| Err(Error::PinLocked)), CKR_PIN_LOCKED);
}

#[test]
fn the_c_abi_behaves_like_pkcs11_says() {
    let dir = tempfile::tempdir().unwrap();
    openssl_pair(dir.path(), "k256", "gost2012_256", "TCB", "-md_gost12_256");
    openssl_pair(dir.path(), "k512", "gost2012_512", "C", "-md_gost12_512");
    let conf = dir.path().join("token.toml");
    std::fs::write(
        &conf,
        "[[token]]\nlabel = \"ffi\"\nserial = \"FFI1\"\nuser_pin = \"1234\"\nmax_pin_retries = 5\n\
         [[token.key]]\nid = \"a1\"\nlabel = \"k256\"\ncertificate = \"k256.pem\"\nprivate_key = \"k256.key\"\n\
         [[token.key]]\nid = \"a2\"\nlabel = \"k512\"\ncertificate = \"k512.pem\"\nprivate_key = \"k512.key\"\n",
    )
    .unwrap();

    unsafe {
        assert_eq!(C_GetFunctionList(null_mut()), CKR_ARGUMENTS_BAD);
        let mut list: *mut CK_FUNCTION_LIST = null_mut();
        assert_eq!(C_GetFunctionList(&mut list), CKR_OK);
        let f = &*list;
        assert_eq!((f.version.major, f.version.minor), (2, 40));

        let mut info = CK_INFO::default();
        assert_eq!(
            f.C_GetInfo.unwrap()(&mut info),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(
            f.C_Finalize.unwrap()(null_mut()),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );

        // Bad C_Initialize arguments are refused before anything else.
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: std::ptr::dangling_mut::<c_void>(),
        };
        assert_eq!(
            f.C_Initialize.unwrap()(&mut args as *mut _ as *mut c_void),
            CKR_ARGUMENTS_BAD
        );
        token::initialize_with(&conf).unwrap();
        args.pReserved = null_mut();
        assert_eq!(
            f.C_Initialize.unwrap()(&mut args as *mut _ as *mut c_void),
            CKR_CRYPTOKI_ALREADY_INITIALIZED
        );
        assert_eq!(
            f.C_Initialize.unwrap()(null_mut()),
            CKR_CRYPTOKI_ALREADY_INITIALIZED
        );
        assert_eq!(f.C_GetInfo.unwrap()(&mut info), CKR_OK);
        assert_eq!(&info.manufacturerID[..12], b"tokenconfirm");

        // Slot and mechanism lists: size query, too small, fits.
        let mut n: CK_ULONG = 0;
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, null_mut(), &mut n),
            CKR_OK
        );
        assert_eq!(n, 1);
        let mut slots = [99 as CK_SLOT_ID; 1];
        n = 0;
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, slots.as_mut_ptr(), &mut n),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 1);
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, slots.as_mut_ptr(), &mut n),
            CKR_OK
        );
        assert_eq!(slots[0], 0);
        assert_eq!(
            f.C_GetSlotList.unwrap()(CK_TRUE, null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
        n = 0;
        assert_eq!(f.C_GetMechanismList.unwrap()(0, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 4);
        let mut mechs = [0 as CK_MECHANISM_TYPE; 4];
        assert_eq!(
            f.C_GetMechanismList.unwrap()(0, mechs.as_mut_ptr(), &mut n),
            CKR_OK
        );
        assert_eq!(
            mechs,
            [CKM_GOSTR3410, CKM_GOSTR3410_512, 0xD432_1008, 0xD432_1009]
        );
        assert_eq!(
            f.C_GetMechanismList.unwrap()(7, null_mut(), &mut n),
            CKR_SLOT_ID_INVALID
        );
        let mut mi = CK_MECHANISM_INFO::default();
        assert_eq!(
            f.C_GetMechanismInfo.unwrap()(0, CKM_GOSTR3410_512, &mut mi),
            CKR_OK
        );
        assert_eq!(
            (mi.ulMinKeySize, mi.ulMaxKeySize, mi.flags),
            (512, 512, CKF_SIGN)
        );
        assert_eq!(
            f.C_GetMechanismInfo.unwrap()(0, CKM_ECDSA, &mut mi),
            CKR_MECHANISM_INVALID
        );
        let mut slot_info = CK_SLOT_INFO::default();
        assert_eq!(f.C_GetSlotInfo.unwrap()(0, &mut slot_info), CKR_OK);
        assert_eq!(slot_info.flags & CKF_TOKEN_PRESENT, CKF_TOKEN_PRESENT);
        assert_eq!(
            f.C_GetSlotInfo.unwrap()(1, &mut slot_info),
            CKR_SLOT_ID_INVALID
        );
        let mut ti = CK_TOKEN_INFO::default();
        assert_eq!(f.C_GetTokenInfo.unwrap()(0, &mut ti), CKR_OK);
        assert_eq!(&ti.label[..4], b"ffi ");
        assert_eq!(&ti.serialNumber[..5], b"FFI1 ");
        let base = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED | CKF_RNG;
        assert_eq!(ti.flags, base);

        // Sessions.
        let mut s: CK_SESSION_HANDLE = 0;
        assert_eq!(
            f.C_OpenSession.unwrap()(0, 0, null_mut(), None, &mut s),
            CKR_SESSION_PARALLEL_NOT_SUPPORTED
        );
        assert_eq!(
            f.C_OpenSession.unwrap()(0, CKF_SERIAL_SESSION, null_mut(), None, null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            f.C_OpenSession.unwrap()(0, CKF_SERIAL_SESSION, null_mut(), None, &mut s),
            CKR_OK
        );
        let mut si = CK_SESSION_INFO::default();
        assert_eq!(f.C_GetSessionInfo.unwrap()(s, &mut si), CKR_OK);
        assert_eq!(si.state, CKS_RO_PUBLIC_SESSION);

        // Logged out: certificates and public keys only.
        assert_eq!(find(f, s, &mut []).len(), 4);
        let mut private_class = class(CKO_PRIVATE_KEY);
        assert!(find(f, s, &mut [attr(CKA_CLASS, &mut private_class)]).is_empty());
        assert_eq!(f.C_FindObjectsInit.unwrap()(s, null_mut(), 0), CKR_OK);
        assert_eq!(
            f.C_FindObjectsInit.unwrap()(s, null_mut(), 0),
            CKR_OPERATION_ACTIVE
        );
        assert_eq!(f.C_FindObjectsFinal.unwrap()(s), CKR_OK);
        assert_eq!(
            f.C_FindObjectsFinal.unwrap()(s),
            CKR_OPERATION_NOT_INITIALIZED
        );

        // Login.
        let login = f.C_Login.unwrap();
        let mut wrong = *b"9999";
        let mut right = *b"1234";
        assert_eq!(login(s, CKU_USER, wrong.as_mut_ptr(), 4), CKR_PIN_INCORRECT);
        assert_eq!(f.C_GetTokenInfo.unwrap()(0, &mut ti), CKR_OK);
        assert_eq!(ti.flags, base | CKF_USER_PIN_COUNT_LOW);
        assert_eq!(login(s, CKU_USER, right.as_mut_ptr(), 2), CKR_PIN_LEN_RANGE);
        assert_eq!(
            login(s, CKU_SO, right.as_mut_ptr(), 4),
            CKR_USER_TYPE_INVALID
        );
        assert_eq!(login(s, CKU_USER, right.as_mut_ptr(), 4), CKR_OK);
        assert_eq!(f.C_GetTokenInfo.unwrap()(0, &mut ti), CKR_OK);
        assert_eq!(ti.flags, base, "a correct PIN resets the counter");
        assert_eq!(
            login(s, CKU_USER, right.as_mut_ptr(), 4),
            CKR_USER_ALREADY_LOGGED_IN
        );
        assert_eq!(f.C_GetSessionInfo.unwrap()(s, &mut si), CKR_OK);
        assert_eq!(si.state, CKS_RO_USER_FUNCTIONS);
        assert_eq!(find(f, s, &mut []).len(), 6);

        let mut id = *b"\xa1";
        let keys = find(
            f,
            s,
            &mut [attr(CKA_CLASS, &mut private_class), attr(CKA_ID, &mut id)],
        );
        assert_eq!(keys.len(), 1);
        let key256 = keys[0];
        let mut id2 = *b"\xa2";
        let key512 = find(
            f,
            s,
            &mut [attr(CKA_CLASS, &mut private_class), attr(CKA_ID, &mut id2)],
        )[0];
        let mut public_class = class(CKO_PUBLIC_KEY);
        let pub256 = find(
            f,
            s,
            &mut [attr(CKA_CLASS, &mut public_class), attr(CKA_ID, &mut id)],
        )[0];
        let mut cert_class = class(CKO_CERTIFICATE);
        let cert256 = find(
            f,
            s,
            &mut [attr(CKA_CLASS, &mut cert_class), attr(CKA_ID, &mut id)],
        )[0];

        // C_GetAttributeValue: sensitive, size query, invalid type, too small — all in one call.
        let get = f.C_GetAttributeValue.unwrap();
        let mut small = [0u8; 2];
        let mut template = [
            attr(CKA_VALUE, &mut []),
            attr(CKA_KEY_TYPE, &mut []),
            attr(CKA_MODULUS, &mut []),
            attr(CKA_LABEL, &mut small),
        ];
        let rv = get(s, key256, template.as_mut_ptr(), 4);
        assert!(
            [
                CKR_ATTRIBUTE_SENSITIVE,
                CKR_ATTRIBUTE_TYPE_INVALID,
                CKR_BUFFER_TOO_SMALL
            ]
            .contains(&rv),
            "rv {rv:#x}"
        );
        assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(
            template[1].ulValueLen,
            std::mem::size_of::<CK_ULONG>() as CK_ULONG
        );
        assert_eq!(template[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(template[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        let mut value = [0u8; 8];
        let mut template = [attr(CKA_VALUE, &mut value)];
        assert_eq!(
            get(s, key256, template.as_mut_ptr(), 1),
            CKR_ATTRIBUTE_SENSITIVE
        );
        let mut key_type = [0u8; 8];
        let mut sign = [0u8; 1];
        let mut extractable = [9u8; 1];
        let mut params = [0u8; 16];
        let mut template = [
            attr(CKA_KEY_TYPE, &mut key_type),
            attr(CKA_SIGN, &mut sign),
            attr(CKA_EXTRACTABLE, &mut extractable),
            attr(CKA_GOSTR3411_PARAMS, &mut params),
        ];
        assert_eq!(get(s, key512, template.as_mut_ptr(), 4), CKR_OK);
        assert_eq!(CK_ULONG::from_ne_bytes(key_type), 0xD432_1003);
        assert_eq!((sign, extractable), ([CK_TRUE], [CK_FALSE]));
        assert_eq!(template[3].ulValueLen, 10);
        assert_eq!(&params[..10], crate::mechanism::STREEBOG_512_OID_DER);
        let mut public = [0u8; 64];
        let mut template = [attr(CKA_VALUE, &mut public)];
        assert_eq!(get(s, pub256, template.as_mut_ptr(), 1), CKR_OK);
        assert_eq!(
            get(s, 0x7777_0001, template.as_mut_ptr(), 1),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(
            get(s + 100, pub256, template.as_mut_ptr(), 1),
            CKR_SESSION_HANDLE_INVALID
        );

        // C_SignInit refusals.
        let sign_init = f.C_SignInit.unwrap();
        let mut raw256 = CK_MECHANISM {
            mechanism: CKM_GOSTR3410,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut raw512 = CK_MECHANISM {
            mechanism: CKM_GOSTR3410_512,
            ..raw256
        };
        let mut hash256 = CK_MECHANISM {
            mechanism: CKM_GOSTR3410_WITH_GOSTR3411_12_256,
            ..raw256
        };
        let mut ecdsa = CK_MECHANISM {
            mechanism: CKM_ECDSA,
            ..raw256
        };
        assert_eq!(sign_init(s, null_mut(), key256), CKR_ARGUMENTS_BAD);
        assert_eq!(sign_init(s, &mut ecdsa, key256), CKR_MECHANISM_INVALID);
        assert_eq!(sign_init(s, &mut raw512, key256), CKR_KEY_TYPE_INCONSISTENT);
        assert_eq!(sign_init(s, &mut raw256, key512), CKR_KEY_TYPE_INCONSISTENT);
        assert_eq!(
            sign_init(s, &mut raw256, pub256),
            CKR_KEY_FUNCTION_NOT_PERMITTED
        );
        assert_eq!(sign_init(s, &mut raw256, cert256), CKR_KEY_HANDLE_INVALID);
        let mut junk = [1u8, 2];
        let mut with_param = CK_MECHANISM {
            pParameter: junk.as_mut_ptr() as *mut c_void,
            ulParameterLen: 2,
            ..raw256
        };
        assert_eq!(
            sign_init(s, &mut with_param, key256),
            CKR_MECHANISM_PARAM_INVALID
        );

        // C_Sign: size query and too-small keep the operation; a bad length ends it.
        let c_sign = f.C_Sign.unwrap();
        assert_eq!(sign_init(s, &mut raw256, key256), CKR_OK);
        assert_eq!(sign_init(s, &mut raw256, key256), CKR_OPERATION_ACTIVE);
        let mut digest = [0x5au8; 32];
        let mut len: CK_ULONG = 0;
        assert_eq!(
            c_sign(s, digest.as_mut_ptr(), 32, null_mut(), &mut len),
            CKR_OK
        );
        assert_eq!(len, 64);
        let mut tiny = [0u8; 10];
        len = 10;
        assert_eq!(
            c_sign(s, digest.as_mut_ptr(), 32, tiny.as_mut_ptr(), &mut len),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 64);
        let mut signature = [0u8; 80];
        len = 80;
        assert_eq!(
            c_sign(s, digest.as_mut_ptr(), 31, signature.as_mut_ptr(), &mut len),
            CKR_DATA_LEN_RANGE
        );
        assert_eq!(
            c_sign(s, digest.as_mut_ptr(), 32, signature.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(sign_init(s, &mut raw256, key256), CKR_OK);
        len = 80;
        assert_eq!(
            c_sign(s, digest.as_mut_ptr(), 32, signature.as_mut_ptr(), &mut len),
            CKR_OK
        );
        assert_eq!(len, 64);
        let set = tokenconfirm_gost::param_set(&der::asn1::ObjectIdentifier::new_unwrap(
            "1.2.643.7.1.2.1.1.2",
        ))
        .unwrap();
        tokenconfirm_gost::verify_digest(set, &public, &digest, &signature[..64]).unwrap();

        // Multi-part with the hashing mechanism.
        assert_eq!(sign_init(s, &mut hash256, key256), CKR_OK);
        let mut parts = [
            b"tokenconfirm ".to_vec(),
            Vec::new(),
            b"multi-part".to_vec(),
        ];
        for p in parts.iter_mut() {
            assert_eq!(
                f.C_SignUpdate.unwrap()(s, p.as_mut_ptr(), p.len() as CK_ULONG),
                CKR_OK
            );
        }
        len = 0;
        assert_eq!(f.C_SignFinal.unwrap()(s, null_mut(), &mut len), CKR_OK);
        assert_eq!(len, 64);
        assert_eq!(
            f.C_SignFinal.unwrap()(s, signature.as_mut_ptr(), &mut len),
            CKR_OK
        );
        let digest = tokenconfirm_gost::streebog(
            tokenconfirm_gost::Size::Bits256,
            b"tokenconfirm multi-part",
        );
        tokenconfirm_gost::verify_digest(set, &public, &digest, &signature[..64]).unwrap();
        // C_Sign cannot finish a multi-part operation.
        assert_eq!(sign_init(s, &mut hash256, key256), CKR_OK);
        assert_eq!(
            f.C_SignUpdate.unwrap()(s, digest.as_ptr() as *mut u8, 4),
            CKR_OK
        );
        len = 80;
        assert_eq!(
            c_sign(
                s,
                digest.as_ptr() as *mut u8,
                4,
                signature.as_mut_ptr(),
                &mut len
            ),
            CKR_OPERATION_ACTIVE
        );
        assert_eq!(
            f.C_SignFinal.unwrap()(s, signature.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED
        );

        // Random.
        let mut random = [0u8; 48];
        assert_eq!(
            f.C_GenerateRandom.unwrap()(s, random.as_mut_ptr(), 48),
            CKR_OK
        );
        assert_ne!(random, [0u8; 48]);
        assert_eq!(
            f.C_GenerateRandom.unwrap()(s, null_mut(), 4),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            f.C_SeedRandom.unwrap()(s, random.as_mut_ptr(), 4),
            CKR_RANDOM_SEED_NOT_SUPPORTED
        );

        // Logged out again: the private key disappears.
        assert_eq!(f.C_Logout.unwrap()(s), CKR_OK);
        assert_eq!(f.C_Logout.unwrap()(s), CKR_USER_NOT_LOGGED_IN);
        let mut template = [attr(CKA_LABEL, &mut [])];
        assert_eq!(
            get(s, key256, template.as_mut_ptr(), 1),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(sign_init(s, &mut raw256, key256), CKR_USER_NOT_LOGGED_IN);

        // Login is per token; closing the last session logs out.
        let mut s2: CK_SESSION_HANDLE = 0;
        assert_eq!(
            f.C_OpenSession.unwrap()(
                0,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                null_mut(),
                None,
                &mut s2
            ),
            CKR_OK
        );
        assert_eq!(login(s, CKU_USER, right.as_mut_ptr(), 4), CKR_OK);
        assert_eq!(f.C_GetSessionInfo.unwrap()(s2, &mut si), CKR_OK);
        assert_eq!(si.state, CKS_RW_USER_FUNCTIONS);
        assert_eq!(f.C_GetTokenInfo.unwrap()(0, &mut ti), CKR_OK);
        assert_eq!((ti.ulSessionCount, ti.ulRwSessionCount), (2, 1));
        assert_eq!(f.C_CloseSession.unwrap()(s), CKR_OK);
        assert_eq!(f.C_CloseSession.unwrap()(s), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(f.C_CloseAllSessions.unwrap()(0), CKR_OK);
        assert_eq!(
            f.C_GetSessionInfo.unwrap()(s2, &mut si),
            CKR_SESSION_HANDLE_INVALID
        );
        assert_eq!(
            f.C_OpenSession.unwrap()(0, CKF_SERIAL_SESSION, null_mut(), None, &mut s),
            CKR_OK
        );
        assert_eq!(f.C_GetSessionInfo.unwrap()(s, &mut si), CKR_OK);
        assert_eq!(si.state, CKS_RO_PUBLIC_SESSION);

        // The rest.
        assert_eq!(
            f.C_WaitForSlotEvent.unwrap()(0, null_mut(), null_mut()),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            f.C_VerifyInit.unwrap()(s, &mut raw256, pub256),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(f.C_GetFunctionStatus.unwrap()(s), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(
            f.C_Finalize.unwrap()(std::ptr::dangling_mut::<c_void>()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(f.C_Finalize.unwrap()(null_mut()), CKR_OK);
        assert_eq!(
            f.C_Finalize.unwrap()(null_mut()),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(
            f.C_GetSessionInfo.unwrap()(s, &mut si),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
    }
}
