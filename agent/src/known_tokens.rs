//! Known tokens and smart cards: which product an ATR belongs to and which PKCS#11 module it
//! needs. The data is `agent/data/known-tokens.toml` (a data file, embedded at build time).

use serde::Deserialize;
use std::sync::OnceLock;

const DATA: &str = include_str!("../data/known-tokens.toml");

/// One product.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KnownToken {
    /// Product name (Russian / English).
    pub product: String,
    /// ATR patterns: hex bytes separated by spaces, `..` for any byte.
    pub atr: Vec<String>,
    /// PKCS#11 module file names that serve it.
    pub modules: Vec<String>,
    /// What to install, in English.
    pub install_en: String,
    /// What to install, in Russian.
    pub install_ru: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    token: Vec<KnownToken>,
}

/// Every known product (empty if the embedded file were malformed; a unit test guarantees it
/// is not).
pub fn all() -> &'static [KnownToken] {
    static ALL: OnceLock<Vec<KnownToken>> = OnceLock::new();
    ALL.get_or_init(|| {
        toml::from_str::<File>(DATA)
            .map(|f| f.token)
            .unwrap_or_default()
    })
}

/// Whether `atr` matches `pattern` (same length, `..` matches any byte).
pub fn atr_matches(pattern: &str, atr: &[u8]) -> bool {
    let parts: Vec<&str> = pattern.split_whitespace().collect();
    parts.len() == atr.len()
        && parts
            .iter()
            .zip(atr)
            .all(|(p, b)| *p == ".." || u8::from_str_radix(p, 16).is_ok_and(|v| v == *b))
}

/// The product an ATR belongs to.
pub fn identify(atr: &[u8]) -> Option<&'static KnownToken> {
    all()
        .iter()
        .find(|t| t.atr.iter().any(|p| atr_matches(p, atr)))
}

/// The product with this name.
pub fn by_product(product: &str) -> Option<&'static KnownToken> {
    all().iter().find(|t| t.product == product)
}

/// A module file name reduced for comparison across platforms: lower case, without a `lib`
/// prefix and without the `.so`/`.dylib`/`.dll` extension (`librtpkcs11ecp.so`,
/// `rtPKCS11ECP.dll` and the macOS framework binary `rtpkcs11ecp` all become `rtpkcs11ecp`).
fn module_key(file_name: &str) -> String {
    let lower = file_name.to_ascii_lowercase();
    let stem = [".so", ".dylib", ".dll"]
        .iter()
        .find_map(|ext| lower.strip_suffix(ext))
        .unwrap_or(&lower);
    stem.strip_prefix("lib").unwrap_or(stem).to_owned()
}

/// Whether the module at `path` is the module named `file_name` in the data file.
pub fn module_matches(file_name: &str, path: &std::path::Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| module_key(n) == module_key(file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn data_file_parses_and_every_pattern_is_well_formed() {
        let file: File = toml::from_str(DATA).expect("known-tokens.toml");
        assert!(file.token.len() >= 9);
        for t in &file.token {
            assert!(!t.modules.is_empty() && !t.install_en.is_empty() && !t.install_ru.is_empty());
            for p in &t.atr {
                assert!(
                    p.split_whitespace()
                        .all(|b| b == ".." || (b.len() == 2 && u8::from_str_radix(b, 16).is_ok())),
                    "{}: {p}",
                    t.product
                );
            }
        }
    }

    #[test]
    fn identifies_products_by_atr() {
        let rutoken = identify(&hex("3B 8B 01 52 75 74 6F 6B 65 6E 20 44 53 20 C1")).unwrap();
        assert!(rutoken.product.contains("Rutoken ECP"));
        assert_eq!(rutoken.modules, ["librtpkcs11ecp.so"]);
        let gnuk = identify(&hex(
            "3B DA 11 FF 81 B1 FE 55 1F 03 00 31 84 73 80 01 80 05 90 00 E1",
        ))
        .unwrap();
        assert_eq!(gnuk.product, "OpenPGP card");
        assert!(identify(&hex("3B 00")).is_none());
        assert_eq!(by_product("OpenPGP card"), Some(gnuk));
        assert!(!atr_matches("3B ..", &hex("3B")));
    }

    #[test]
    fn module_names_match_across_platforms() {
        use std::path::Path;
        for path in [
            "/usr/lib/librtpkcs11ecp.so",
            "C:\\Windows\\System32\\rtPKCS11ECP.dll",
            "/Library/Frameworks/rtpkcs11ecp.framework/rtpkcs11ecp",
        ] {
            let path = path.replace('\\', "/");
            assert!(
                module_matches("librtpkcs11ecp.so", Path::new(&path)),
                "{path}"
            );
        }
        assert!(module_matches(
            "opensc-pkcs11.so",
            Path::new("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
        ));
        assert!(!module_matches(
            "opensc-pkcs11.so",
            Path::new("/usr/lib/x86_64-linux-gnu/onepin-opensc-pkcs11.so")
        ));
        assert!(!module_matches("libeTPkcs11.so", Path::new("/")));
    }
}
