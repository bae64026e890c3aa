//! PC/SC readers: what is connected, whether a card is in it (with its ATR and, when known,
//! the product and the module it needs), whether the reader has a PIN pad, and waiting for a
//! change ([`watch`]: reader plugged or unplugged, card inserted or removed). No pcscd or no
//! reader is a state with a message, never a crash.
//!
//! Every snapshot taken through [`list`] is also *observed*: when its [`fingerprint`] differs
//! from the previous one, the change [`generation`] goes up. PKCS#11 modules initialized
//! before a change are re-initialized before their next scan (see `token::module`), so a card
//! inserted or a reader plugged in after the agent started is found without restarting it.

pub mod features;
pub mod watch;

use crate::known_tokens::{self, KnownToken};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokenconfirm_wire::native::{CardState, ReaderInfo, ReadersSnapshot, ReadersState};

const NO_SERVICE_EN: &str = "The smart-card service (pcscd) is not running. Install and start it (Debian: apt install pcscd).";
const NO_SERVICE_RU: &str =
    "Служба смарт-карт (pcscd) не запущена. Установите и запустите её (Debian: apt install pcscd).";
const NO_READERS_EN: &str = "No token or card reader is connected. Insert your token.";
const NO_READERS_RU: &str = "Токен или считыватель не подключён. Вставьте токен.";

/// Wire spelling of a card state, for text output.
pub fn card_name(card: CardState) -> &'static str {
    match card {
        CardState::Empty => "empty",
        CardState::Present => "present",
        CardState::Mute => "mute",
        CardState::Unavailable => "unavailable",
    }
}

/// The fingerprint of a state and its readers: the first 8 bytes of a SHA-256 over the state,
/// each reader's name, card state and ATR, in lower-case hex. PIN-pad flags, products and
/// modules follow from those and are left out.
pub fn fingerprint(state: ReadersState, readers: &[ReaderInfo]) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{state:?}\n"));
    for r in readers {
        hash.update(r.name.as_bytes());
        hash.update([0]);
        hash.update(card_name(r.card));
        hash.update([0]);
        hash.update(r.atr.as_deref().unwrap_or_default());
        hash.update([b'\n']);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A snapshot of `state` with these readers, its messages and its fingerprint.
pub fn snapshot_of(state: ReadersState, readers: Vec<ReaderInfo>) -> ReadersSnapshot {
    let (en, ru) = match state {
        ReadersState::NoService => (Some(NO_SERVICE_EN), Some(NO_SERVICE_RU)),
        ReadersState::NoReaders => (Some(NO_READERS_EN), Some(NO_READERS_RU)),
        ReadersState::Ok => (None, None),
    };
    ReadersSnapshot {
        fingerprint: fingerprint(state, &readers),
        state,
        readers,
        message_en: en.map(str::to_owned),
        message_ru: ru.map(str::to_owned),
    }
}

fn hex(atr: &[u8]) -> String {
    atr.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Describes one reader from its PC/SC state; `pin_pad` comes from [`features`].
fn describe(state: &pcsc::ReaderState, pin_pad: bool) -> ReaderInfo {
    let flags = state.event_state();
    let card = if flags.contains(pcsc::State::UNAVAILABLE) {
        CardState::Unavailable
    } else if flags.contains(pcsc::State::MUTE) {
        CardState::Mute
    } else if flags.contains(pcsc::State::PRESENT) {
        CardState::Present
    } else {
        CardState::Empty
    };
    let atr = (card == CardState::Present && !state.atr().is_empty()).then(|| state.atr().to_vec());
    let known: Option<&KnownToken> = atr.as_deref().and_then(known_tokens::identify);
    ReaderInfo {
        name: state.name().to_string_lossy().into_owned(),
        card,
        atr: atr.as_deref().map(hex),
        product: known.map(|k| k.product.clone()),
        modules: known.map(|k| k.modules.clone()).unwrap_or_default(),
        pin_pad,
    }
}

/// Whether the reader has a PIN pad. Remembered per reader name for the life of the process
/// (a reader's features do not change), except after failures that may pass.
fn pin_pad(ctx: &pcsc::Context, name: &CString) -> bool {
    static KNOWN: OnceLock<Mutex<HashMap<CString, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Mutex::default);
    let lock = || known.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&cached) = lock().get(name) {
        return cached;
    }
    let answer = match features::query(ctx, name) {
        Ok(answer) => features::answer_has_pin_pad(&answer),
        Err(e) if features::transient(e) => {
            tracing::debug!(reader = ?name, error = %e, "reader features not available now");
            return false;
        }
        Err(e) => {
            tracing::debug!(reader = ?name, error = %e, "reader announces no features");
            false
        }
    };
    lock().insert(name.clone(), answer);
    answer
}

