//! The few PKCS#11 calls the `cryptoki` crate cannot express, made directly on the module's
//! function list. `cryptoki` 0.12 has no value for CKM_GOSTR3410 (0x1201), cannot name a
//! standard mechanism it does not know, and drops every unknown or vendor-defined mechanism
//! from C_GetMechanismList — so GOST signing, whose mechanisms are CKM_GOSTR3410 and the TC26
//! vendor range, goes through here.
//!
//! The module is opened a second time by the same path: the dynamic loader returns the library
//! `cryptoki` already loaded and initialized, so session and object handles obtained through
//! `cryptoki` are valid here. This is the only module of the agent with `unsafe` code.
#![allow(unsafe_code)]

use cryptoki::error::{Error as CkError, Rv};
use cryptoki_sys::{
    CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_OK, CK_ATTRIBUTE, CK_ATTRIBUTE_TYPE,
    CK_FUNCTION_LIST, CK_MECHANISM, CK_MECHANISM_TYPE, CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE,
    CK_SLOT_ID, CK_ULONG, CK_UNAVAILABLE_INFORMATION,
};
use libloading::Library;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A module's function list, kept valid by holding the library open.
struct FunctionList {
    /// Keeps the library mapped as long as the pointer is used.
    _library: Library,
    /// The module's CK_FUNCTION_LIST (static data inside the library).
    list: *const CK_FUNCTION_LIST,
}

// SAFETY: CK_FUNCTION_LIST is immutable static data of the module; the modules are initialized
// with CKF_OS_LOCKING_OK, so their functions may be called from any thread.
unsafe impl Send for FunctionList {}
// SAFETY: as above — the pointer is only read.
unsafe impl Sync for FunctionList {}

/// Why a raw call failed: the library could not be opened, or the module returned `rv`.
#[derive(Debug)]
pub enum RawError {
    /// dlopen or C_GetFunctionList failed.
    Load(String),
    /// The module returned an error code.
    Module(CkError),
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawError::Load(e) => write!(f, "cannot open the module's function list: {e}"),
            RawError::Module(e) => e.fmt(f),
        }
    }
}

fn check(rv: CK_RV, function: cryptoki::context::Function) -> Result<(), RawError> {
    Rv::from(rv).into_result(function).map_err(RawError::Module)
}

fn function_list(path: &Path) -> Result<Arc<FunctionList>, RawError> {
    static LISTS: OnceLock<Mutex<HashMap<PathBuf, Arc<FunctionList>>>> = OnceLock::new();
    let mut lists = LISTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(list) = lists.get(path) {
        return Ok(list.clone());
    }
    // SAFETY: loading a PKCS#11 module runs its initializers; `cryptoki` has already loaded
    // this very file, so nothing new runs.
    let library = unsafe { Library::new(path) }.map_err(|e| RawError::Load(e.to_string()))?;
    // SAFETY: C_GetFunctionList has this signature in every PKCS#11 module.
    let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { library.get(b"C_GetFunctionList\0") }
            .map_err(|e| RawError::Load(e.to_string()))?;
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: `list` is a valid out-pointer.
    let rv = unsafe { get(&mut list) };
    if rv != CKR_OK || list.is_null() {
        return Err(RawError::Load(format!(
            "C_GetFunctionList returned {rv:#x}"
        )));
    }
    let entry = Arc::new(FunctionList {
        _library: library,
        list,
    });
    lists.insert(path.to_path_buf(), entry.clone());
    Ok(entry)
}

macro_rules! function {
    ($list:expr, $name:ident) => {{
        // SAFETY: the pointer came from C_GetFunctionList and the library stays loaded.
        let table = unsafe { &*$list.list };
        table.$name.ok_or_else(|| {
            RawError::Load(concat!(stringify!($name), " is missing from the function list").into())
        })?
    }};
}

