//! `wait-for-token`: wait until a reader or a card comes or goes, then answer with the readers
//! as they are, so the confirmation window can say "insert your token" and go on by itself.
//!
//! The decision logic ([`wait_for_token`]) is separate from PC/SC ([`ReaderSource`]) so that it
//! is tested with a scripted source. The PC/SC source ([`Pcsc`]) blocks in
//! `SCardGetStatusChange` on every reader plus the PnP pseudo-reader (reader hotplug); a
//! cancellation interrupts it with `SCardCancel`.

use crate::cancel::Cancel;
use crate::error::{AgentError, Result};
use std::time::{Duration, Instant};
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{ReadersSnapshot, ReadersState, WaitEvent, WaitParams, WaitResult};

/// After a change, how long to wait for the dust to settle before looking (a USB token brings
/// its reader and its card within milliseconds; a card's ATR comes after power-up).
pub const SETTLE: Duration = Duration::from_millis(300);

/// Longest single blocking wait in the PC/SC source: a cancellation that arrives just before
/// the blocking call starts (and so cannot interrupt it) is still seen within this time.
pub const SLICE: Duration = Duration::from_millis(500);

/// What a blocking wait saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Something changed (or may have: the caller compares fingerprints).
    Changed,
    /// The time was up.
    Timeout,
    /// The request was cancelled.
    Cancelled,
    /// The smart-card service is gone.
    Unavailable,
}

/// Where readers come from: PC/SC, or a script in tests.
pub trait ReaderSource: Send + Sync {
    /// The readers now (with products and PIN pads).
    fn snapshot(&self) -> ReadersSnapshot;
    /// Blocks until the readers no longer match `fingerprint`, `timeout` passes, or `cancel`
    /// fires. May return [`Signal::Changed`] for a change that does not alter the fingerprint.
    fn wait_change(&self, fingerprint: &str, timeout: Duration, cancel: &Cancel) -> Signal;
}

fn cancelled() -> AgentError {
    AgentError::new(ErrorCode::Cancelled, "cancelled by the extension")
}

/// Answers `wait-for-token`:
///
/// * the service is unavailable → `unavailable` at once;
/// * `since` is given and differs from the readers now → `changed` at once;
/// * otherwise waits up to `timeoutMs` for a change of the fingerprint → `changed` (after
///   [`SETTLE`], with the readers then), or `timeout`; the service going away → `unavailable`;
/// * cancellation → the `cancelled` error.
pub fn wait_for_token(
    source: &dyn ReaderSource,
    params: &WaitParams,
    cancel: &Cancel,
) -> Result<WaitResult> {
    let deadline = Instant::now() + Duration::from_millis(params.timeout_ms());
    let answer = |event, readers| Ok(WaitResult { event, readers });
    let mut current = source.snapshot();
    if current.state == ReadersState::NoService {
        return answer(WaitEvent::Unavailable, current);
    }
    if params
        .since
        .as_deref()
        .is_some_and(|since| since != current.fingerprint)
    {
        return answer(WaitEvent::Changed, current);
    }
    loop {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return answer(WaitEvent::Timeout, current);
        }
        match source.wait_change(&current.fingerprint, left, cancel) {
            Signal::Changed => {
                if cancel.sleep(SETTLE) {
                    return Err(cancelled());
                }
                let next = source.snapshot();
                if next.state == ReadersState::NoService {
                    return answer(WaitEvent::Unavailable, next);
                }
                if next.fingerprint != current.fingerprint {
                    return answer(WaitEvent::Changed, next);
                }
                // Only a flag moved (another program began using a card): keep waiting.
                current = next;
            }
            Signal::Timeout => return answer(WaitEvent::Timeout, current),
            Signal::Cancelled => return Err(cancelled()),
            Signal::Unavailable => return answer(WaitEvent::Unavailable, source.snapshot()),
        }
    }
}

/// The real readers, through pcsc-lite (or WinSCard, or macOS's CryptoTokenKit bridge).
#[derive(Debug, Clone, Copy, Default)]
pub struct Pcsc;

impl ReaderSource for Pcsc {
    fn snapshot(&self) -> ReadersSnapshot {
        super::list()
    }

