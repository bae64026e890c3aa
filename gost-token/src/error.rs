//! The crate's error type and its PKCS#11 return values.

use crate::config::ConfigError;
use crate::pin_state::StateError;
use crate::sign::SignError;
use cryptoki_sys::*;

/// Why a PKCS#11 call fails. [`Error::rv`] gives the `CK_RV`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `CKR_CRYPTOKI_NOT_INITIALIZED`.
    #[error("C_Initialize has not been called")]
    NotInitialized,
    /// `CKR_CRYPTOKI_ALREADY_INITIALIZED`.
    #[error("C_Initialize was already called")]
    AlreadyInitialized,
    /// `CKR_ARGUMENTS_BAD`: a null pointer or inconsistent arguments.
    #[error("bad arguments")]
    ArgumentsBad,
    /// `CKR_GENERAL_ERROR`: the configuration is missing or invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// `CKR_SLOT_ID_INVALID`.
    #[error("no such slot")]
    SlotIdInvalid,
    /// `CKR_SESSION_HANDLE_INVALID`.
    #[error("no such session")]
    SessionHandleInvalid,
    /// `CKR_SESSION_PARALLEL_NOT_SUPPORTED`: `CKF_SERIAL_SESSION` missing.
    #[error("only serial sessions are supported")]
    SessionParallelNotSupported,
    /// `CKR_OBJECT_HANDLE_INVALID` (also for private objects while logged out).
    #[error("no such object")]
    ObjectHandleInvalid,
    /// `CKR_KEY_HANDLE_INVALID`: not a key.
    #[error("no such key")]
    KeyHandleInvalid,
    /// `CKR_KEY_FUNCTION_NOT_PERMITTED`: the key cannot sign (a public key).
    #[error("the key cannot sign")]
    KeyFunctionNotPermitted,
    /// `CKR_KEY_TYPE_INCONSISTENT`: mechanism and key size disagree.
    #[error("the mechanism does not suit the key")]
    KeyTypeInconsistent,
    /// `CKR_MECHANISM_INVALID`.
    #[error("mechanism not supported")]
    MechanismInvalid,
    /// `CKR_MECHANISM_PARAM_INVALID`.
    #[error("mechanism parameter not supported")]
    MechanismParamInvalid,
    /// `CKR_OPERATION_ACTIVE`.
    #[error("an operation is already active")]
    OperationActive,
    /// `CKR_OPERATION_NOT_INITIALIZED`.
    #[error("no operation is active")]
    OperationNotInitialized,
    /// `CKR_DATA_LEN_RANGE`: a raw mechanism's input is not exactly one digest.
    #[error("input length out of range")]
    DataLenRange,
    /// `CKR_BUFFER_TOO_SMALL`; carries the length needed.
    #[error("output buffer too small ({0} bytes needed)")]
    BufferTooSmall(usize),
    /// `CKR_PIN_INCORRECT`.
    #[error("PIN incorrect")]
    PinIncorrect,
    /// `CKR_PIN_LOCKED`.
    #[error("PIN locked")]
    PinLocked,
    /// `CKR_PIN_LEN_RANGE`.
    #[error("PIN length out of range")]
    PinLenRange,
    /// `CKR_USER_ALREADY_LOGGED_IN`.
    #[error("user already logged in")]
    UserAlreadyLoggedIn,
    /// `CKR_USER_NOT_LOGGED_IN`.
    #[error("user not logged in")]
    UserNotLoggedIn,
    /// `CKR_USER_TYPE_INVALID` (there is no SO PIN).
    #[error("user type not supported")]
    UserTypeInvalid,
    /// `CKR_ATTRIBUTE_SENSITIVE`.
    #[error("attribute is sensitive")]
    AttributeSensitive,
    /// `CKR_ATTRIBUTE_TYPE_INVALID`.
    #[error("attribute not present on this object")]
    AttributeTypeInvalid,
    /// `CKR_FUNCTION_NOT_SUPPORTED`.
    #[error("function not supported")]
    FunctionNotSupported,
    /// `CKR_DEVICE_ERROR`: the PIN retry counter file cannot be read or written.
    #[error("PIN retry counter: {0}")]
    PinState(#[from] StateError),
    /// `CKR_DEVICE_ERROR` (RNG failure) or `CKR_GENERAL_ERROR`.
    #[error("signing: {0}")]
    Sign(#[from] SignError),
    /// `CKR_GENERAL_ERROR`: a caught panic or another internal failure.
    #[error("internal error")]
    General,
}

impl Error {
    /// The PKCS#11 return value.
    pub fn rv(&self) -> CK_RV {
        match self {
            Error::NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
            Error::AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
            Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
            Error::Config(_) => CKR_GENERAL_ERROR,
            Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
            Error::SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
            Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            Error::ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
            Error::KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
            Error::KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
            Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
            Error::MechanismInvalid => CKR_MECHANISM_INVALID,
            Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
            Error::OperationActive => CKR_OPERATION_ACTIVE,
            Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
            Error::DataLenRange => CKR_DATA_LEN_RANGE,
            Error::BufferTooSmall(_) => CKR_BUFFER_TOO_SMALL,
            Error::PinIncorrect => CKR_PIN_INCORRECT,
            Error::PinLocked => CKR_PIN_LOCKED,
            Error::PinLenRange => CKR_PIN_LEN_RANGE,
            Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
            Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
            Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
            Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
            Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
            Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
            Error::PinState(_) => CKR_DEVICE_ERROR,
            Error::Sign(SignError::Random) => CKR_DEVICE_ERROR,
            Error::Sign(_) => CKR_GENERAL_ERROR,
            Error::General => CKR_GENERAL_ERROR,
        }
    }

    /// Whether the failure is worth a line on stderr (the module's own faults, not the
    /// caller's mistakes).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Config(_) | Error::PinState(_) | Error::Sign(_) | Error::General
        )
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
