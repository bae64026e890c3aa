//! Asking for the PIN: one trait, four sources (the extension's window, pinentry, the terminal,
//! an environment variable). PINs stay in `secrecy` types and are never logged.

use crate::error::{AgentError, Result};
use secrecy::SecretString;
use std::path::PathBuf;
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{Lang, PinText};

/// What the user must see before typing the PIN (security property 4).
#[derive(Debug, Clone)]
pub struct PinContext {
    /// The requesting origin.
    pub origin: String,
    /// The purpose (`account-confirmation`, …).
    pub purpose: String,
    /// The account reference from the challenge.
    pub account: String,
    /// Certificate holder (CN).
    pub holder: String,
    /// Certificate issuer (CN).
    pub issuer: String,
    /// Validity, e.g. `2026-01-01T00:00:00Z – 2027-01-01T00:00:00Z`.
    pub validity: String,
    /// Token label.
    pub token: String,
    /// A wrong PIN was entered before (CKF_USER_PIN_COUNT_LOW).
    pub count_low: bool,
    /// One more wrong PIN blocks it (CKF_USER_PIN_FINAL_TRY).
    pub final_try: bool,
    /// Language for the dialog.
    pub lang: Lang,
}

impl PinContext {
    /// The text shown above the PIN field.
    pub fn describe(&self) -> String {
        let (purpose, warn_low, warn_final) = match self.lang {
            Lang::Ru => (
                match self.purpose.as_str() {
                    "account-confirmation" => "подтверждение учётной записи",
                    "account-registration" => "регистрация учётной записи",
                    other => other,
                }
                .to_owned(),
                "Ранее был введён неверный PIN-код.",
                "ВНИМАНИЕ: последняя попытка — после неверного PIN-кода он будет заблокирован.",
            ),
            Lang::En => (
                self.purpose.replace('-', " "),
                "A wrong PIN was entered before.",
                "WARNING: last attempt — a wrong PIN will block it.",
            ),
        };
        let labels: [&str; 6] = match self.lang {
            Lang::Ru => [
                "Сайт",
                "Цель",
                "Учётная запись",
                "Владелец",
                "Издатель",
                "Действует",
            ],
            Lang::En => ["Site", "Purpose", "Account", "Holder", "Issuer", "Valid"],
        };
        let mut text = format!(
            "{}: {}\n{}: {}\n{}: {}\n{}: {}\n{}: {}\n{}: {}\nToken: {}",
            labels[0],
            self.origin,
            labels[1],
            purpose,
            labels[2],
            self.account,
            labels[3],
            self.holder,
            labels[4],
            self.issuer,
            labels[5],
            self.validity,
            self.token
        );
        if self.final_try {
            text.push('\n');
            text.push_str(warn_final);
        } else if self.count_low {
            text.push('\n');
            text.push_str(warn_low);
        }
        text
    }
}

/// A way to obtain the PIN for one login.
pub trait PinSource: Send + Sync {
    /// Returns the PIN, or `cancelled` / `pin-required`.
    fn pin(&self, context: &PinContext) -> Result<SecretString>;
}

/// The PIN came with the request (typed in the extension's confirmation window).
pub struct GivenPin(pub PinText);

impl PinSource for GivenPin {
    fn pin(&self, _: &PinContext) -> Result<SecretString> {
        Ok(SecretString::from(self.0.expose().to_owned()))
    }
}

/// The PIN is in an environment variable (automation, CI).
pub struct EnvPin(pub String);

impl PinSource for EnvPin {
    fn pin(&self, _: &PinContext) -> Result<SecretString> {
        std::env::var(&self.0).map(SecretString::from).map_err(|_| {
            AgentError::new(
                ErrorCode::PinRequired,
                format!("environment variable {} is not set", self.0),
            )
        })
    }
}

/// No way to ask: fail with `pin-required`.
pub struct NoPin;