/// Every mechanism `slot` offers, as raw CKM_ values (vendor-defined ones included).
pub fn mechanism_list(module: &Path, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>, RawError> {
    let list = function_list(module)?;
    let get = function!(list, C_GetMechanismList);
    let mut count: CK_ULONG = 0;
    // SAFETY: a NULL list with a valid count pointer asks for the count.
    check(
        unsafe { get(slot, std::ptr::null_mut(), &mut count) },
        cryptoki::context::Function::GetMechanismList,
    )?;
    let mut mechanisms = vec![0 as CK_MECHANISM_TYPE; count as usize];
    // SAFETY: the buffer holds `count` entries.
    check(
        unsafe { get(slot, mechanisms.as_mut_ptr(), &mut count) },
        cryptoki::context::Function::GetMechanismList,
    )?;
    mechanisms.truncate(count as usize);
    Ok(mechanisms)
}

/// C_SignInit with a parameterless `mechanism` on `key`.
pub fn sign_init(
    module: &Path,
    session: CK_SESSION_HANDLE,
    mechanism: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
) -> Result<(), RawError> {
    let list = function_list(module)?;
    let init = function!(list, C_SignInit);
    let mut mechanism = CK_MECHANISM {
        mechanism,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: `mechanism` is a valid CK_MECHANISM without parameters.
    check(
        unsafe { init(session, &mut mechanism, key) },
        cryptoki::context::Function::SignInit,
    )
}

/// Single-part C_Sign of `data` after [`sign_init`] (size query, then the signature).
pub fn sign(module: &Path, session: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>, RawError> {
    let list = function_list(module)?;
    let sign = function!(list, C_Sign);
    let data_len = CK_ULONG::try_from(data.len())
        .map_err(|_| RawError::Load("data too long for CK_ULONG".into()))?;
    let mut len: CK_ULONG = 0;
    // SAFETY: the module only reads `data_len` bytes of `data`; a NULL output asks for the size
    // and keeps the operation active (PKCS#11 §5.2).
    check(
        unsafe {
            sign(
                session,
                data.as_ptr() as *mut u8,
                data_len,
                std::ptr::null_mut(),
                &mut len,
            )
        },
        cryptoki::context::Function::Sign,
    )?;
    let mut signature = vec![0u8; len as usize];
    // SAFETY: the buffer holds `len` bytes, as the module asked.
    check(
        unsafe {
            sign(
                session,
                data.as_ptr() as *mut u8,
                data_len,
                signature.as_mut_ptr(),
                &mut len,
            )
        },
        cryptoki::context::Function::Sign,
    )?;
    signature.truncate(len as usize);
    Ok(signature)
}

/// One attribute of `object` by its raw CKA_ value: `None` when the object does not have it
/// (or keeps it secret), the bytes otherwise.
pub fn attribute(
    module: &Path,
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attribute: CK_ATTRIBUTE_TYPE,
) -> Result<Option<Vec<u8>>, RawError> {
    let list = function_list(module)?;
    let get = function!(list, C_GetAttributeValue);
    let mut template = CK_ATTRIBUTE {
        type_: attribute,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    // SAFETY: a NULL pValue asks for the length only.
    let rv = unsafe { get(session, object, &mut template, 1) };
    if rv == CKR_ATTRIBUTE_TYPE_INVALID
        || rv == CKR_ATTRIBUTE_SENSITIVE
        || template.ulValueLen == CK_UNAVAILABLE_INFORMATION
    {
        return Ok(None);
    }
    check(rv, cryptoki::context::Function::GetAttributeValue)?;
    let mut value = vec![0u8; template.ulValueLen as usize];
    template.pValue = value.as_mut_ptr().cast();
    // SAFETY: pValue points at ulValueLen writable bytes.
    check(
        unsafe { get(session, object, &mut template, 1) },
        cryptoki::context::Function::GetAttributeValue,
    )?;
    value.truncate(template.ulValueLen as usize);
    Ok(Some(value))
}
