//! Logging in to a token: PIN, PIN pad (protected authentication path) or context-specific.
//!
//! Never retries a PIN by itself: one PIN from the source, one C_Login, and a wrong PIN is
//! reported with what the token says about the retries left.

use super::inventory::describe_token;
use super::module::Module;
use crate::error::{AgentError, Result};
use crate::pin::{PinContext, PinSource};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use serde_json::json;
use tokenconfirm_wire::error::ErrorCode;

/// Logs the user in on `session` (or, with `context_specific`, re-authenticates for one
/// operation on an always-authenticate key).
pub fn login(
    module: &Module,
    slot: Slot,
    session: &Session,
    pins: &dyn PinSource,
    mut context: PinContext,
    context_specific: bool,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let token = describe_token(module, slot)?;
    if token.pin_locked {
        return Err(AgentError::new(
            ErrorCode::PinLocked,
            format!("token {:?}", token.label),
        ));
    }
    let user = if context_specific {
        UserType::ContextSpecific
    } else {
        UserType::User
    };
    let outcome = if token.pin_pad {
        // CKF_PROTECTED_AUTHENTICATION_PATH: C_Login with a NULL PIN, the reader asks. Only on
        // this flag: a module without it would take a NULL PIN as a (wrong) empty PIN and spend
        // a try. A request already cancelled does not start a prompt on the reader.
        if cancelled() {
            return Err(AgentError::new(
                ErrorCode::Cancelled,
                "cancelled before the PIN-pad prompt",
            ));
        }
        tracing::info!(token = %token.label, "logging in through the PIN pad");
        session.login(user, None)
    } else {
        context.count_low = token.pin_count_low;
        context.final_try = token.pin_final_try;
        let pin = pins.pin(&context)?;
        // The request may have been cancelled while the PIN dialog was open: do not log in.
        if cancelled() {
            return Err(AgentError::new(
                ErrorCode::Cancelled,
                "cancelled while the PIN was asked",
            ));
        }
        check_pin_length(&pin, &token)?;
        session.login(user, Some(&pin))
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) if !context_specific => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(wrong_pin(module, slot)),
        Err(e) => Err(super::token_error("C_Login", e)),
    }
}

/// Refuses a PIN outside the token's length limits before C_Login, so that a typo in length
/// does not cost one of the token's retries.
fn check_pin_length(
    pin: &secrecy::SecretString,
    token: &tokenconfirm_wire::native::TokenDescription,
) -> Result<()> {
    use secrecy::ExposeSecret;
    let len = pin.expose_secret().len() as u64;
    let (min, max) = (token.min_pin_length, token.max_pin_length);
    // Tokens report 0 (or CK_UNAVAILABLE_INFORMATION read as huge) when they have no limit.
    let too_short = min > 0 && len < min;
    let too_long = max > 0 && max < 1024 && len > max;
    if len == 0 || too_short || too_long {
        return Err(AgentError::new(
            ErrorCode::PinLengthInvalid,
            format!("PIN length {len} outside the token's {min}..{max}"),
        ));
    }
    Ok(())
}

/// A wrong PIN: re-reads the token flags so the reply says how close the PIN is to blocking.
fn wrong_pin(module: &Module, slot: Slot) -> AgentError {
    match describe_token(module, slot) {
        Ok(t) if t.pin_locked => {
            AgentError::new(ErrorCode::PinLocked, "the wrong PIN blocked the token")
        }
        Ok(t) => AgentError::new(ErrorCode::PinIncorrect, format!("token {:?}", t.label))
            .with_details(json!({
                "pinCountLow": t.pin_count_low,
                "pinFinalTry": t.pin_final_try,
            })),
        Err(_) => AgentError::new(ErrorCode::PinIncorrect, "retry information unavailable"),
    }
}
