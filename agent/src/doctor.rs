//! `tokenconfirm-agent doctor`: what is installed, what is missing, what to do.

use crate::backend::TokenBackend;
use crate::discovery;
use crate::install::{self, Browser, Expect, Family, Locations, ManifestStatus, Scope};
use crate::readers;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use tokenconfirm_wire::native::{ReadersSnapshot, ReadersState, TokenHint};

/// One finding: ok or not, what was checked, and what to do when not ok.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// Passed.
    pub ok: bool,
    /// What was checked and what was seen.
    pub what: String,
    /// What to do about it, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub todo: Option<String>,
    /// Machine-readable detail (browser manifest findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

fn finding(ok: bool, what: String, todo: Option<&str>) -> Finding {
    Finding {
        ok,
        what,
        todo: if ok { None } else { todo.map(str::to_owned) },
        details: None,
    }
}

/// The first `program` on PATH.
pub fn in_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs every check. `manifest_root` is the root prefix the browser manifests were installed
/// under (`install --root`), normally `None`.
pub fn run(
    backend: &TokenBackend,
    config_path: Option<&Path>,
    manifest_root: Option<&Path>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    out.push(finding(
        true,
        match config_path {
            Some(p) => format!("configuration: {}", p.display()),
            None => format!(
                "configuration: defaults (no file at {})",
                crate::config::default_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "?".into())
            ),
        },
        None,
    ));
    let snapshot = readers::list();
    let inv = backend.inventory();
    let hints = crate::hints::hints(&snapshot, &inv.loaded_modules());
    out.extend(reader_findings(&snapshot, &hints));
    if inv.modules.is_empty() {
        out.push(finding(
            false,
            "PKCS#11 modules: none configured or found".into(),
            Some("install your token's driver (e.g. Debian package opensc for smart cards, the vendor's package for Rutoken/JaCarta/ESMART) or add `modules = [\"/path/to/module.so\"]` to the configuration"),
        ));
    }
    for m in &inv.modules {
        let path = m.candidate.path.display();
        match &m.status {
            Ok(desc) => {
                out.push(finding(
                    true,
                    format!("module {path} ({}): {desc}", m.candidate.source),
                    None,
                ));
                for t in &m.tokens {
                    let state = if t.token.pin_locked {
                        " — PIN LOCKED"
                    } else if t.token.pin_final_try {
                        " — PIN final try"
                    } else if t.token.pin_count_low {
                        " — PIN count low"
                    } else {
                        ""
                    };
                    out.push(finding(
                        !t.token.pin_locked,
                        format!(
                            "  token {:?} ({} {}, serial {}){}{}: {} signing certificate(s)",
                            t.token.label, t.token.manufacturer, t.token.model, t.token.serial,
                            if t.token.pin_pad { ", PIN pad" } else { "" }, state, t.certificates
                        ),
                        Some("unblock the PIN with the PUK (vendor tool) or contact your certification authority"),
                    ));
                }
                if m.tokens.is_empty() {
                    out.push(finding(
                        true,
                        "  no token present in its slots".into(),
                        None,
                    ));
                }
            }
            Err(e) => out.push(finding(
                false,
                format!("module {path} ({}): {}", m.candidate.source, e.detail),
                Some("reinstall the driver package, or remove the path from the configuration"),
            )),
        }
    }
    if inv.any_token() && inv.certificates.is_empty() {
        out.push(finding(false, "no signing certificate on any token".into(), Some("check that your certificate was written to the token (your certification authority can help)")));
    }
    let missing = discovery::missing_vendor_products();
    if !missing.is_empty() {
        out.push(finding(
            true,
            format!(
                "not installed (only needed for those tokens): {}",
                missing.join(", ")
            ),
            None,
        ));
    }
    let pinentry = in_path("pinentry");
    out.push(finding(
        pinentry.is_some(),
        match &pinentry {
            Some(p) => format!("pinentry: {}", p.display()),
            None => "pinentry: not found".into(),
        },
        Some("install pinentry-gnome3, pinentry-qt or pinentry-curses — or let the browser extension ask for the PIN"),
    ));
    match Locations::current(manifest_root.map(Path::to_path_buf)) {
        Ok(locations) => {
            let expect = Expect {
                agent_path: std::env::current_exe()
                    .ok()
                    .map(|p| p.canonicalize().unwrap_or(p)),
                extension_ids: install::ExtensionIds::default(),
            };
            out.extend(browser_findings(&locations, &expect));
        }
        Err(e) => out.push(finding(
            false,
            format!("browser manifests: {}", e.detail),
            Some("set HOME"),
        )),
    }
    out
}

/// The smart-card service, each reader (card, product, PIN pad) and, for a known card whose
/// driver is missing, what to install.
pub fn reader_findings(snapshot: &ReadersSnapshot, hints: &[TokenHint]) -> Vec<Finding> {
    let mut out = Vec::new();
    match snapshot.state {
        ReadersState::NoService => out.push(finding(
            false,
            "smart-card service: pcscd is not running (USB tokens and smart cards need it)".into(),
            Some("install and start it: Debian `apt install pcscd` (it starts on demand through pcscd.socket), elsewhere `systemctl enable --now pcscd`"),
        )),
        ReadersState::NoReaders => out.push(finding(
            true,
            "smart-card readers: none connected (a USB token is its own reader)".into(),
            None,
        )),
        ReadersState::Ok => {
            for r in &snapshot.readers {
                let mut what = format!("reader {:?}: {}", r.name, readers::card_name(r.card));
                if r.pin_pad {
                    what.push_str(", PIN pad");
                }
                if let Some(atr) = &r.atr {
                    what.push_str(&format!(", ATR {atr}"));
                }
                if let Some(product) = &r.product {
                    what.push_str(&format!(" — {product}"));
                }
                out.push(finding(true, what, None));
            }
        }
    }
    for h in hints {
        out.push(Finding {
            ok: false,
            what: format!(
                "card in reader {:?}: {} — its driver ({}) is not installed or does not load",
                h.reader,
                h.product,
                h.modules.join(" or ")
            ),
            todo: Some(format!("{} / {}", h.install_en, h.install_ru)),
            details: serde_json::to_value(h).ok(),
        });
    }
    out
}