impl PinSource for NoPin {
    fn pin(&self, _: &PinContext) -> Result<SecretString> {
        Err(AgentError::new(
            ErrorCode::PinRequired,
            "no PIN in the request and PIN prompts are disabled",
        ))
    }
}

/// Prompt on the controlling terminal (`/dev/tty`), with the context printed on stderr.
pub struct TerminalPin;

impl PinSource for TerminalPin {
    fn pin(&self, context: &PinContext) -> Result<SecretString> {
        eprintln!("{}", context.describe());
        let prompt = match context.lang {
            Lang::Ru => "PIN-код: ",
            Lang::En => "PIN: ",
        };
        rpassword::prompt_password(prompt)
            .map(SecretString::from)
            .map_err(|e| {
                AgentError::new(
                    ErrorCode::PinRequired,
                    format!("terminal prompt failed: {e}"),
                )
            })
    }
}

/// GnuPG's pinentry (GTK, Qt, curses…) over Assuan.
pub struct PinentryPin {
    /// The program; `None` → `pinentry` from PATH.
    pub program: Option<PathBuf>,
}

impl PinSource for PinentryPin {
    fn pin(&self, context: &PinContext) -> Result<SecretString> {
        let mut input = match &self.program {
            Some(p) => pinentry::PassphraseInput::with_binary(p),
            None => pinentry::PassphraseInput::with_default_binary(),
        }
        .ok_or_else(|| {
            AgentError::new(
                ErrorCode::PinRequired,
                "no pinentry program found (install the pinentry-gnome3, pinentry-qt or pinentry-curses package)",
            )
        })?;
        let description = context.describe();
        let (title, prompt, cancel) = match context.lang {
            Lang::Ru => ("tokenconfirm — подпись", "PIN-код:", "Отмена"),
            Lang::En => ("tokenconfirm — signature", "PIN:", "Cancel"),
        };
        input
            .with_title(title)
            .with_description(&description)
            .with_prompt(prompt)
            .with_cancel(cancel)
            .with_timeout(300);
        input.interact().map_err(|e| match e {
            pinentry::Error::Cancelled => {
                AgentError::new(ErrorCode::Cancelled, "cancelled in pinentry")
            }
            pinentry::Error::Timeout => AgentError::new(ErrorCode::Cancelled, "pinentry timed out"),
            other => AgentError::new(ErrorCode::PinRequired, format!("pinentry failed: {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn context(lang: Lang) -> PinContext {
        PinContext {
            origin: "https://portal.example".into(),
            purpose: "account-confirmation".into(),
            account: "acct-42".into(),
            holder: "Иванов Иван Иванович".into(),
            issuer: "Тестовый УЦ".into(),
            validity: "2026-01-01 – 2027-01-01".into(),
            token: "tokenconfirm-test".into(),
            count_low: true,
            final_try: false,
            lang,
        }
    }

    #[test]
    fn context_shows_origin_purpose_account_and_retries() {
        let ru = context(Lang::Ru).describe();
        assert!(
            ru.contains("https://portal.example") && ru.contains("подтверждение учётной записи")
        );
        assert!(ru.contains("acct-42") && ru.contains("неверный PIN-код"));
        let mut c = context(Lang::En);
        c.final_try = true;
        assert!(c.describe().contains("last attempt"));
    }

    #[test]
    fn sources() {
        assert_eq!(
            GivenPin(PinText::new("1234".into()))
                .pin(&context(Lang::En))
                .unwrap()
                .expose_secret(),
            "1234"
        );
        assert_eq!(
            NoPin.pin(&context(Lang::En)).unwrap_err().code,
            ErrorCode::PinRequired
        );
        let missing = EnvPin("TOKENCONFIRM_TEST_SURELY_UNSET_VAR".into()).pin(&context(Lang::En));
        assert_eq!(missing.unwrap_err().code, ErrorCode::PinRequired);
    }
}
