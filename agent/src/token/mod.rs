//! Everything that talks PKCS#11: modules, the certificate inventory, login and signing.

pub mod inventory;
pub mod login;
pub mod mechanism;
pub mod module;
pub mod raw;

use crate::error::AgentError;
use cryptoki::error::{Error as CkError, RvError};
use tokenconfirm_wire::error::ErrorCode;

/// Maps a cryptoki error from an operation on a token to the agent's codes.
pub fn token_error(context: &str, e: CkError) -> AgentError {
    let code = match &e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed => ErrorCode::DeviceRemoved,
            RvError::PinIncorrect => ErrorCode::PinIncorrect,
            RvError::PinLocked => ErrorCode::PinLocked,
            RvError::PinLenRange => ErrorCode::PinLengthInvalid,
            RvError::FunctionCanceled => ErrorCode::Cancelled,
            RvError::MechanismInvalid | RvError::MechanismParamInvalid => {
                ErrorCode::UnsupportedMechanism
            }
            _ => ErrorCode::SigningFailed,
        },
        _ => ErrorCode::SigningFailed,
    };
    AgentError::new(code, format!("{context}: {e}"))
}
