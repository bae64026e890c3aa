//! The persisted user-PIN retry counter, one small file per token, so that a locked PIN stays
//! locked across processes (as on a real token). It is re-read before every login and every
//! `C_GetTokenInfo`, and written (to a temporary file, then renamed) after every failed login
//! and after a successful login that resets a non-zero counter.
//!
//! Format (TOML): `failed_logins = N`. A missing file means 0. Deleting the file unlocks the
//! PIN — this is a test token.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why the counter cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading, writing or renaming failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not `failed_logins = N`.
    #[error("{path}: not a PIN counter file (expected `failed_logins = N`)")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    failed_logins: u32,
}

/// The number of consecutive failed logins recorded in `path` (0 when the file is missing).
pub fn read(path: &Path) -> Result<u32, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(StateError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    toml::from_str::<StateFile>(&text)
        .map(|s| s.failed_logins)
        .map_err(|_| StateError::Malformed {
            path: path.to_owned(),
        })
}

/// Records `failed` consecutive failed logins in `path` (atomically: temporary file + rename;
/// the directory is created if missing).
pub fn write(path: &Path, failed: u32) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let body = format!(
        "# tokenconfirm GOST test token: consecutive failed user-PIN logins\nfailed_logins = {failed}\n"
    );
    std::fs::write(&tmp, body).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_zero_and_writes_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token.state");
        assert_eq!(read(&path).unwrap(), 0);
        write(&path, 3).unwrap();
        assert_eq!(read(&path).unwrap(), 3);
        write(&path, 0).unwrap();
        assert_eq!(read(&path).unwrap(), 0);
        std::fs::write(&path, "failed_logins = -1\n").unwrap();
        assert!(matches!(read(&path), Err(StateError::Malformed { .. })));
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(read(&path), Err(StateError::Malformed { .. })));
    }
}
