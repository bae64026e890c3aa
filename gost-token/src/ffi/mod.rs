//! The PKCS#11 v2.40 C ABI — the only module of the crate with `unsafe` code.
//!
//! Every entry point checks its pointers, copies arguments into safe Rust values, calls
//! [`crate::token`] under the global lock, copies results out, and runs inside
//! `catch_unwind`: a panic becomes `CKR_GENERAL_ERROR`, never an unwind into C.
//!
//! `C_Initialize` accepts `NULL` or a `CK_C_INITIALIZE_ARGS` (with or without
//! `CKF_OS_LOCKING_OK`); the module always serializes calls with its own mutex, so
//! application-supplied mutex callbacks are accepted and not used. Functions the token does not
//! implement return `CKR_FUNCTION_NOT_SUPPORTED` (`C_SeedRandom`: `CKR_RANDOM_SEED_NOT_SUPPORTED`;
//! the legacy `C_GetFunctionStatus`/`C_CancelFunction`: `CKR_FUNCTION_NOT_PARALLEL`, as
//! PKCS#11 prescribes).
#![allow(non_snake_case)]

use crate::error::{Error, Result};
use crate::token::{self, AttributeValue};
use cryptoki_sys::*;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs one entry point: `Ok` → `CKR_OK`, errors → their `CK_RV`, panics → `CKR_GENERAL_ERROR`.
fn guard(f: impl FnOnce() -> Result<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => {
            if e.is_internal() {
                eprintln!("tokenconfirm-gost-token: {e}");
            }
            e.rv()
        }
        Err(_) => {
            eprintln!("tokenconfirm-gost-token: internal error (panic caught)");
            CKR_GENERAL_ERROR
        }
    }
}

fn to_usize(n: CK_ULONG) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::ArgumentsBad)
}

fn to_ulong(n: usize) -> Result<CK_ULONG> {
    CK_ULONG::try_from(n).map_err(|_| Error::General)
}

/// `len` bytes at `p` (`NULL` allowed only with `len` 0).
///
/// # Safety
/// `p` must be null or valid for reads of `len` elements for the returned lifetime, and not
/// written through while the slice lives.
unsafe fn slice<'a, T>(p: *const T, len: CK_ULONG) -> Result<&'a [T]> {
    let len = to_usize(len)?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// `len` writable elements at `p` (`NULL` allowed only with `len` 0).
///
/// # Safety
/// `p` must be null or valid for reads and writes of `len` elements for the returned lifetime,
/// with no other reference to that memory.
unsafe fn slice_mut<'a, T>(p: *mut T, len: CK_ULONG) -> Result<&'a mut [T]> {
    let len = to_usize(len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    Ok(std::slice::from_raw_parts_mut(p, len))
}

/// Writes `value` to `p` (`CKR_ARGUMENTS_BAD` for `NULL`).
///
/// # Safety
/// `p` must be null or valid for a write of `T`.
unsafe fn put<T>(p: *mut T, value: T) -> Result<()> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    p.write(value);
    Ok(())
}

/// Reads `*p` (`CKR_ARGUMENTS_BAD` for `NULL`).
///
/// # Safety
/// `p` must be null or valid for a read of `T`.
unsafe fn get<T: Copy>(p: *const T) -> Result<T> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    Ok(p.read())
}

/// The PKCS#11 list convention: `list` `NULL` → report the count; too small →
/// `CKR_BUFFER_TOO_SMALL` with the count; else copy.
///
/// # Safety
/// `count` must be null or valid for reads and writes; `list` null or valid for `*count`
/// writes.
unsafe fn put_list<T: Copy>(items: &[T], list: *mut T, count: *mut CK_ULONG) -> Result<()> {
    let capacity = get(count)?;
    let n = to_ulong(items.len())?;
    if list.is_null() {
        return put(count, n);
    }
    put(count, n)?;
    if capacity < n {
        return Err(Error::BufferTooSmall(items.len()));
    }
    slice_mut(list, n)?.copy_from_slice(items);
    Ok(())
}

/// A signature into (`out`, `out_len`) with the size-query convention.
///
/// # Safety
/// `out_len` must be null or valid for reads and writes; `out` null or valid for `*out_len`
/// writes, not overlapping any slice passed to `f`.
unsafe fn put_signature(
    out: *mut CK_BYTE,
    out_len: *mut CK_ULONG,
    f: impl FnOnce(Option<&mut [u8]>) -> Result<usize>,
) -> Result<()> {
    let capacity = get(out_len)?;
    let buffer = if out.is_null() {
        None
    } else {
        Some(slice_mut(out, capacity)?)
    };
    match f(buffer) {
        Ok(n) => put(out_len, to_ulong(n)?),
        Err(Error::BufferTooSmall(n)) => {
            put(out_len, to_ulong(n)?)?;
            Err(Error::BufferTooSmall(n))
        }
        Err(e) => Err(e),
    }
}

