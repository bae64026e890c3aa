//! PC/SC readers: what is connected, whether a card is in it (with its ATR and, when known,
//! the product and the module it needs), and waiting for a change (reader plugged or
//! unplugged, card inserted or removed). No pcscd or no reader is a state with a message,
//! never a crash.

use crate::known_tokens::{self, KnownToken};
use serde::Serialize;
use std::ffi::CString;
use std::time::Duration;

/// One reader.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Reader {
    /// The reader's name as PC/SC reports it.
    pub name: String,
    /// `empty`, `present`, `mute` (a card that does not answer) or `unavailable`.
    pub card: &'static str,
    /// The card's ATR, upper-case hex with spaces.
    pub atr: Option<String>,
    /// The product, when the ATR is known.
    pub product: Option<String>,
    /// PKCS#11 modules that serve the product.
    pub modules: Vec<String>,
}

/// What PC/SC sees.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// `ok`, `no-readers` or `no-service` (pcscd not running or not installed).
    pub state: &'static str,
    /// Readers (empty unless `ok`).
    pub readers: Vec<Reader>,
    /// What to do, in English (absent when `ok`).
    pub message_en: Option<&'static str>,
    /// What to do, in Russian.
    pub message_ru: Option<&'static str>,
}

const NO_SERVICE_EN: &str = "The smart-card service (pcscd) is not running. Install and start it (Debian: apt install pcscd).";
const NO_SERVICE_RU: &str =
    "Служба смарт-карт (pcscd) не запущена. Установите и запустите её (Debian: apt install pcscd).";
const NO_READERS_EN: &str = "No token or card reader is connected. Insert your token.";
const NO_READERS_RU: &str = "Токен или считыватель не подключён. Вставьте токен.";

fn snapshot_of(state: &'static str, readers: Vec<Reader>) -> Snapshot {
    let (en, ru) = match state {
        "no-service" => (Some(NO_SERVICE_EN), Some(NO_SERVICE_RU)),
        "no-readers" => (Some(NO_READERS_EN), Some(NO_READERS_RU)),
        _ => (None, None),
    };
    Snapshot {
        state,
        readers,
        message_en: en,
        message_ru: ru,
    }
}

fn hex(atr: &[u8]) -> String {
    atr.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(state: &pcsc::ReaderState) -> Reader {
    let flags = state.event_state();
    let card = if flags.contains(pcsc::State::UNAVAILABLE) {
        "unavailable"
    } else if flags.contains(pcsc::State::MUTE) {
        "mute"
    } else if flags.contains(pcsc::State::PRESENT) {
        "present"
    } else {
        "empty"
    };
    let atr = (card == "present" && !state.atr().is_empty()).then(|| state.atr().to_vec());
    let known: Option<&KnownToken> = atr.as_deref().and_then(known_tokens::identify);
    Reader {
        name: state.name().to_string_lossy().into_owned(),
        card,
        atr: atr.as_deref().map(hex),
        product: known.map(|k| k.product.clone()),
        modules: known.map(|k| k.modules.clone()).unwrap_or_default(),
    }
}

fn connect() -> Result<pcsc::Context, Snapshot> {
    pcsc::Context::establish(pcsc::Scope::User).map_err(|_| snapshot_of("no-service", Vec::new()))
}

fn names(ctx: &pcsc::Context) -> Result<Vec<CString>, Snapshot> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(pcsc::Error::NoService | pcsc::Error::ServiceStopped) => {
            Err(snapshot_of("no-service", Vec::new()))
        }
        Err(e) => {
            tracing::warn!(error = %e, "PC/SC could not list the readers");
            Ok(Vec::new())
        }
    }
}

fn read_states(ctx: &pcsc::Context, names: &[CString]) -> Vec<pcsc::ReaderState> {
    let mut states: Vec<pcsc::ReaderState> = names
        .iter()
        .map(|n| pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE))
        .collect();
    if !states.is_empty() {
        // A reader that vanished meanwhile leaves its state as UNAWARE: report what we have.
        if let Err(e) = ctx.get_status_change(Duration::ZERO, &mut states) {
            tracing::debug!(error = %e, "reading reader states");
        }
    }
    states
}

/// The readers now.
pub fn list() -> Snapshot {
    let ctx = match connect() {
        Ok(ctx) => ctx,
        Err(s) => return s,
    };
    let names = match names(&ctx) {
        Ok(n) => n,
        Err(s) => return s,
    };
    if names.is_empty() {
        return snapshot_of("no-readers", Vec::new());
    }
    let readers = read_states(&ctx, &names).iter().map(describe).collect();
    snapshot_of("ok", readers)
}

/// Waits up to `timeout` for a reader to be plugged or unplugged or a card to be inserted or
/// removed, then returns the readers as they are; returns at once when pcscd is missing.
pub fn wait(timeout: Duration) -> Snapshot {
    let ctx = match connect() {
        Ok(ctx) => ctx,
        Err(s) => return s,
    };
    let names = match names(&ctx) {
        Ok(n) => n,
        Err(s) => return s,
    };
    let mut states = read_states(&ctx, &names);
    for s in states.iter_mut() {
        s.sync_current_state();
    }
    // The PnP pseudo-reader reports readers coming and going.
    let mut pnp = pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE);
    let _ = ctx.get_status_change(Duration::ZERO, std::slice::from_mut(&mut pnp));
    pnp.sync_current_state();
    states.push(pnp);
    let _ = ctx.get_status_change(timeout, &mut states);
    list()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_service_is_a_state_with_a_message() {
        let s = snapshot_of("no-service", Vec::new());
        assert_eq!(s.message_en, Some(NO_SERVICE_EN));
        assert!(s.message_ru.is_some_and(|m| m.contains("pcscd")));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["state"], "no-service");
        assert_eq!(hex(&[0x3b, 0x8b]), "3B 8B");
    }
}