fn connect() -> Option<pcsc::Context> {
    pcsc::Context::establish(pcsc::Scope::User).ok()
}

/// Reader names, or `None` when the service is gone.
fn names(ctx: &pcsc::Context) -> Option<Vec<CString>> {
    match ctx.list_readers_owned() {
        Ok(names) => Some(names),
        Err(pcsc::Error::NoReadersAvailable) => Some(Vec::new()),
        Err(pcsc::Error::NoService | pcsc::Error::ServiceStopped) => None,
        Err(e) => {
            tracing::warn!(error = %e, "PC/SC could not list the readers");
            Some(Vec::new())
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

/// The readers on an established context; `with_pin_pads` also asks each reader for its
/// features (a direct connection per reader not asked before).
fn snapshot_on(ctx: &pcsc::Context, with_pin_pads: bool) -> ReadersSnapshot {
    let Some(names) = names(ctx) else {
        return snapshot_of(ReadersState::NoService, Vec::new());
    };
    if names.is_empty() {
        return snapshot_of(ReadersState::NoReaders, Vec::new());
    }
    let readers = read_states(ctx, &names)
        .iter()
        .zip(&names)
        .map(|(state, name)| describe(state, with_pin_pads && pin_pad(ctx, name)))
        .collect();
    snapshot_of(ReadersState::Ok, readers)
}

/// The readers now (observed: see [`generation`]).
pub fn list() -> ReadersSnapshot {
    let snapshot = match connect() {
        Some(ctx) => snapshot_on(&ctx, true),
        None => snapshot_of(ReadersState::NoService, Vec::new()),
    };
    observe(&snapshot.fingerprint);
    snapshot
}

/// The readers now, without PIN-pad detection and without observing (for fingerprints only).
pub(crate) fn quick_fingerprint(ctx: &pcsc::Context) -> (ReadersState, String) {
    let s = snapshot_on(ctx, false);
    (s.state, s.fingerprint)
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// How many reader/card changes the agent has observed since it started.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// Records a snapshot's fingerprint; a different one than last time is a change. The first
/// observation is not a change (nothing was known before).
pub fn observe(fingerprint: &str) {
    static LAST: Mutex<Option<String>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if last.as_deref().is_some_and(|l| l != fingerprint) {
        GENERATION.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(generation = generation(), "readers changed");
    }
    *last = Some(fingerprint.to_owned());
}

/// Waits up to `timeout` for a reader to be plugged or unplugged or a card to be inserted or
/// removed, then returns the readers as they are; returns at once when pcscd is missing.
pub fn wait(timeout: Duration) -> ReadersSnapshot {
    let params = tokenconfirm_wire::native::WaitParams {
        timeout_ms: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        since: None,
    };
    match watch::wait_for_token(&watch::Pcsc, &params, &crate::cancel::Cancel::new()) {
        Ok(result) => result.readers,
        // Not cancellable here; should it happen, the readers now are the answer.
        Err(_) => list(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str, card: CardState, atr: Option<&str>) -> ReaderInfo {
        ReaderInfo {
            name: name.into(),
            card,
            atr: atr.map(str::to_owned),
            product: None,
            modules: vec![],
            pin_pad: false,
        }
    }

    #[test]
    fn missing_service_is_a_state_with_a_message() {
        let s = snapshot_of(ReadersState::NoService, Vec::new());
        assert_eq!(s.message_en.as_deref(), Some(NO_SERVICE_EN));
        assert!(s.message_ru.as_deref().is_some_and(|m| m.contains("pcscd")));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["state"], "no-service");
        assert_eq!(json["fingerprint"].as_str().map(str::len), Some(16));
        assert_eq!(hex(&[0x3b, 0x8b]), "3B 8B");
    }

    #[test]
    fn fingerprints_change_with_readers_and_cards_only() {
        let empty = vec![reader("R 00", CardState::Empty, None)];
        let card = vec![reader("R 00", CardState::Present, Some("3B 00"))];
        let other = vec![reader("R 00", CardState::Present, Some("3B 01"))];
        let fp = |r: &[ReaderInfo]| fingerprint(ReadersState::Ok, r);
        assert_ne!(fp(&empty), fp(&card));
        assert_ne!(fp(&card), fp(&other));
        assert_ne!(
            fingerprint(ReadersState::NoReaders, &[]),
            fingerprint(ReadersState::NoService, &[])
        );
        let mut same = card.clone();
        same[0].pin_pad = true;
        same[0].product = Some("x".into());
        assert_eq!(fp(&card), fp(&same));
    }

    #[test]
    fn observing_a_different_fingerprint_is_a_change() {
        // The counter is global; only its increments are checked.
        observe("test-a");
        let before = generation();
        observe("test-a");
        assert_eq!(generation(), before);
        observe("test-b");
        assert!(generation() > before);
    }
}
