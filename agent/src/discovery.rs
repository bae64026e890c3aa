//! Where PKCS#11 modules are: the configuration, p11-kit's registry and known vendor locations.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A candidate module and why it is a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Path as found (not yet canonicalized).
    pub path: PathBuf,
    /// `config`, `command line`, `p11-kit`, or the vendor product name.
    pub source: String,
}

/// Known vendor module locations: (product, paths for this platform). Only existing files are
/// proposed; the list is data, not logic, so adding a vendor is one line.
#[cfg(target_os = "linux")]
const VENDOR_LOCATIONS: &[(&str, &[&str])] = &[
    (
        "OpenSC",
        &[
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
            "/usr/local/lib/opensc-pkcs11.so",
        ],
    ),
    (
        "SoftHSM 2",
        &[
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib64/pkcs11/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ],
    ),
    (
        "Rutoken (Aktiv)",
        &[
            "/usr/lib/librtpkcs11ecp.so",
            "/usr/lib/x86_64-linux-gnu/librtpkcs11ecp.so",
            "/usr/lib64/librtpkcs11ecp.so",
            "/opt/aktivco/rutokenecp/x86_64/librtpkcs11ecp.so",
        ],
    ),
    (
        "JaCarta (Aladdin R.D.)",
        &[
            "/usr/lib/libjcPKCS11-2.so",
            "/usr/lib/x86_64-linux-gnu/libjcPKCS11-2.so",
            "/usr/lib64/libjcPKCS11-2.so",
        ],
    ),
    (
        "ESMART (ISBC)",
        &[
            "/usr/lib/libisbc_pkcs11_main.so",
            "/usr/local/lib/libisbc_pkcs11_main.so",
            "/usr/lib64/libisbc_pkcs11_main.so",
        ],
    ),
    (
        "CryptoPro CSP",
        &[
            "/opt/cprocsp/lib/amd64/libcppkcs11.so",
            "/opt/cprocsp/lib/arm64/libcppkcs11.so",
            "/opt/cprocsp/lib/ia32/libcppkcs11.so",
        ],
    ),
    (
        "SafeNet eToken",
        &["/usr/lib/libeTPkcs11.so", "/usr/lib64/libeTPkcs11.so"],
    ),
];

#[cfg(target_os = "macos")]
const VENDOR_LOCATIONS: &[(&str, &[&str])] = &[
    (
        "OpenSC",
        &[
            "/Library/OpenSC/lib/opensc-pkcs11.so",
            "/opt/homebrew/lib/opensc-pkcs11.so",
        ],
    ),
    (
        "SoftHSM 2",
        &[
            "/opt/homebrew/lib/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ],
    ),
    (
        "Rutoken (Aktiv)",
        &["/Library/Frameworks/rtpkcs11ecp.framework/rtpkcs11ecp"],
    ),
    (
        "JaCarta (Aladdin R.D.)",
        &["/Library/Frameworks/jcPKCS11-2.framework/jcPKCS11-2"],
    ),
    (
        "ESMART (ISBC)",
        &["/Library/ISBC/lib/libisbc_pkcs11_main.dylib"],
    ),
    ("CryptoPro CSP", &["/opt/cprocsp/lib/libcppkcs11.dylib"]),
    ("SafeNet eToken", &["/usr/local/lib/libeTPkcs11.dylib"]),
];

#[cfg(windows)]
const VENDOR_LOCATIONS: &[(&str, &[&str])] = &[
    ("OpenSC", &["C:\\Windows\\System32\\opensc-pkcs11.dll"]),
    ("SoftHSM 2", &["C:\\SoftHSM2\\lib\\softhsm2-x64.dll"]),
    (
        "Rutoken (Aktiv)",
        &["C:\\Windows\\System32\\rtPKCS11ECP.dll"],
    ),
    (
        "JaCarta (Aladdin R.D.)",
        &["C:\\Windows\\System32\\jcPKCS11-2.dll"],
    ),
    (
        "ESMART (ISBC)",
        &["C:\\Windows\\System32\\isbc_pkcs11_main.dll"],
    ),
    (
        "CryptoPro CSP",
        &["C:\\Program Files\\Crypto Pro\\CSP\\cppkcs11.dll"],
    ),
    ("SafeNet eToken", &["C:\\Windows\\System32\\eTPKCS11.dll"]),
];

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
const VENDOR_LOCATIONS: &[(&str, &[&str])] = &[];

/// Directories p11-kit reads `*.module` files from (system, admin, user).
fn p11kit_config_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/share/p11-kit/modules"),
        PathBuf::from("/etc/pkcs11/modules"),
    ];
    if let Some(home) = directories::BaseDirs::new() {
        dirs.push(home.config_dir().join("pkcs11/modules"));
    }
    dirs
}