    fn wait_change(&self, fingerprint: &str, timeout: Duration, cancel: &Cancel) -> Signal {
        let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
            return Signal::Unavailable;
        };
        // The baseline is read now; a change since the caller's snapshot answers at once.
        let (state, now) = super::quick_fingerprint(&ctx);
        if state == ReadersState::NoService {
            return Signal::Unavailable;
        }
        if now != fingerprint {
            return Signal::Changed;
        }
        let names = super::names(&ctx).unwrap_or_default();
        let mut states = super::read_states(&ctx, &names);
        for s in states.iter_mut() {
            s.sync_current_state();
        }
        // The PnP pseudo-reader reports readers coming and going.
        let mut pnp = pcsc::ReaderState::new(pcsc::PNP_NOTIFICATION(), pcsc::State::UNAWARE);
        let _ = ctx.get_status_change(Duration::ZERO, std::slice::from_mut(&mut pnp));
        pnp.sync_current_state();
        states.push(pnp);

        let interrupt = ctx.clone();
        cancel.on_cancel(move || {
            let _ = interrupt.cancel();
        });
        let deadline = Instant::now() + timeout;
        loop {
            if cancel.is_cancelled() {
                return Signal::Cancelled;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Signal::Timeout;
            }
            match ctx.get_status_change(left.min(SLICE), &mut states) {
                Ok(()) => return Signal::Changed,
                Err(pcsc::Error::Timeout) => continue,
                Err(pcsc::Error::Cancelled) if cancel.is_cancelled() => return Signal::Cancelled,
                Err(pcsc::Error::Cancelled) => continue,
                Err(
                    pcsc::Error::NoService
                    | pcsc::Error::ServiceStopped
                    | pcsc::Error::InvalidHandle
                    | pcsc::Error::Shutdown,
                ) => return Signal::Unavailable,
                // A reader vanished between listing and waiting, or something odd: look again.
                Err(e) => {
                    tracing::debug!(error = %e, "waiting for reader changes");
                    return Signal::Changed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::snapshot_of;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use tokenconfirm_wire::native::{CardState, ReaderInfo};

    /// A scripted source: snapshots to hand out in order (the last one repeats) and signals
    /// for the blocking waits (each may take a while, and a cancellation ends it early).
    struct Script {
        snapshots: Mutex<VecDeque<ReadersSnapshot>>,
        signals: Mutex<VecDeque<(Duration, Signal)>>,
        waits: Mutex<Vec<String>>,
    }

    impl Script {
        fn new(snapshots: Vec<ReadersSnapshot>, signals: Vec<(u64, Signal)>) -> Script {
            Script {
                snapshots: Mutex::new(snapshots.into()),
                signals: Mutex::new(
                    signals
                        .into_iter()
                        .map(|(ms, s)| (Duration::from_millis(ms), s))
                        .collect(),
                ),
                waits: Mutex::default(),
            }
        }
    }

    impl ReaderSource for Script {
        fn snapshot(&self) -> ReadersSnapshot {
            let mut all = self.snapshots.lock().unwrap();
            if all.len() > 1 {
                all.pop_front().unwrap()
            } else {
                all.front().cloned().unwrap()
            }
        }
        fn wait_change(&self, fingerprint: &str, timeout: Duration, cancel: &Cancel) -> Signal {
            self.waits.lock().unwrap().push(fingerprint.to_owned());
            let next = self.signals.lock().unwrap().pop_front();
            let (delay, signal) = next.unwrap_or((timeout, Signal::Timeout));
            if cancel.sleep(delay.min(timeout)) {
                return Signal::Cancelled;
            }
            if delay > timeout {
                Signal::Timeout
            } else {
                signal
            }
        }
    }

    fn readers(cards: &[Option<&str>]) -> ReadersSnapshot {
        let list = cards
            .iter()
            .enumerate()
            .map(|(i, atr)| ReaderInfo {
                name: format!("Reader {i}"),
                card: if atr.is_some() {
                    CardState::Present
                } else {
                    CardState::Empty
                },
                atr: atr.map(str::to_owned),
                product: None,
                modules: vec![],
                pin_pad: false,
            })
            .collect();
        snapshot_of(ReadersState::Ok, list)
    }

    fn params(timeout_ms: u64, since: Option<&str>) -> WaitParams {
        WaitParams {
            timeout_ms: Some(timeout_ms),
            since: since.map(str::to_owned),
        }
    }

    #[test]
    fn no_service_answers_unavailable_at_once() {
        let source = Script::new(vec![snapshot_of(ReadersState::NoService, vec![])], vec![]);
        let started = Instant::now();
        let r = wait_for_token(&source, &params(60_000, None), &Cancel::new()).unwrap();
        assert_eq!(r.event, WaitEvent::Unavailable);
        assert_eq!(r.readers.state, ReadersState::NoService);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(source.waits.lock().unwrap().is_empty());
    }

    #[test]
    fn a_stale_since_answers_changed_at_once() {
        let now = readers(&[Some("3B 00")]);
        let before = readers(&[None]);
        let source = Script::new(vec![now.clone()], vec![]);
        let r = wait_for_token(
            &source,
            &params(60_000, Some(&before.fingerprint)),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!((r.event, r.readers), (WaitEvent::Changed, now));
    }

    #[test]
    fn card_insertion_answers_changed_with_the_new_readers() {
        let empty = readers(&[None]);
        let inserted = readers(&[Some("3B 8B 01")]);
        let source = Script::new(
            vec![empty.clone(), inserted.clone()],
            vec![(20, Signal::Changed)],
        );
        let r = wait_for_token(
            &source,
            &params(10_000, Some(&empty.fingerprint)),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(r.event, WaitEvent::Changed);
        assert_eq!(r.readers, inserted);
        assert_eq!(*source.waits.lock().unwrap(), vec![empty.fingerprint]);
    }

    #[test]
    fn a_change_that_is_not_one_keeps_waiting_until_the_timeout() {
        let empty = readers(&[None]);
        let source = Script::new(vec![empty.clone()], vec![(5, Signal::Changed)]);
        let started = Instant::now();
        let r = wait_for_token(&source, &params(700, None), &Cancel::new()).unwrap();
        assert_eq!((r.event, r.readers), (WaitEvent::Timeout, empty));
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert_eq!(source.waits.lock().unwrap().len(), 2);
    }

    #[test]
    fn timeout_zero_only_compares() {
        let empty = readers(&[]);
        let source = Script::new(vec![empty.clone()], vec![(0, Signal::Changed)]);
        let r = wait_for_token(
            &source,
            &params(0, Some(&empty.fingerprint)),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(r.event, WaitEvent::Timeout);
        assert!(source.waits.lock().unwrap().is_empty());
    }

    #[test]
    fn the_service_going_away_answers_unavailable() {
        let source = Script::new(
            vec![
                readers(&[None]),
                snapshot_of(ReadersState::NoService, vec![]),
            ],
            vec![(10, Signal::Unavailable)],
        );
        let r = wait_for_token(&source, &params(5_000, None), &Cancel::new()).unwrap();
        assert_eq!(r.event, WaitEvent::Unavailable);
        assert_eq!(r.readers.state, ReadersState::NoService);
    }

    #[test]
    fn cancel_ends_a_long_wait_promptly() {
        let source = Script::new(vec![readers(&[None])], vec![]);
        let cancel = Cancel::new();
        let other = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.cancel();
        });
        let started = Instant::now();
        let e = wait_for_token(&source, &params(60_000, None), &cancel).unwrap_err();
        assert_eq!(e.code, ErrorCode::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(2));
        t.join().unwrap();
    }

    #[test]
    fn cancel_during_the_settle_pause_is_seen() {
        let source = Script::new(
            vec![readers(&[None]), readers(&[Some("3B")])],
            vec![(0, Signal::Changed)],
        );
        let cancel = Cancel::new();
        let other = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(SETTLE / 3);
            other.cancel();
        });
        let e = wait_for_token(&source, &params(60_000, None), &cancel).unwrap_err();
        assert_eq!(e.code, ErrorCode::Cancelled);
        t.join().unwrap();
    }
}
