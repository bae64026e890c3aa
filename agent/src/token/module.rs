//! Loaded PKCS#11 modules: exactly one initialized context per module file per process.

use crate::error::{AgentError, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokenconfirm_wire::error::ErrorCode;

/// An initialized module. Shared by every operation in the process; never finalized while the
/// process runs (finalizing under another thread's session is what crashes modules).
pub struct Module {
    /// The path the module was requested by.
    pub path: PathBuf,
    /// Where the path was found (`config`, `p11-kit`, vendor name…).
    pub source: String,
    /// The cryptoki context.
    pub ctx: Pkcs11,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<Module>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads and initializes `path`, or returns the context already loaded for the same file.
/// A module that does not exist, is not a PKCS#11 library or fails `C_Initialize` gives
/// `module-load-failed`; nothing is cached for it, so a later call tries again.
pub fn load(path: &Path, source: &str) -> Result<Arc<Module>> {
    let key = crate::discovery::canonical(path);
    let mut loaded = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(module) = loaded.get(&key) {
        return Ok(module.clone());
    }
    let fail = |what: String| {
        AgentError::new(
            ErrorCode::ModuleLoadFailed,
            format!("{}: {what}", path.display()),
        )
    };
    if !path.exists() {
        return Err(fail("no such file".into()));
    }
    let ctx = Pkcs11::new(path).map_err(|e| fail(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(format!("C_Initialize failed: {e}"))),
    }
    let module = Arc::new(Module {
        path: path.to_path_buf(),
        source: source.to_owned(),
        ctx,
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