#[no_mangle]
unsafe extern "C" fn C_Initialize(init_args: *mut c_void) -> CK_RV {
    guard(|| {
        if !init_args.is_null() {
            let args = get(init_args as *const CK_C_INITIALIZE_ARGS)?;
            if !args.pReserved.is_null() {
                return Err(Error::ArgumentsBad);
            }
            let callbacks = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            if callbacks.iter().any(|c| *c) && !callbacks.iter().all(|c| *c) {
                return Err(Error::ArgumentsBad);
            }
        }
        token::initialize()
    })
}

#[no_mangle]
unsafe extern "C" fn C_Finalize(reserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        token::finalize()
    })
}

#[no_mangle]
unsafe extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    guard(|| token::with(|_| put(info, token::info())))
}

/// Returns the module's static PKCS#11 v2.40 function list.
///
/// # Safety
/// `list` must be null (→ `CKR_ARGUMENTS_BAD`) or valid for a pointer write. The function list
/// is read-only; callers must not write through the returned pointer.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        put(
            list,
            std::ptr::addr_of!(FUNCTION_LIST) as *mut CK_FUNCTION_LIST,
        )
    })
}

#[no_mangle]
unsafe extern "C" fn C_GetSlotList(
    _token_present: CK_BBOOL,
    list: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| token::with(|lib| put_list(&lib.slot_list(), list, count)))
}

#[no_mangle]
unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| token::with(|lib| put(info, lib.slot_info(slot)?)))
}

#[no_mangle]
unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| token::with(|lib| put(info, lib.token_info(slot)?)))
}

#[no_mangle]
unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| token::with(|lib| put_list(&lib.mechanism_list(slot)?, list, count)))
}

#[no_mangle]
unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    mechanism: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| token::with(|lib| put(info, lib.mechanism_info(slot, mechanism)?)))
}

#[no_mangle]
unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _application: *mut c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if session.is_null() {
            return Err(Error::ArgumentsBad);
        }
        token::with(|lib| put(session, lib.open_session(slot, flags)?))
    })
}

#[no_mangle]
unsafe extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| token::with(|lib| lib.close_session(session)))
}

#[no_mangle]
unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard(|| token::with(|lib| lib.close_all_sessions(slot)))
}

#[no_mangle]
unsafe extern "C" fn C_GetSessionInfo(
    session: CK_SESSION_HANDLE,
    info: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard(|| token::with(|lib| put(info, lib.session_info(session)?)))
}

#[no_mangle]
unsafe extern "C" fn C_Login(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        // A NULL PIN asks for the protected authentication path (the "reader's keypad").
        let pin = if pin.is_null() {
            None
        } else {
            Some(slice(pin as *const u8, pin_len)?)
        };
        token::with(|lib| lib.login(session, user, pin))
    })
}

#[no_mangle]
unsafe extern "C" fn C_Logout(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| token::with(|lib| lib.logout(session)))
}

#[no_mangle]
unsafe extern "C" fn C_FindObjectsInit(
    session: CK_SESSION_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let template = slice(template as *const CK_ATTRIBUTE, count)?
            .iter()
            .map(|a| {
                Ok((
                    a.type_,
                    slice(a.pValue as *const u8, a.ulValueLen)?.to_vec(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        token::with(|lib| lib.find_init(session, &template))
    })
}

#[no_mangle]
unsafe extern "C" fn C_FindObjects(
    session: CK_SESSION_HANDLE,
    objects: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if count.is_null() || (objects.is_null() && max > 0) {
            return Err(Error::ArgumentsBad);
        }
        let found = token::with(|lib| lib.find(session, to_usize(max)?))?;
        slice_mut(objects, to_ulong(found.len())?)?.copy_from_slice(&found);
        put(count, to_ulong(found.len())?)
    })
}

#[no_mangle]
unsafe extern "C" fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| token::with(|lib| lib.find_final(session)))
}

