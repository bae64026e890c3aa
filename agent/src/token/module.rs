//! Loaded PKCS#11 modules: exactly one initialized context per module file per process, and
//! when it is safe, a fresh start for a module that no longer sees the world as it is.
//!
//! Many modules only see tokens that were there at `C_Initialize` — SoftHSM never sees a token
//! created after it, some vendor modules never see a reader plugged in after it, and after a
//! token was pulled out mid-operation a module may keep stale state. So a module is
//! *re-initialized* (`C_Finalize` + `C_Initialize` on the same loaded library) before a scan
//! when it is **idle** — nothing in the process holds it, hence no session, object handle or
//! call of ours is open on it — and **stale** ([`refresh_reason`]):
//!
//! * a token operation through it failed with `device-removed` (or its slot list failed);
//! * PC/SC observed a reader or card change after it was initialized
//!   ([`crate::readers::generation`]);
//! * its last scan found no usable token and it was initialized at least [`EMPTY_REFRESH`] ago
//!   (tokens that come without a PC/SC event: SoftHSM, tokens of non-PC/SC modules).
//!
//! A module in use is never finalized (finalizing under another thread's session is what
//! crashes modules). A module that has not returned from a scan for [`STUCK_AFTER`] is skipped
//! by later scans ([`Module::begin_scan`]) so that one stuck driver cannot hang every request.

use crate::error::{AgentError, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokenconfirm_wire::error::ErrorCode;

/// A module whose last scan found no usable token is re-initialized (when idle) once it has
/// been initialized this long.
pub const EMPTY_REFRESH: Duration = Duration::from_secs(4);

/// A scan of a module that has not finished after this long counts as stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(20);

/// What the registry knows about a module's freshness.
#[derive(Debug, Clone)]
pub struct Health {
    /// When `C_Initialize` last succeeded.
    pub initialized_at: Instant,
    /// [`crate::readers::generation`] at that time.
    pub reader_generation: u64,
    /// Why the module must be re-initialized before its next use, if it must.
    pub stale: Option<String>,
    /// Its last scan found no usable (initialized) token.
    pub empty: bool,
    /// Scans in progress, and since when the oldest of them runs.
    pub scans: usize,
    /// Start of the oldest scan in progress.
    pub scanning_since: Option<Instant>,
}

impl Health {
    fn fresh(now: Instant) -> Health {
        Health {
            initialized_at: now,
            reader_generation: crate::readers::generation(),
            stale: None,
            empty: false,
            scans: 0,
            scanning_since: None,
        }
    }
}

/// Why a module in state `health` should be re-initialized at `now`, when the reader change
/// counter is at `generation`; `None` when it is fresh.
pub fn refresh_reason(health: &Health, now: Instant, generation: u64) -> Option<String> {
    if let Some(why) = &health.stale {
        return Some(why.clone());
    }
    if generation > health.reader_generation {
        return Some("readers or cards changed".into());
    }
    if health.empty && now.saturating_duration_since(health.initialized_at) >= EMPTY_REFRESH {
        return Some("no token seen".into());
    }
    None
}

/// An initialized module. Shared by every operation in the process.
pub struct Module {
    /// The path the module was requested by.
    pub path: PathBuf,
    /// Where the path was found (`config`, `p11-kit`, vendor name…).
    pub source: String,
    /// The cryptoki context.
    pub ctx: Pkcs11,
    health: Mutex<Health>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A scan in progress on a module; ends when dropped.
#[derive(Debug)]
pub struct ScanGuard<'a>(&'a Module);

impl Drop for ScanGuard<'_> {
    fn drop(&mut self) {
        let mut h = self.0.health();
        h.scans = h.scans.saturating_sub(1);
        if h.scans == 0 {
            h.scanning_since = None;
        }
    }
}

impl Module {
    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the module for re-initialization before its next use (when idle).
    pub fn mark_stale(&self, why: &str) {
        tracing::debug!(module = %self.path.display(), "module stale: {why}");
        self.health().stale = Some(why.to_owned());
    }

    /// Records whether the last scan found a usable token.
    pub fn set_empty(&self, empty: bool) {
        self.health().empty = empty;
    }

    /// A copy of the module's health.
    pub fn health_now(&self) -> Health {
        self.health().clone()
    }