/// p11-kit resolves relative `module:` paths against its module directory.
fn p11kit_module_dirs() -> Vec<PathBuf> {
    ["x86_64-linux-gnu", "aarch64-linux-gnu", "i386-linux-gnu"]
        .iter()
        .map(|t| PathBuf::from(format!("/usr/lib/{t}/pkcs11")))
        .chain([
            PathBuf::from("/usr/lib64/pkcs11"),
            PathBuf::from("/usr/lib/pkcs11"),
        ])
        .collect()
}

/// Extracts the `module:` value of a p11-kit module file, unless the file disables the module
/// (`disable-in:`/`enable-in:` naming other programs only are treated as enabled for us).
pub fn parse_p11kit_module_file(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix("module:").map(|v| v.trim().to_owned()))
        .filter(|v| !v.is_empty())
}

fn p11kit_candidates() -> Vec<Candidate> {
    let mut out = Vec::new();
    for dir in p11kit_config_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "module"))
            .collect();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Some(module) = parse_p11kit_module_file(&text) else {
                continue;
            };
            let module = PathBuf::from(module);
            let resolved = if module.is_absolute() {
                Some(module)
            } else {
                p11kit_module_dirs()
                    .into_iter()
                    .map(|d| d.join(&module))
                    .find(|p| p.exists())
            };
            if let Some(path) = resolved {
                out.push(Candidate {
                    path,
                    source: "p11-kit".into(),
                });
            }
        }
    }
    out
}

fn vendor_candidates() -> Vec<Candidate> {
    VENDOR_LOCATIONS
        .iter()
        .flat_map(|(product, paths)| {
            paths.iter().map(move |p| Candidate {
                path: PathBuf::from(p),
                source: (*product).into(),
            })
        })
        .filter(|c| c.path.exists())
        .collect()
}

/// All candidate modules in order: explicit ones (not checked for existence, so a wrong path
/// is reported), then, if `discover`, p11-kit's and vendor locations. Duplicates (same file
/// after resolving links) are dropped, keeping the first.
pub fn candidates(explicit: &[(PathBuf, &str)], discover: bool) -> Vec<Candidate> {
    let mut all: Vec<Candidate> = explicit
        .iter()
        .map(|(p, source)| Candidate {
            path: p.clone(),
            source: (*source).into(),
        })
        .collect();
    if discover {
        all.extend(p11kit_candidates());
        all.extend(vendor_candidates());
    }
    let mut seen = HashSet::new();
    all.retain(|c| seen.insert(canonical(&c.path)));
    all
}

/// The canonical form of a module path (links resolved); the path itself if that fails.
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The vendor products whose modules were looked for but not found, for `doctor`.
pub fn missing_vendor_products() -> Vec<&'static str> {
    VENDOR_LOCATIONS
        .iter()
        .filter(|(_, paths)| !paths.iter().any(|p| Path::new(p).exists()))
        .map(|(product, _)| *product)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_p11kit_files() {
        let text = "# comment\nmodule: opensc-pkcs11.so\ncritical: no\n";
        assert_eq!(
            parse_p11kit_module_file(text).as_deref(),
            Some("opensc-pkcs11.so")
        );
        assert_eq!(parse_p11kit_module_file("critical: yes\n"), None);
        assert_eq!(parse_p11kit_module_file("#module: x.so\n"), None);
    }

    #[test]
    fn explicit_paths_come_first_and_duplicates_go() {
        let p = PathBuf::from("/nonexistent/libx.so");
        let c = candidates(&[(p.clone(), "config"), (p.clone(), "command line")], false);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, p);
        assert_eq!(c[0].source, "config");
    }
}
