//! Cancellation of one request, seen by blocking workers.
//!
//! The native host answers `cancel` at once; the worker that still runs learns about it
//! through a [`Cancel`]: by polling [`Cancel::is_cancelled`] between steps, by sleeping with
//! [`Cancel::sleep`] (which wakes up early), or by registering a hook with
//! [`Cancel::on_cancel`] that interrupts a blocking call (e.g. `SCardCancel` on a PC/SC
//! context waiting for a card).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    cancelled: bool,
    hooks: Vec<Hook>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

/// A cancellation flag shared by the host and one worker. Clones share the flag.
#[derive(Clone, Default)]
pub struct Cancel(Arc<Inner>);

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Cancel {
    /// A flag that is not cancelled (yet).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Cancels: sets the flag, wakes sleepers and runs the registered hooks (once).
    pub fn cancel(&self) {
        let hooks = {
            let mut state = self.lock();
            if state.cancelled {
                return;
            }
            state.cancelled = true;
            std::mem::take(&mut state.hooks)
        };
        self.0.wake.notify_all();
        // Outside the lock: a hook may take its own locks or block briefly.
        for hook in hooks {
            hook();
        }
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.lock().cancelled
    }

    /// Runs `hook` when the request is cancelled — at once if it already is.
    pub fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) {
        let mut state = self.lock();
        if state.cancelled {
            drop(state);
            hook();
        } else {
            state.hooks.push(Box::new(hook));
        }
    }

    /// Sleeps for `duration` or until cancelled; returns true when cancelled.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut state = self.lock();
        while !state.cancelled {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.0.wake.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn hooks_run_once_and_late_hooks_run_at_once() {
        let c = Cancel::new();
        let count = Arc::new(AtomicUsize::new(0));
        let n = count.clone();
        c.on_cancel(move || {
            n.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!c.is_cancelled());
        c.cancel();
        c.cancel();
        assert!(c.is_cancelled());
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let n = count.clone();
        c.clone().on_cancel(move || {
            n.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn sleep_ends_early_when_cancelled() {
        let c = Cancel::new();
        assert!(!c.sleep(Duration::from_millis(5)));
        let other = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            other.cancel();
        });
        let started = Instant::now();
        assert!(c.sleep(Duration::from_secs(10)));
        assert!(started.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
    }
}