    /// Starts a scan, unless an earlier scan has been stuck in the module for
    /// [`STUCK_AFTER`]: then `token-not-responding`.
    pub fn begin_scan(&self) -> Result<ScanGuard<'_>> {
        let now = Instant::now();
        let mut h = self.health();
        if let Some(since) = h.scanning_since {
            let busy = now.saturating_duration_since(since);
            if busy >= STUCK_AFTER {
                return Err(AgentError::new(
                    ErrorCode::TokenNotResponding,
                    format!(
                        "{}: a call into the module has not returned for {} s",
                        self.path.display(),
                        busy.as_secs()
                    ),
                ));
            }
        }
        h.scans += 1;
        h.scanning_since.get_or_insert(now);
        drop(h);
        Ok(ScanGuard(self))
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<Module>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn initialize(ctx: &Pkcs11) -> std::result::Result<(), CkError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Loads and initializes `path`, or returns the context already loaded for the same file —
/// re-initialized first when it is idle and stale (see the module documentation).
/// A module that does not exist, is not a PKCS#11 library or fails `C_Initialize` gives
/// `module-load-failed`; nothing is cached for it, so a later call tries again.
pub fn load(path: &Path, source: &str) -> Result<Arc<Module>> {
    let key = crate::discovery::canonical(path);
    let mut loaded = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fail = |what: String| {
        AgentError::new(
            ErrorCode::ModuleLoadFailed,
            format!("{}: {what}", path.display()),
        )
    };
    if let Some(module) = loaded.get(&key) {
        // Idle: only the registry holds it, and no one can take it while we hold the lock.
        let idle = Arc::strong_count(module) == 1;
        let now = Instant::now();
        let reason = refresh_reason(&module.health(), now, crate::readers::generation());
        match reason {
            Some(why) if idle => {
                tracing::info!(module = %path.display(), "re-initializing the module: {why}");
                if let Err(e) = module.ctx.clone().finalize() {
                    tracing::debug!(module = %path.display(), "C_Finalize: {e}");
                }
                if let Err(e) = initialize(&module.ctx) {
                    loaded.remove(&key);
                    return Err(fail(format!("C_Initialize failed: {e}")));
                }
                let mut h = module.health();
                *h = Health::fresh(now);
            }
            Some(why) => {
                tracing::debug!(module = %path.display(), "module in use, not re-initialized ({why})");
            }
            None => {}
        }
        return Ok(module.clone());
    }
    if !path.exists() {
        return Err(fail("no such file".into()));
    }
    let ctx = Pkcs11::new(path).map_err(|e| fail(e.to_string()))?;
    initialize(&ctx).map_err(|e| fail(format!("C_Initialize failed: {e}")))?;
    let module = Arc::new(Module {
        path: path.to_path_buf(),
        source: source.to_owned(),
        ctx,
        health: Mutex::new(Health::fresh(Instant::now())),
    });
    loaded.insert(key, module.clone());
    Ok(module)
}

/// Library information for `doctor`: manufacturer, description, version.
pub fn describe(module: &Module) -> String {
    match module.ctx.get_library_info() {
        Ok(info) => format!(
            "{} — {} {}",
            info.manufacturer_id().trim(),
            info.library_description().trim(),
            info.library_version()
        ),
        Err(e) => format!("library info unavailable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(now: Instant) -> Health {
        Health {
            initialized_at: now,
            reader_generation: 3,
            stale: None,
            empty: false,
            scans: 0,
            scanning_since: None,
        }
    }

    #[test]
    fn fresh_modules_stay() {
        let now = Instant::now();
        assert_eq!(
            refresh_reason(&health(now), now + Duration::from_secs(3600), 3),
            None
        );
    }

    #[test]
    fn a_removed_device_or_a_reader_change_refreshes() {
        let now = Instant::now();
        let mut h = health(now);
        assert!(refresh_reason(&h, now, 4).is_some_and(|r| r.contains("changed")));
        h.stale = Some("C_Sign: CKR_DEVICE_REMOVED".into());
        assert_eq!(
            refresh_reason(&h, now, 3).as_deref(),
            Some("C_Sign: CKR_DEVICE_REMOVED")
        );
    }

    #[test]
    fn an_empty_module_refreshes_after_a_while_only() {
        let now = Instant::now();
        let mut h = health(now);
        h.empty = true;
        assert_eq!(refresh_reason(&h, now + Duration::from_secs(1), 3), None);
        assert!(refresh_reason(&h, now + EMPTY_REFRESH, 3).is_some());
    }

    /// The load path itself, on a file that is not a module (no SoftHSM needed here; the
    /// re-initialization is exercised end to end by `agent/tests/native_host.rs`).
    #[test]
    fn a_missing_module_is_not_cached() {
        let e = load(Path::new("/nonexistent/libnothing.so"), "test").unwrap_err();
        assert_eq!(e.code, ErrorCode::ModuleLoadFailed);
        let e = load(Path::new("/nonexistent/libnothing.so"), "test").unwrap_err();
        assert!(e.detail.contains("no such file"));
    }
}