#[no_mangle]
unsafe extern "C" fn C_GetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let attrs = slice_mut(template, count)?;
        let types: Vec<CK_ATTRIBUTE_TYPE> = attrs.iter().map(|a| a.type_).collect();
        token::with(|lib| {
            let values = lib.attribute_values(session, object, &types)?;
            let mut result = Ok(());
            for (attr, value) in attrs.iter_mut().zip(values) {
                let outcome = match value {
                    AttributeValue::Value(v) => {
                        let len = to_ulong(v.len())?;
                        if attr.pValue.is_null() {
                            attr.ulValueLen = len;
                            Ok(())
                        } else if attr.ulValueLen >= len {
                            slice_mut(attr.pValue as *mut u8, len)?.copy_from_slice(v);
                            attr.ulValueLen = len;
                            Ok(())
                        } else {
                            attr.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                            Err(Error::BufferTooSmall(v.len()))
                        }
                    }
                    AttributeValue::Sensitive => {
                        attr.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        Err(Error::AttributeSensitive)
                    }
                    AttributeValue::Invalid => {
                        attr.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        Err(Error::AttributeTypeInvalid)
                    }
                };
                if let (Err(e), Ok(())) = (outcome, &result) {
                    result = Err(e);
                }
            }
            result
        })
    })
}

#[no_mangle]
unsafe extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let m = get(mechanism as *const CK_MECHANISM)?;
        let param = slice(m.pParameter as *const u8, m.ulParameterLen)?;
        token::with(|lib| lib.sign_init(session, m.mechanism, param, key))
    })
}

#[no_mangle]
unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // Copied first: the caller may pass overlapping input and output buffers.
        let data = slice(data as *const u8, data_len)?.to_vec();
        put_signature(signature, signature_len, |out| {
            token::with(|lib| lib.sign(session, &data, out))
        })
    })
}

#[no_mangle]
unsafe extern "C" fn C_SignUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let part = slice(part as *const u8, part_len)?;
        token::with(|lib| lib.sign_update(session, part))
    })
}

#[no_mangle]
unsafe extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        put_signature(signature, signature_len, |out| {
            token::with(|lib| lib.sign_final(session, out))
        })
    })
}

#[no_mangle]
unsafe extern "C" fn C_GenerateRandom(
    session: CK_SESSION_HANDLE,
    out: *mut CK_BYTE,
    len: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let out = slice_mut(out, len)?;
        token::with(|lib| lib.generate_random(session, out))
    })
}

/// Entry points the token does not implement: they return `$rv` and ignore their arguments.
macro_rules! unsupported {
    ($rv:expr => $($name:ident($($ty:ty),*);)*) => {$(
        #[no_mangle]
        unsafe extern "C" fn $name($(_: $ty),*) -> CK_RV {
            $rv
        }
    )*};
}

type H = CK_SESSION_HANDLE;
type O = CK_OBJECT_HANDLE;
type B = *mut CK_BYTE;
type L = CK_ULONG;
type PL = *mut CK_ULONG;
type M = *mut CK_MECHANISM;
type A = *mut CK_ATTRIBUTE;
type PO = *mut CK_OBJECT_HANDLE;

unsupported! { CKR_FUNCTION_NOT_SUPPORTED =>
    C_InitToken(CK_SLOT_ID, *mut CK_UTF8CHAR, L, *mut CK_UTF8CHAR);
    C_InitPIN(H, *mut CK_UTF8CHAR, L);
    C_SetPIN(H, *mut CK_UTF8CHAR, L, *mut CK_UTF8CHAR, L);
    C_GetOperationState(H, B, PL);
    C_SetOperationState(H, B, L, O, O);
    C_CreateObject(H, A, L, PO);
    C_CopyObject(H, O, A, L, PO);
    C_DestroyObject(H, O);
    C_GetObjectSize(H, O, PL);
    C_SetAttributeValue(H, O, A, L);
    C_EncryptInit(H, M, O);
    C_Encrypt(H, B, L, B, PL);
    C_EncryptUpdate(H, B, L, B, PL);
    C_EncryptFinal(H, B, PL);
    C_DecryptInit(H, M, O);
    C_Decrypt(H, B, L, B, PL);
    C_DecryptUpdate(H, B, L, B, PL);
    C_DecryptFinal(H, B, PL);
    C_DigestInit(H, M);
    C_Digest(H, B, L, B, PL);
    C_DigestUpdate(H, B, L);
    C_DigestKey(H, O);
    C_DigestFinal(H, B, PL);
    C_SignRecoverInit(H, M, O);
    C_SignRecover(H, B, L, B, PL);
    C_VerifyInit(H, M, O);
    C_Verify(H, B, L, B, L);
    C_VerifyUpdate(H, B, L);
    C_VerifyFinal(H, B, L);
    C_VerifyRecoverInit(H, M, O);
    C_VerifyRecover(H, B, L, B, PL);
    C_DigestEncryptUpdate(H, B, L, B, PL);
    C_DecryptDigestUpdate(H, B, L, B, PL);
    C_SignEncryptUpdate(H, B, L, B, PL);
    C_DecryptVerifyUpdate(H, B, L, B, PL);
    C_GenerateKey(H, M, A, L, PO);
    C_GenerateKeyPair(H, M, A, L, A, L, PO, PO);
    C_WrapKey(H, M, O, O, B, PL);
    C_UnwrapKey(H, M, O, B, L, A, L, PO);
    C_DeriveKey(H, M, O, A, L, PO);
    C_WaitForSlotEvent(CK_FLAGS, *mut CK_SLOT_ID, *mut c_void);
}