/// One finding per browser that has a profile directory for this user or a manifest: the
/// user and system manifests' states, judged by the one the browser actually uses (Chromium
/// family: the user manifest whenever the file exists, else the system one; Firefox: the
/// first usable one of user, system).
pub fn browser_findings(locations: &Locations, expect: &Expect) -> Vec<Finding> {
    let mut out = Vec::new();
    for browser in Browser::ALL {
        let user = install::check(browser, Scope::User, locations, expect);
        let system = install::check(browser, Scope::System, locations, expect);
        let present = |s: &ManifestStatus| *s != ManifestStatus::Missing;
        if !locations.profile_dir(browser).is_dir()
            && !present(&user.status)
            && !present(&system.status)
        {
            continue;
        }
        let usable = |s: &ManifestStatus| match browser.family() {
            Family::Chromium => present(s),
            // Firefox skips manifests it cannot use and tries the next location.
            Family::Firefox => !matches!(
                s,
                ManifestStatus::Missing
                    | ManifestStatus::Unparsable { .. }
                    | ManifestStatus::ExtensionNotAllowed { .. }
            ),
        };
        let used = [&user, &system].into_iter().find(|c| usable(&c.status));
        let ok = used.is_some_and(|c| c.status == ManifestStatus::Valid);
        let what = format!(
            "browser {}: user manifest {}: {}; system manifest {}: {}",
            browser.display_name(),
            user.location,
            user.status,
            system.location,
            system.status
        );
        let name = browser.name();
        let todo = match used {
            None => format!(
                "run `tokenconfirm-agent install --browser {name}` (or `sudo tokenconfirm-agent install --system --browser {name}` for every user)"
            ),
            Some(c) if c.scope == Scope::User => format!(
                "run `tokenconfirm-agent install --browser {name}` to rewrite the user manifest (or `tokenconfirm-agent uninstall --browser {name}` to fall back to the system one)"
            ),
            Some(_) => format!(
                "run `sudo tokenconfirm-agent install --system --browser {name}`, or `tokenconfirm-agent install --browser {name}` for this user only"
            ),
        };
        let state = |c: &install::Check| {
            serde_json::json!({
                "location": c.location,
                "status": c.status.code(),
                "detail": c.status.to_string(),
            })
        };
        out.push(Finding {
            ok,
            what,
            todo: (!ok).then_some(todo),
            details: Some(serde_json::json!({
                "browser": name,
                "used": used.map(|c| c.scope),
                "user": state(&user),
                "system": state(&system),
            })),
        });
    }
    if out.is_empty() {
        out.push(finding(
            true,
            format!(
                "browser manifests: no profile of a supported browser ({}) for this user",
                Browser::ALL.map(Browser::name).join(", ")
            ),
            None,
        ));
    }
    out
}

/// Renders findings as text lines.
pub fn render(findings: &[Finding]) -> String {
    let mut text = String::new();
    for f in findings {
        let _ = writeln!(text, "[{}] {}", if f.ok { " ok " } else { "FAIL" }, f.what);
        if let Some(todo) = &f.todo {
            let _ = writeln!(text, "       → {todo}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::snapshot_of;
    use tokenconfirm_wire::native::{CardState, ReaderInfo};

    #[test]
    fn readers_and_missing_drivers_are_reported() {
        let missing = reader_findings(&snapshot_of(ReadersState::NoService, vec![]), &[]);
        assert!(
            !missing[0].ok
                && missing[0]
                    .todo
                    .as_deref()
                    .is_some_and(|t| t.contains("pcscd"))
        );
        let rutoken = ReaderInfo {
            name: "Aktiv Rutoken ECP 00 00".into(),
            card: CardState::Present,
            atr: Some("3B 8B 01 52 75 74 6F 6B 65 6E 20 44 53 20 C1".into()),
            product: Some("Рутокен ЭЦП / Rutoken ECP".into()),
            modules: vec!["librtpkcs11ecp.so".into()],
            pin_pad: true,
        };
        let snapshot = snapshot_of(ReadersState::Ok, vec![rutoken]);
        let hints = crate::hints::hints::<PathBuf>(&snapshot, &[]);
        let f = reader_findings(&snapshot, &hints);
        assert_eq!(f.len(), 2);
        assert!(f[0].ok && f[0].what.contains("PIN pad") && f[0].what.contains("Rutoken ECP"));
        assert!(!f[1].ok);
        let todo = f[1].todo.as_deref().unwrap_or_default();
        assert!(
            todo.contains("librtpkcs11ecp") && todo.contains("Установите"),
            "{todo}"
        );
        assert!(render(&f).contains("FAIL"));
    }
}