unsupported! { CKR_RANDOM_SEED_NOT_SUPPORTED =>
    C_SeedRandom(H, B, L);
}

unsupported! { CKR_FUNCTION_NOT_PARALLEL =>
    C_GetFunctionStatus(H);
    C_CancelFunction(H);
}

/// The function list `C_GetFunctionList` hands out.
static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
    version: CK_VERSION {
        major: 2,
        minor: 40,
    },
    C_Initialize: Some(C_Initialize),
    C_Finalize: Some(C_Finalize),
    C_GetInfo: Some(C_GetInfo),
    C_GetFunctionList: Some(C_GetFunctionList),
    C_GetSlotList: Some(C_GetSlotList),
    C_GetSlotInfo: Some(C_GetSlotInfo),
    C_GetTokenInfo: Some(C_GetTokenInfo),
    C_GetMechanismList: Some(C_GetMechanismList),
    C_GetMechanismInfo: Some(C_GetMechanismInfo),
    C_InitToken: Some(C_InitToken),
    C_InitPIN: Some(C_InitPIN),
    C_SetPIN: Some(C_SetPIN),
    C_OpenSession: Some(C_OpenSession),
    C_CloseSession: Some(C_CloseSession),
    C_CloseAllSessions: Some(C_CloseAllSessions),
    C_GetSessionInfo: Some(C_GetSessionInfo),
    C_GetOperationState: Some(C_GetOperationState),
    C_SetOperationState: Some(C_SetOperationState),
    C_Login: Some(C_Login),
    C_Logout: Some(C_Logout),
    C_CreateObject: Some(C_CreateObject),
    C_CopyObject: Some(C_CopyObject),
    C_DestroyObject: Some(C_DestroyObject),
    C_GetObjectSize: Some(C_GetObjectSize),
    C_GetAttributeValue: Some(C_GetAttributeValue),
    C_SetAttributeValue: Some(C_SetAttributeValue),
    C_FindObjectsInit: Some(C_FindObjectsInit),
    C_FindObjects: Some(C_FindObjects),
    C_FindObjectsFinal: Some(C_FindObjectsFinal),
    C_EncryptInit: Some(C_EncryptInit),
    C_Encrypt: Some(C_Encrypt),
    C_EncryptUpdate: Some(C_EncryptUpdate),
    C_EncryptFinal: Some(C_EncryptFinal),
    C_DecryptInit: Some(C_DecryptInit),
    C_Decrypt: Some(C_Decrypt),
    C_DecryptUpdate: Some(C_DecryptUpdate),
    C_DecryptFinal: Some(C_DecryptFinal),
    C_DigestInit: Some(C_DigestInit),
    C_Digest: Some(C_Digest),
    C_DigestUpdate: Some(C_DigestUpdate),
    C_DigestKey: Some(C_DigestKey),
    C_DigestFinal: Some(C_DigestFinal),
    C_SignInit: Some(C_SignInit),
    C_Sign: Some(C_Sign),
    C_SignUpdate: Some(C_SignUpdate),
    C_SignFinal: Some(C_SignFinal),
    C_SignRecoverInit: Some(C_SignRecoverInit),
    C_SignRecover: Some(C_SignRecover),
    C_VerifyInit: Some(C_VerifyInit),
    C_Verify: Some(C_Verify),
    C_VerifyUpdate: Some(C_VerifyUpdate),
    C_VerifyFinal: Some(C_VerifyFinal),
    C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
    C_VerifyRecover: Some(C_VerifyRecover),
    C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
    C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
    C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
    C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
    C_GenerateKey: Some(C_GenerateKey),
    C_GenerateKeyPair: Some(C_GenerateKeyPair),
    C_WrapKey: Some(C_WrapKey),
    C_UnwrapKey: Some(C_UnwrapKey),
    C_DeriveKey: Some(C_DeriveKey),
    C_SeedRandom: Some(C_SeedRandom),
    C_GenerateRandom: Some(C_GenerateRandom),
    C_GetFunctionStatus: Some(C_GetFunctionStatus),
    C_CancelFunction: Some(C_CancelFunction),
    C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
};

#[cfg(test)]
mod tests;
