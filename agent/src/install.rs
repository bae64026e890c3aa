//! Native-messaging host manifests: what they contain, where each browser looks for them, and
//! `tokenconfirm-agent install` / `uninstall` / the checks `doctor` runs on them.
//!
//! A browser finds the agent through a small JSON file named after the host,
//! `ru.tokenconfirm.agent.json`, whose `path` is the agent's absolute path and whose
//! `allowed_origins` (Chromium family: `chrome-extension://<id>/`, trailing slash included) or
//! `allowed_extensions` (Firefox: the add-on id) name the extension that may start it.
//!
//! Where the file goes ([`manifest_dir`]):
//!
//! | browser | Linux, user (`$XDG_CONFIG_HOME`, default `~/.config`) | Linux, system |
//! |---|---|---|
//! | Chrome | `google-chrome/NativeMessagingHosts` | `/etc/opt/chrome/native-messaging-hosts` |
//! | Chromium | `chromium/NativeMessagingHosts` | `/etc/chromium/native-messaging-hosts` |
//! | Edge | `microsoft-edge/NativeMessagingHosts` | `/etc/opt/edge/native-messaging-hosts` |
//! | Brave | `BraveSoftware/Brave-Browser/NativeMessagingHosts` | Chrome's (`/etc/opt/chrome/…`) |
//! | Vivaldi | `vivaldi/NativeMessagingHosts` | Chrome's (`/etc/opt/chrome/…`) |
//! | Yandex | `yandex-browser/NativeMessagingHosts` | `/etc/opt/yandex/browser/native-messaging-hosts` |
//! | Firefox | `~/.mozilla/native-messaging-hosts` | `/usr/lib/mozilla/native-messaging-hosts` |
//!
//! macOS uses `~/Library/Application Support/<browser>/NativeMessagingHosts` and the
//! `/Library/…` equivalents (see [`manifest_dir`]). On Windows the manifest sits next to the
//! agent and a registry key per browser (`HKCU` or `HKLM`) names it ([`registry_key`]); that
//! part runs `reg.exe`.
//!
//! How sure these are: Chrome, Chromium, Edge and Firefox locations are the vendors' documented
//! ones; Brave's and Vivaldi's Linux directories (their own user directory, Chrome's system
//! directory only) come from traces of real browsers published by other native-host projects;
//! Yandex's Linux system directory from installers that target it (CryptoPro-style plug-ins).
//! Not verified at all, only by analogy: the macOS system directories of Brave, Vivaldi and
//! Yandex. Firefox reads exactly one system directory chosen at build time: `/usr/lib/mozilla`
//! in Mozilla's and Debian's builds, `/usr/lib64/mozilla` in builds made with
//! `HAVE_USR_LIB64_DIR` (RPM distributions); this module writes the former.
//!
//! Several browsers can share one system location (Brave and Vivaldi read Chrome's): `install`
//! writes such a file once and `uninstall` keeps it while a browser not being uninstalled still
//! reads it.
//!
//! With a root prefix (`--root DIR`) every manifest location is placed under `DIR`, like a
//! `DESTDIR`; the agent path written *into* the manifests is not changed, since it is what the
//! browser will run.

use crate::error::{AgentError, Result};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use tokenconfirm_wire::error::ErrorCode;

/// The native-messaging host name the extension connects to.
pub const HOST_NAME: &str = "ru.tokenconfirm.agent";
/// The manifest's file name (on Linux and macOS it must be `<host name>.json`).
pub const MANIFEST_FILE: &str = "ru.tokenconfirm.agent.json";
/// The extension's id in Chromium-family browsers (fixed by the `key` in its manifest).
pub const CHROMIUM_EXTENSION_ID: &str = "plplfdjajnkgmphkhkbdchaaejgmhapa";
/// The add-on id in Firefox (`browser_specific_settings.gecko.id`).
pub const FIREFOX_EXTENSION_ID: &str = "tokenconfirm@tokenconfirm.ru";
/// The manifest's `description`.
pub const DESCRIPTION: &str =
    "tokenconfirm agent: signs portal confirmations with a qualified e-signature on a PKCS#11 token";

/// A supported browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Microsoft Edge.
    Edge,
    /// Brave.
    Brave,
    /// Vivaldi.
    Vivaldi,
    /// Yandex Browser.
    Yandex,
    /// Mozilla Firefox.
    Firefox,
}

/// Which manifest dialect a browser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `allowed_origins` with `chrome-extension://<id>/`.
    Chromium,
    /// `allowed_extensions` with add-on ids.
    Firefox,
}

impl Browser {
    /// Every supported browser, in display order.
    pub const ALL: [Browser; 7] = [
        Browser::Chrome,
        Browser::Chromium,
        Browser::Edge,
        Browser::Brave,
        Browser::Vivaldi,
        Browser::Yandex,
        Browser::Firefox,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
            Browser::Vivaldi => "vivaldi",
            Browser::Yandex => "yandex",
            Browser::Firefox => "firefox",
        }
    }

    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            Browser::Chrome => "Google Chrome",
            Browser::Chromium => "Chromium",
            Browser::Edge => "Microsoft Edge",
            Browser::Brave => "Brave",
            Browser::Vivaldi => "Vivaldi",
            Browser::Yandex => "Yandex Browser",
            Browser::Firefox => "Firefox",
        }
    }

    /// Parses a command-line name (case-insensitive; a few common aliases are accepted).
    pub fn parse(text: &str) -> Result<Browser> {
        let lower = text.trim().to_ascii_lowercase();
        let browser = match lower.as_str() {
            "chrome" | "google-chrome" => Browser::Chrome,
            "chromium" | "chromium-browser" => Browser::Chromium,
            "edge" | "msedge" | "microsoft-edge" => Browser::Edge,
            "brave" | "brave-browser" => Browser::Brave,
            "vivaldi" => Browser::Vivaldi,
            "yandex" | "yandex-browser" => Browser::Yandex,
            "firefox" | "firefox-esr" => Browser::Firefox,
            _ => {
                return Err(AgentError::new(
                    ErrorCode::Config,
                    format!(
                        "unknown browser {text:?}: expected one of {}",
                        Browser::ALL.map(Browser::name).join(", ")
                    ),
                ))
            }
        };
        Ok(browser)
    }

    /// The manifest dialect.
    pub fn family(self) -> Family {
        match self {
            Browser::Firefox => Family::Firefox,
            _ => Family::Chromium,
        }
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// For one user (no privileges needed) or for every user of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The current user's browser profile directories (Windows: `HKCU`).
    User,
    /// System-wide locations (needs root; Windows: `HKLM`, needs an administrator).
    System,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::User => "user",
            Scope::System => "system",
        })
    }
}

/// The operating system whose directory layout to use (Windows uses the registry instead,
/// see [`registry_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Linux and other free Unixes (XDG layout).
    Linux,
    /// macOS.
    MacOs,
}

impl Os {
    /// The layout of the running system.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// The user's directories that manifest locations depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirs {
    /// `$HOME`.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` when set to an absolute path, else `$HOME/.config` (Linux only;
    /// Chromium-family browsers keep their profiles there).
    pub config: PathBuf,
}

impl UserDirs {
    /// The default layout for a home directory.
    pub fn under(home: &Path) -> UserDirs {
        UserDirs {
            home: home.to_path_buf(),
            config: home.join(".config"),
        }
    }

    /// From the environment: `$HOME` (or the password database) and `$XDG_CONFIG_HOME`.
    pub fn current() -> Result<UserDirs> {
        let home = directories::BaseDirs::new()
            .map(|d| d.home_dir().to_path_buf())
            .ok_or_else(|| {
                AgentError::new(ErrorCode::Config, "cannot determine the home directory")
            })?;
        let mut dirs = UserDirs::under(&home);
        if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
            if xdg.is_absolute() {
                dirs.config = xdg;
            }
        }
        Ok(dirs)
    }
}

/// The directory `browser` reads host manifests from, for `scope`, on `os`, for a user whose
/// home is `home` (with the default `~/.config`; see [`manifest_dir_in`] for `$XDG_CONFIG_HOME`).
pub fn manifest_dir(browser: Browser, scope: Scope, home: &Path, os: Os) -> PathBuf {
    manifest_dir_in(browser, scope, &UserDirs::under(home), os)
}

/// [`manifest_dir`] with explicit user directories.
pub fn manifest_dir_in(browser: Browser, scope: Scope, dirs: &UserDirs, os: Os) -> PathBuf {
    use Browser::*;
    match (os, scope) {
        (Os::Linux, Scope::User) => match browser {
            Chrome => dirs.config.join("google-chrome/NativeMessagingHosts"),
            Chromium => dirs.config.join("chromium/NativeMessagingHosts"),
            Edge => dirs.config.join("microsoft-edge/NativeMessagingHosts"),
            Brave => dirs
                .config
                .join("BraveSoftware/Brave-Browser/NativeMessagingHosts"),
            Vivaldi => dirs.config.join("vivaldi/NativeMessagingHosts"),
            Yandex => dirs.config.join("yandex-browser/NativeMessagingHosts"),
            Firefox => dirs.home.join(".mozilla/native-messaging-hosts"),
        },
        (Os::Linux, Scope::System) => PathBuf::from(match browser {
            // Brave and Vivaldi have no system directory of their own: they read Chrome's.
            Chrome | Brave | Vivaldi => "/etc/opt/chrome/native-messaging-hosts",
            Chromium => "/etc/chromium/native-messaging-hosts",
            Edge => "/etc/opt/edge/native-messaging-hosts",
            Yandex => "/etc/opt/yandex/browser/native-messaging-hosts",
            // Mozilla's and Debian's builds; RPM distributions build Firefox for /usr/lib64.
            Firefox => "/usr/lib/mozilla/native-messaging-hosts",
        }),
        (Os::MacOs, Scope::User) => {
            dirs.home
                .join("Library/Application Support")
                .join(match browser {
                    Chrome => "Google/Chrome/NativeMessagingHosts",
                    Chromium => "Chromium/NativeMessagingHosts",
                    Edge => "Microsoft Edge/NativeMessagingHosts",
                    Brave => "BraveSoftware/Brave-Browser/NativeMessagingHosts",
                    Vivaldi => "Vivaldi/NativeMessagingHosts",
                    Yandex => "Yandex/YandexBrowser/NativeMessagingHosts",
                    Firefox => "Mozilla/NativeMessagingHosts",
                })
        }
        (Os::MacOs, Scope::System) => PathBuf::from(match browser {
            Chrome | Brave | Vivaldi => "/Library/Google/Chrome/NativeMessagingHosts",
            Chromium => "/Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "/Library/Microsoft/Edge/NativeMessagingHosts",
            Yandex => "/Library/Yandex/YandexBrowser/NativeMessagingHosts",
            Firefox => "/Library/Application Support/Mozilla/NativeMessagingHosts",
        }),
    }
}

/// Windows: the registry key (under `HKCU` or `HKLM`) whose default value is the manifest path.
pub fn registry_key(browser: Browser, scope: Scope) -> String {
    let hive = match scope {
        Scope::User => "HKCU",
        Scope::System => "HKLM",
    };
    let vendor = match browser {
        Browser::Chrome => r"Google\Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => r"Microsoft\Edge",
        Browser::Brave => r"BraveSoftware\Brave-Browser",
        Browser::Vivaldi => "Vivaldi",
        Browser::Yandex => r"Yandex\YandexBrowser",
        Browser::Firefox => "Mozilla",
    };
    format!(r"{hive}\Software\{vendor}\NativeMessagingHosts\{HOST_NAME}")
}

/// Windows: the manifest file, next to the agent (one per dialect, since the browsers of a
/// dialect share it).
pub fn windows_manifest_path(agent_path: &Path, family: Family) -> PathBuf {
    let dir = agent_path.parent().unwrap_or(Path::new(""));
    dir.join(match family {
        Family::Chromium => "ru.tokenconfirm.agent.chromium.json",
        Family::Firefox => "ru.tokenconfirm.agent.firefox.json",
    })
}

/// The extensions a manifest lets start the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionIds {
    /// Chromium-family extension ids (32 letters a–p).
    pub chromium: Vec<String>,
    /// Firefox add-on ids.
    pub firefox: Vec<String>,
}

impl Default for ExtensionIds {
    /// The published extension's ids.
    fn default() -> Self {
        ExtensionIds {
            chromium: vec![CHROMIUM_EXTENSION_ID.into()],
            firefox: vec![FIREFOX_EXTENSION_ID.into()],
        }
    }
}

impl ExtensionIds {
    /// Ids from `--extension-id` arguments. Each is a Chromium id (also accepted as
    /// `chrome-extension://<id>/`) or a Firefox add-on id (`name@domain` or `{GUID}`); the ids
    /// given for a dialect replace its built-in id, a dialect with none keeps the built-in one.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<ExtensionIds> {
        let mut chromium = Vec::new();
        let mut firefox = Vec::new();
        for arg in args {
            let arg = arg.as_ref().trim();
            let bare = arg
                .strip_prefix("chrome-extension://")
                .map(|rest| rest.trim_end_matches('/'))
                .unwrap_or(arg);
            if is_chromium_id(bare) {
                push_unique(&mut chromium, bare);
            } else if !arg.starts_with("chrome-extension://") && is_firefox_id(arg) {
                push_unique(&mut firefox, arg);
            } else {
                return Err(AgentError::new(
                    ErrorCode::Config,
                    format!(
                        "{arg:?} is not an extension id (Chromium: 32 letters a-p; Firefox: name@domain or {{GUID}})"
                    ),
                ));
            }
        }
        let defaults = ExtensionIds::default();
        Ok(ExtensionIds {
            chromium: if chromium.is_empty() {
                defaults.chromium
            } else {
                chromium
            },
            firefox: if firefox.is_empty() {
                defaults.firefox
            } else {
                firefox
            },
        })
    }

    /// What the manifest of `family` lists: origins with the trailing slash Chromium requires,
    /// or add-on ids.
    pub fn allowed(&self, family: Family) -> Vec<String> {
        match family {
            Family::Chromium => self
                .chromium
                .iter()
                .map(|id| format!("chrome-extension://{id}/"))
                .collect(),
            Family::Firefox => self.firefox.clone(),
        }
    }
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

/// A Chromium extension id: 32 characters `a`–`p`.
pub fn is_chromium_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

/// A Firefox add-on id: `name@domain` (`[A-Za-z0-9._-]`) or a `{GUID}`.
pub fn is_firefox_id(s: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        let groups: Vec<&str> = inner.split('-').collect();
        return groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
    }
    match s.split_once('@') {
        Some((name, domain)) => {
            !domain.is_empty() && name.chars().all(plain) && domain.chars().all(plain)
        }
        None => false,
    }
}

#[derive(Serialize)]
struct HostManifest<'a> {
    name: &'a str,
    description: &'a str,
    path: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_extensions: Option<Vec<String>>,
}

/// The host manifest for `browser`: pretty JSON with members in the order `name`,
/// `description`, `path`, `type`, `allowed_origins` (Chromium family) or `allowed_extensions`
/// (Firefox), and a final newline. `agent_path` should be absolute and UTF-8 ([`install`]
/// checks both); other bytes would be replaced.
pub fn manifest_json(browser: Browser, agent_path: &Path, extension_ids: &ExtensionIds) -> String {
    let path = agent_path.to_string_lossy();
    let allowed = extension_ids.allowed(browser.family());
    let manifest = HostManifest {
        name: HOST_NAME,
        description: DESCRIPTION,
        path: &path,
        kind: "stdio",
        allowed_origins: (browser.family() == Family::Chromium).then(|| allowed.clone()),
        allowed_extensions: (browser.family() == Family::Firefox).then_some(allowed),
    };
    // Serializing a struct of strings cannot fail.
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    text
}

/// Where manifests are: the OS layout, the user's directories, and an optional root prefix.
#[derive(Debug, Clone)]
pub struct Locations {
    /// Directory layout.
    pub os: Os,
    /// The user's directories.
    pub dirs: UserDirs,
    /// Every location is placed under this directory (packaging, tests).
    pub root: Option<PathBuf>,
}

impl Locations {
    /// The running system's layout and the current user's directories.
    pub fn current(root: Option<PathBuf>) -> Result<Locations> {
        Ok(Locations {
            os: Os::current(),
            dirs: UserDirs::current()?,
            root,
        })
    }

    /// `path` under the root prefix, if there is one.
    pub fn rooted(&self, path: &Path) -> PathBuf {
        match &self.root {
            None => path.to_path_buf(),
            Some(root) => {
                let mut out = root.clone();
                for c in path.components() {
                    if let Component::Normal(part) = c {
                        out.push(part);
                    } else if c == Component::ParentDir {
                        out.push("..");
                    }
                }
                out
            }
        }
    }

    /// The directory `browser` reads for `scope` (under the root prefix).
    pub fn manifest_dir(&self, browser: Browser, scope: Scope) -> PathBuf {
        self.rooted(&manifest_dir_in(browser, scope, &self.dirs, self.os))
    }

    /// The manifest file `browser` reads for `scope` (under the root prefix).
    pub fn manifest_path(&self, browser: Browser, scope: Scope) -> PathBuf {
        self.manifest_dir(browser, scope).join(MANIFEST_FILE)
    }

    /// The browser's per-user configuration directory (the parent of its user manifest
    /// directory, e.g. `~/.config/google-chrome`, `~/.mozilla`): it exists once the browser
    /// has run for this user.
    pub fn profile_dir(&self, browser: Browser) -> PathBuf {
        let dir = self.manifest_dir(browser, Scope::User);
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    }

    /// The browsers other than `browser` that read the same `scope` location.
    pub fn sharing(&self, browser: Browser, scope: Scope) -> Vec<Browser> {
        let path = self.manifest_path(browser, scope);
        Browser::ALL
            .into_iter()
            .filter(|b| *b != browser && self.manifest_path(*b, scope) == path)
            .collect()
    }
}

/// Which browsers, which scope, where.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Layout, user directories, root prefix.
    pub locations: Locations,
    /// User or system-wide.
    pub scope: Scope,
    /// The browsers; empty means all.
    pub browsers: Vec<Browser>,
}

impl Selection {
    fn browsers(&self) -> Vec<Browser> {
        if self.browsers.is_empty() {
            Browser::ALL.to_vec()
        } else {
            Browser::ALL
                .into_iter()
                .filter(|b| self.browsers.contains(b))
                .collect()
        }
    }

    /// The selected browsers grouped by the manifest file they read, in display order.
    fn groups(&self) -> Vec<(PathBuf, Vec<Browser>)> {
        let mut groups: Vec<(PathBuf, Vec<Browser>)> = Vec::new();
        for b in self.browsers() {
            let path = self.locations.manifest_path(b, self.scope);
            match groups.iter_mut().find(|(p, _)| *p == path) {
                Some((_, list)) => list.push(b),
                None => groups.push((path, vec![b])),
            }
        }
        groups
    }

    /// Browsers outside the selection that read `path` too.
    fn others_reading(&self, path: &Path, selected: &[Browser]) -> Vec<Browser> {
        Browser::ALL
            .into_iter()
            .filter(|b| {
                !selected.contains(b) && self.locations.manifest_path(*b, self.scope) == path
            })
            .collect()
    }
}

/// What to install.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Browsers, scope, locations.
    pub selection: Selection,
    /// The absolute path of the agent the browsers will run.
    pub agent_path: PathBuf,
    /// The extensions allowed to start it.
    pub extension_ids: ExtensionIds,
}

/// What happened to one manifest (or, on Windows, one registry key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Written (new or changed).
    Installed,
    /// Already had exactly this content; not touched.
    UpToDate,
    /// Deleted.
    Removed,
    /// There was nothing to remove.
    NotInstalled,
    /// Left in place because another browser (not being uninstalled) reads it.
    Kept,
    /// Windows: registry key set.
    Registered,
    /// Windows: registry key deleted.
    Unregistered,
}

/// One line of the install/uninstall report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// What happened.
    pub kind: ActionKind,
    /// The manifest path (or registry key).
    pub location: String,
    /// The selected browsers it is for.
    pub browsers: Vec<Browser>,
    /// Other browsers that read the same location.
    pub shared_with: Vec<Browser>,
}

fn names(list: &[Browser]) -> String {
    list.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.kind {
            ActionKind::Installed => "installed",
            ActionKind::UpToDate => "up to date",
            ActionKind::Removed => "removed",
            ActionKind::NotInstalled => "not installed",
            ActionKind::Kept => "kept",
            ActionKind::Registered => "registered",
            ActionKind::Unregistered => "unregistered",
        };
        write!(f, "{verb} {} ({})", self.location, names(&self.browsers))?;
        if !self.shared_with.is_empty() {
            let how = if self.kind == ActionKind::Kept {
                "still read by"
            } else {
                "also read by"
            };
            write!(f, " [{how} {}]", names(&self.shared_with))?;
        }
        Ok(())
    }
}

/// The outcome of `install` / `uninstall`: what was done, and what failed (the other
/// manifests are still processed after a failure).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One entry per manifest location.
    pub actions: Vec<Action>,
    /// Failures, one per location that could not be handled.
    pub errors: Vec<AgentError>,
}

fn io_error(what: &str, path: &Path, e: &std::io::Error, scope: Scope) -> AgentError {
    let hint = if e.kind() == std::io::ErrorKind::PermissionDenied && scope == Scope::System {
        " (system-wide manifests need root: run it with sudo, or use --user)"
    } else {
        ""
    };
    AgentError::new(
        ErrorCode::Io,
        format!("{what} {}: {e}{hint}", path.display()),
    )
}

/// Checks the agent path that goes into manifests: absolute and UTF-8.
pub fn check_agent_path(path: &Path) -> Result<()> {
    if !path.is_absolute() {
        return Err(AgentError::new(
            ErrorCode::Config,
            format!(
                "agent path {} is not absolute (browsers require an absolute path)",
                path.display()
            ),
        ));
    }
    if path.to_str().is_none() {
        return Err(AgentError::new(
            ErrorCode::Config,
            format!("agent path {} is not valid UTF-8", path.display()),
        ));
    }
    Ok(())
}

/// Writes the manifests of `plan` (creating directories; a manifest that already has the
/// right content is left alone). Running it twice is harmless.
pub fn install(plan: &Plan) -> Result<Report> {
    check_agent_path(&plan.agent_path)?;
    if cfg!(windows) {
        return windows::install(plan);
    }
    let sel = &plan.selection;
    let mut report = Report::default();
    for (path, browsers) in sel.groups() {
        let content = manifest_json(browsers[0], &plan.agent_path, &plan.extension_ids);
        let shared_with = sel.others_reading(&path, &browsers);
        match write_if_changed(&path, &content, sel.scope) {
            Ok(changed) => report.actions.push(Action {
                kind: if changed {
                    ActionKind::Installed
                } else {
                    ActionKind::UpToDate
                },
                location: path.display().to_string(),
                browsers,
                shared_with,
            }),
            Err(e) => report.errors.push(e),
        }
    }
    Ok(report)
}

/// Removes the manifests of the selection. Only `ru.tokenconfirm.agent.json` is ever deleted
/// (other files and the directories stay); a location another browser still reads is kept.
/// Running it twice is harmless.
pub fn uninstall(selection: &Selection) -> Result<Report> {
    if cfg!(windows) {
        return windows::uninstall(selection);
    }
    let mut report = Report::default();
    for (path, browsers) in selection.groups() {
        let shared_with = selection.others_reading(&path, &browsers);
        let exists = path.symlink_metadata().is_ok();
        let kind = if !exists {
            ActionKind::NotInstalled
        } else if !shared_with.is_empty() {
            ActionKind::Kept
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => ActionKind::Removed,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => ActionKind::NotInstalled,
                Err(e) => {
                    report
                        .errors
                        .push(io_error("cannot remove", &path, &e, selection.scope));
                    continue;
                }
            }
        };
        report.actions.push(Action {
            kind,
            location: path.display().to_string(),
            browsers,
            shared_with,
        });
    }
    Ok(report)
}

/// Writes `content` to `path` atomically (temporary file + rename), readable by everyone,
/// unless the file already holds exactly that. Returns whether it wrote.
fn write_if_changed(path: &Path, content: &str, scope: Scope) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(false);
    }
    let dir = path
        .parent()
        .ok_or_else(|| AgentError::new(ErrorCode::Io, format!("{}: no parent", path.display())))?;
    create_dirs(dir).map_err(|e| io_error("cannot create", dir, &e, scope))?;
    let tmp = dir.join(format!(".{MANIFEST_FILE}.tmp"));
    let written = std::fs::write(&tmp, content)
        .and_then(|()| set_mode(&tmp, 0o644))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("cannot write", path, &e, scope));
    }
    Ok(true)
}

/// Creates `dir` and its missing parents, each readable and searchable by everyone (browsers
/// run as other users than a system-wide installer, whatever its umask).
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d);
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => set_mode(d, 0o755)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// The state of one installed manifest, worst problem first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestStatus {
    /// No manifest there.
    Missing,
    /// Not readable JSON, or not a usable host manifest (wrong `name` or `type`, relative or
    /// missing `path`, no list of allowed extensions).
    Unparsable {
        /// What is wrong.
        reason: String,
    },
    /// `path` names no executable file.
    AgentNotExecutable {
        /// The manifest's `path`.
        path: PathBuf,
    },
    /// The extension is not in `allowed_origins` / `allowed_extensions`.
    ExtensionNotAllowed {
        /// The entries that are missing.
        missing: Vec<String>,
    },
    /// A working manifest, but for another agent than the expected one.
    WrongAgentPath {
        /// The manifest's `path`.
        found: PathBuf,
        /// The agent it should name.
        expected: PathBuf,
    },
    /// Present and valid.
    Valid,
}

impl ManifestStatus {
    /// A stable short code: `missing`, `unparsable`, `agent-not-executable`,
    /// `extension-not-allowed`, `wrong-agent-path`, `valid`.
    pub fn code(&self) -> &'static str {
        match self {
            ManifestStatus::Missing => "missing",
            ManifestStatus::Unparsable { .. } => "unparsable",
            ManifestStatus::AgentNotExecutable { .. } => "agent-not-executable",
            ManifestStatus::ExtensionNotAllowed { .. } => "extension-not-allowed",
            ManifestStatus::WrongAgentPath { .. } => "wrong-agent-path",
            ManifestStatus::Valid => "valid",
        }
    }
}

impl fmt::Display for ManifestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestStatus::Missing => f.write_str("missing"),
            ManifestStatus::Unparsable { reason } => write!(f, "unusable ({reason})"),
            ManifestStatus::AgentNotExecutable { path } => {
                write!(f, "its agent {} is not an executable file", path.display())
            }
            ManifestStatus::ExtensionNotAllowed { missing } => {
                write!(f, "does not allow {}", missing.join(", "))
            }
            ManifestStatus::WrongAgentPath { found, expected } => write!(
                f,
                "starts {}, not this agent ({})",
                found.display(),
                expected.display()
            ),
            ManifestStatus::Valid => f.write_str("valid"),
        }
    }
}

/// What a manifest should say.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The agent it should start (compared after resolving symbolic links); `None` accepts
    /// any executable.
    pub agent_path: Option<PathBuf>,
    /// The extensions it must allow.
    pub extension_ids: ExtensionIds,
}

/// One manifest's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The browser.
    pub browser: Browser,
    /// User or system.
    pub scope: Scope,
    /// The manifest path (Windows: the registry key, and the file it names).
    pub location: String,
    /// The state.
    pub status: ManifestStatus,
}

/// Checks the manifest `browser` reads for `scope`.
pub fn check(browser: Browser, scope: Scope, locations: &Locations, expect: &Expect) -> Check {
    let (location, file) = if cfg!(windows) {
        let key = registry_key(browser, scope);
        match windows::registered_manifest(&key) {
            Some(file) => (format!("{key} = {}", file.display()), Some(file)),
            None => (key, None),
        }
    } else {
        let path = locations.manifest_path(browser, scope);
        (path.display().to_string(), Some(path))
    };
    let status = match file {
        Some(file) => check_file(browser, &file, expect),
        None => ManifestStatus::Missing,
    };
    Check {
        browser,
        scope,
        location,
        status,
    }
}

/// Checks one manifest file as `browser` would read it.
pub fn check_file(browser: Browser, file: &Path, expect: &Expect) -> ManifestStatus {
    let unparsable = |reason: String| ManifestStatus::Unparsable { reason };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return ManifestStatus::Missing,
        Err(e) => return unparsable(format!("cannot read: {e}")),
    };
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return unparsable(format!("not JSON: {e}")),
    };
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    if text("name") != Some(HOST_NAME) {
        return unparsable(format!("\"name\" is not {HOST_NAME:?}"));
    }
    if text("type") != Some("stdio") {
        return unparsable("\"type\" is not \"stdio\"".into());
    }
    let Some(agent) = text("path").map(PathBuf::from) else {
        return unparsable("no \"path\"".into());
    };
    if !agent.is_absolute() {
        return unparsable(format!("\"path\" {} is not absolute", agent.display()));
    }
    let list_key = match browser.family() {
        Family::Chromium => "allowed_origins",
        Family::Firefox => "allowed_extensions",
    };
    let Some(allowed) = value.get(list_key).and_then(serde_json::Value::as_array) else {
        return unparsable(format!("no {list_key:?} list"));
    };
    if !is_executable(&agent) {
        return ManifestStatus::AgentNotExecutable { path: agent };
    }
    let allowed: BTreeSet<&str> = allowed.iter().filter_map(|v| v.as_str()).collect();
    let missing: Vec<String> = expect
        .extension_ids
        .allowed(browser.family())
        .into_iter()
        .filter(|id| !allowed.contains(id.as_str()))
        .collect();
    if !missing.is_empty() {
        return ManifestStatus::ExtensionNotAllowed { missing };
    }
    if let Some(expected) = &expect.agent_path {
        let resolve = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        if resolve(&agent) != resolve(expected) {
            return ManifestStatus::WrongAgentPath {
                found: agent,
                expected: expected.clone(),
            };
        }
    }
    ManifestStatus::Valid
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Windows: manifests next to the agent, registered with `reg.exe`. Compiled everywhere (so it
/// is type-checked on Linux) but only called on Windows.
mod windows {
    use super::*;
    use std::process::Command;

    fn reg(args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new("reg.exe").args(args).output()
    }

    fn reg_error(what: &str, key: &str, out: &std::process::Output) -> AgentError {
        AgentError::new(
            ErrorCode::Io,
            format!(
                "reg.exe {what} {key}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
    }

    /// The default value of `key`, as `reg query` prints it: `    (Default)    REG_SZ    C:\…`
    /// (the `(Default)` label is localized, so the value is what follows `REG_SZ`).
    pub(super) fn parse_reg_query(output: &str) -> Option<PathBuf> {
        output
            .lines()
            .find_map(|line| line.split_once("REG_SZ").map(|(_, v)| v.trim()))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    pub(super) fn registered_manifest(key: &str) -> Option<PathBuf> {
        let out = reg(&["query", key, "/ve"]).ok()?;
        if !out.status.success() {
            return None;
        }
        parse_reg_query(&String::from_utf8_lossy(&out.stdout))
    }

    pub(super) fn install(plan: &Plan) -> Result<Report> {
        let sel = &plan.selection;
        if sel.locations.root.is_some() {
            return Err(AgentError::new(
                ErrorCode::Config,
                "--root is not supported on Windows (manifests are registered in the registry)",
            ));
        }
        let mut report = Report::default();
        for browser in sel.browsers() {
            let file = windows_manifest_path(&plan.agent_path, browser.family());
            let content = manifest_json(browser, &plan.agent_path, &plan.extension_ids);
            if let Err(e) = write_if_changed(&file, &content, sel.scope) {
                report.errors.push(e);
                continue;
            }
            let key = registry_key(browser, sel.scope);
            let Some(file_text) = file.to_str() else {
                report.errors.push(AgentError::new(
                    ErrorCode::Config,
                    format!("{} is not valid UTF-8", file.display()),
                ));
                continue;
            };
            match reg(&["add", &key, "/ve", "/t", "REG_SZ", "/d", file_text, "/f"]) {
                Ok(out) if out.status.success() => report.actions.push(Action {
                    kind: ActionKind::Registered,
                    location: format!("{key} = {file_text}"),
                    browsers: vec![browser],
                    shared_with: Vec::new(),
                }),
                Ok(out) => report.errors.push(reg_error("add", &key, &out)),
                Err(e) => report.errors.push(AgentError::new(
                    ErrorCode::Io,
                    format!("cannot run reg.exe: {e}"),
                )),
            }
        }
        Ok(report)
    }

    /// Deletes the registry keys; the manifest files next to the agent stay (they go with the
    /// program's directory).
    pub(super) fn uninstall(sel: &Selection) -> Result<Report> {
        let mut report = Report::default();
        for browser in sel.browsers() {
            let key = registry_key(browser, sel.scope);
            let kind = if registered_manifest(&key).is_none() {
                ActionKind::NotInstalled
            } else {
                match reg(&["delete", &key, "/f"]) {
                    Ok(out) if out.status.success() => ActionKind::Unregistered,
                    Ok(out) => {
                        report.errors.push(reg_error("delete", &key, &out));
                        continue;
                    }
                    Err(e) => {
                        report.errors.push(AgentError::new(
                            ErrorCode::Io,
                            format!("cannot run reg.exe: {e}"),
                        ));
                        continue;
                    }
                }
            };
            report.actions.push(Action {
                kind,
                location: key,
                browsers: vec![browser],
                shared_with: Vec::new(),
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(browser: Browser, path: &str) -> serde_json::Value {
        serde_json::from_str(&manifest_json(
            browser,
            Path::new(path),
            &ExtensionIds::default(),
        ))
        .unwrap()
    }

    #[test]
    fn chromium_family_manifest_lists_origins_with_trailing_slash() {
        for b in Browser::ALL
            .into_iter()
            .filter(|b| b.family() == Family::Chromium)
        {
            let v = json(b, "/usr/bin/tokenconfirm-agent");
            assert_eq!(v["name"], HOST_NAME);
            assert_eq!(v["type"], "stdio");
            assert_eq!(v["path"], "/usr/bin/tokenconfirm-agent");
            assert_eq!(
                v["allowed_origins"],
                serde_json::json!(["chrome-extension://plplfdjajnkgmphkhkbdchaaejgmhapa/"])
            );
            assert!(v.get("allowed_extensions").is_none());
        }
    }

    #[test]
    fn firefox_manifest_lists_addon_ids_not_origins() {
        let v = json(Browser::Firefox, "/opt/tc/tokenconfirm-agent");
        assert_eq!(
            v["allowed_extensions"],
            serde_json::json!(["tokenconfirm@tokenconfirm.ru"])
        );
        assert!(v.get("allowed_origins").is_none());
        assert_eq!(v["path"], "/opt/tc/tokenconfirm-agent");
    }

    #[test]
    fn manifest_text_is_stable_pretty_json() {
        let text = manifest_json(
            Browser::Chromium,
            Path::new("/usr/bin/tokenconfirm-agent"),
            &ExtensionIds::default(),
        );
        let expected = format!(
            "{{\n  \"name\": \"ru.tokenconfirm.agent\",\n  \"description\": \"{DESCRIPTION}\",\n  \"path\": \"/usr/bin/tokenconfirm-agent\",\n  \"type\": \"stdio\",\n  \"allowed_origins\": [\n    \"chrome-extension://plplfdjajnkgmphkhkbdchaaejgmhapa/\"\n  ]\n}}\n"
        );
        assert_eq!(text, expected);
        // Windows paths are escaped, not mangled.
        let v = json(
            Browser::Edge,
            r"C:\Program Files\tokenconfirm\tokenconfirm-agent.exe",
        );
        assert_eq!(
            v["path"],
            r"C:\Program Files\tokenconfirm\tokenconfirm-agent.exe"
        );
    }

    #[test]
    fn extension_id_arguments() {
        let ids = ExtensionIds::from_args(&[
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
            "ponmlkjihgfedcbaponmlkjihgfedcba",
            "abcdefghijklmnopabcdefghijklmnop",
        ])
        .unwrap();
        assert_eq!(
            ids.allowed(Family::Chromium),
            [
                "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
                "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/"
            ]
        );
        // No Firefox id given: the built-in one stays.
        assert_eq!(ids.firefox, [FIREFOX_EXTENSION_ID]);
        let ids =
            ExtensionIds::from_args(&["dev@example.org", "{01234567-89ab-cdef-0123-456789abcdef}"])
                .unwrap();
        assert_eq!(
            ids.firefox,
            ["dev@example.org", "{01234567-89ab-cdef-0123-456789abcdef}"]
        );
        assert_eq!(ids.chromium, [CHROMIUM_EXTENSION_ID]);
        for bad in [
            "",
            "short",
            "abcdefghijklmnopabcdefghijklmnoq",
            "chrome-extension://nope/",
            "a b@c",
            "x@",
            "{0123}",
        ] {
            let e = ExtensionIds::from_args(&[bad]).unwrap_err();
            assert_eq!(e.code, ErrorCode::Config, "{bad}");
        }
    }

    #[test]
    fn browser_names_round_trip() {
        for b in Browser::ALL {
            assert_eq!(Browser::parse(b.name()).unwrap(), b);
        }
        assert_eq!(Browser::parse("Google-Chrome").unwrap(), Browser::Chrome);
        assert_eq!(Browser::parse("firefox-esr").unwrap(), Browser::Firefox);
        assert_eq!(
            Browser::parse("netscape").unwrap_err().code,
            ErrorCode::Config
        );
    }

    #[test]
    fn linux_user_dirs() {
        let home = Path::new("/home/u");
        let dir = |b| manifest_dir(b, Scope::User, home, Os::Linux);
        assert_eq!(
            dir(Browser::Chrome),
            Path::new("/home/u/.config/google-chrome/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Chromium),
            Path::new("/home/u/.config/chromium/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Edge),
            Path::new("/home/u/.config/microsoft-edge/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Brave),
            Path::new("/home/u/.config/BraveSoftware/Brave-Browser/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Vivaldi),
            Path::new("/home/u/.config/vivaldi/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Yandex),
            Path::new("/home/u/.config/yandex-browser/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Firefox),
            Path::new("/home/u/.mozilla/native-messaging-hosts")
        );
    }

    #[test]
    fn linux_user_dirs_follow_xdg_config_home_except_firefox() {
        let dirs = UserDirs {
            home: "/home/u".into(),
            config: "/srv/cfg".into(),
        };
        assert_eq!(
            manifest_dir_in(Browser::Chrome, Scope::User, &dirs, Os::Linux),
            Path::new("/srv/cfg/google-chrome/NativeMessagingHosts")
        );
        assert_eq!(
            manifest_dir_in(Browser::Firefox, Scope::User, &dirs, Os::Linux),
            Path::new("/home/u/.mozilla/native-messaging-hosts")
        );
    }

    #[test]
    fn linux_system_dirs() {
        let dir = |b| manifest_dir(b, Scope::System, Path::new("/home/u"), Os::Linux);
        assert_eq!(
            dir(Browser::Chrome),
            Path::new("/etc/opt/chrome/native-messaging-hosts")
        );
        assert_eq!(
            dir(Browser::Chromium),
            Path::new("/etc/chromium/native-messaging-hosts")
        );
        assert_eq!(
            dir(Browser::Edge),
            Path::new("/etc/opt/edge/native-messaging-hosts")
        );
        assert_eq!(dir(Browser::Brave), dir(Browser::Chrome));
        assert_eq!(dir(Browser::Vivaldi), dir(Browser::Chrome));
        assert_eq!(
            dir(Browser::Yandex),
            Path::new("/etc/opt/yandex/browser/native-messaging-hosts")
        );
        assert_eq!(
            dir(Browser::Firefox),
            Path::new("/usr/lib/mozilla/native-messaging-hosts")
        );
    }

    #[test]
    fn macos_dirs() {
        let home = Path::new("/Users/u");
        let user = |b| manifest_dir(b, Scope::User, home, Os::MacOs);
        let system = |b| manifest_dir(b, Scope::System, home, Os::MacOs);
        let support = "/Users/u/Library/Application Support/";
        for (b, rel) in [
            (Browser::Chrome, "Google/Chrome/NativeMessagingHosts"),
            (Browser::Chromium, "Chromium/NativeMessagingHosts"),
            (Browser::Edge, "Microsoft Edge/NativeMessagingHosts"),
            (
                Browser::Brave,
                "BraveSoftware/Brave-Browser/NativeMessagingHosts",
            ),
            (Browser::Vivaldi, "Vivaldi/NativeMessagingHosts"),
            (Browser::Yandex, "Yandex/YandexBrowser/NativeMessagingHosts"),
            (Browser::Firefox, "Mozilla/NativeMessagingHosts"),
        ] {
            assert_eq!(user(b), PathBuf::from(format!("{support}{rel}")), "{b}");
        }
        assert_eq!(
            system(Browser::Chrome),
            Path::new("/Library/Google/Chrome/NativeMessagingHosts")
        );
        assert_eq!(
            system(Browser::Chromium),
            Path::new("/Library/Application Support/Chromium/NativeMessagingHosts")
        );
        assert_eq!(
            system(Browser::Edge),
            Path::new("/Library/Microsoft/Edge/NativeMessagingHosts")
        );
        assert_eq!(system(Browser::Brave), system(Browser::Chrome));
        assert_eq!(
            system(Browser::Firefox),
            Path::new("/Library/Application Support/Mozilla/NativeMessagingHosts")
        );
    }

    #[test]
    fn windows_registry_keys_and_files() {
        assert_eq!(
            registry_key(Browser::Chrome, Scope::User),
            r"HKCU\Software\Google\Chrome\NativeMessagingHosts\ru.tokenconfirm.agent"
        );
        assert_eq!(
            registry_key(Browser::Edge, Scope::System),
            r"HKLM\Software\Microsoft\Edge\NativeMessagingHosts\ru.tokenconfirm.agent"
        );
        assert_eq!(
            registry_key(Browser::Firefox, Scope::User),
            r"HKCU\Software\Mozilla\NativeMessagingHosts\ru.tokenconfirm.agent"
        );
        assert_eq!(
            registry_key(Browser::Yandex, Scope::User),
            r"HKCU\Software\Yandex\YandexBrowser\NativeMessagingHosts\ru.tokenconfirm.agent"
        );
        let keys: BTreeSet<String> = Browser::ALL
            .into_iter()
            .map(|b| registry_key(b, Scope::User))
            .collect();
        assert_eq!(keys.len(), Browser::ALL.len());
        assert_eq!(
            windows_manifest_path(Path::new("/opt/a/agent"), Family::Firefox),
            Path::new("/opt/a/ru.tokenconfirm.agent.firefox.json")
        );
        assert_eq!(
            windows::parse_reg_query(
                "\r\nHKEY_CURRENT_USER\\Software\\Google\\Chrome\\NativeMessagingHosts\\ru.tokenconfirm.agent\r\n    (По умолчанию)    REG_SZ    C:\\Program Files\\tc\\ru.tokenconfirm.agent.chromium.json\r\n\r\n"
            ),
            Some(PathBuf::from(
                r"C:\Program Files\tc\ru.tokenconfirm.agent.chromium.json"
            ))
        );
        assert_eq!(windows::parse_reg_query("ERROR: not found"), None);
    }

    #[test]
    fn root_prefix_applies_to_every_location() {
        let loc = Locations {
            os: Os::Linux,
            dirs: UserDirs::under(Path::new("/home/u")),
            root: Some("/stage".into()),
        };
        assert_eq!(
            loc.manifest_path(Browser::Chromium, Scope::System),
            Path::new("/stage/etc/chromium/native-messaging-hosts/ru.tokenconfirm.agent.json")
        );
        assert_eq!(
            loc.manifest_path(Browser::Firefox, Scope::User),
            Path::new("/stage/home/u/.mozilla/native-messaging-hosts/ru.tokenconfirm.agent.json")
        );
        assert_eq!(
            loc.profile_dir(Browser::Brave),
            Path::new("/stage/home/u/.config/BraveSoftware/Brave-Browser")
        );
        assert_eq!(
            loc.sharing(Browser::Brave, Scope::System),
            [Browser::Chrome, Browser::Vivaldi]
        );
        assert!(loc.sharing(Browser::Brave, Scope::User).is_empty());
    }

    fn temp_locations(dir: &Path) -> Locations {
        Locations {
            os: Os::Linux,
            dirs: UserDirs::under(&dir.join("home")),
            root: Some(dir.join("root")),
        }
    }

    fn agent_in(dir: &Path) -> PathBuf {
        let agent = dir.join("bin/tokenconfirm-agent");
        std::fs::create_dir_all(agent.parent().unwrap()).unwrap();
        std::fs::write(&agent, "#!/bin/sh\n").unwrap();
        set_mode(&agent, 0o755).unwrap();
        agent
    }

    #[test]
    fn install_is_idempotent_and_uninstall_keeps_shared_and_foreign_files() {
        let tmp = tempfile::tempdir().unwrap();
        let agent = agent_in(tmp.path());
        let selection = Selection {
            locations: temp_locations(tmp.path()),
            scope: Scope::System,
            browsers: Vec::new(),
        };
        let plan = Plan {
            selection: selection.clone(),
            agent_path: agent.clone(),
            extension_ids: ExtensionIds::default(),
        };
        let first = install(&plan).unwrap();
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        // Chrome, Brave and Vivaldi share one file: 5 locations for 7 browsers.
        assert_eq!(first.actions.len(), 5);
        assert!(first
            .actions
            .iter()
            .all(|a| a.kind == ActionKind::Installed));
        let chrome = selection
            .locations
            .manifest_path(Browser::Chrome, Scope::System);
        let shared = first
            .actions
            .iter()
            .find(|a| a.location == chrome.display().to_string())
            .unwrap();
        assert_eq!(
            shared.browsers,
            [Browser::Chrome, Browser::Brave, Browser::Vivaldi]
        );
        let second = install(&plan).unwrap();
        assert!(second
            .actions
            .iter()
            .all(|a| a.kind == ActionKind::UpToDate));

        let expect = Expect {
            agent_path: Some(agent.clone()),
            extension_ids: ExtensionIds::default(),
        };
        for b in Browser::ALL {
            let c = check(b, Scope::System, &selection.locations, &expect);
            assert_eq!(c.status, ManifestStatus::Valid, "{b}: {}", c.location);
            let c = check(b, Scope::User, &selection.locations, &expect);
            assert_eq!(c.status, ManifestStatus::Missing, "{b}");
        }

        // Uninstalling Brave alone keeps Chrome's file.
        let foreign = chrome.with_file_name("org.example.other.json");
        std::fs::write(&foreign, "{}").unwrap();
        let brave = Selection {
            browsers: vec![Browser::Brave],
            ..selection.clone()
        };
        let r = uninstall(&brave).unwrap();
        assert_eq!(r.actions.len(), 1);
        assert_eq!(r.actions[0].kind, ActionKind::Kept);
        assert_eq!(
            r.actions[0].shared_with,
            [Browser::Chrome, Browser::Vivaldi]
        );
        assert!(chrome.exists());

        let r = uninstall(&selection).unwrap();
        assert!(r.errors.is_empty());
        assert!(r.actions.iter().all(|a| a.kind == ActionKind::Removed));
        assert!(!chrome.exists());
        assert!(foreign.exists(), "a foreign file was removed");
        let r = uninstall(&selection).unwrap();
        assert!(r.actions.iter().all(|a| a.kind == ActionKind::NotInstalled));
    }

    #[test]
    fn install_rewrites_a_changed_manifest_and_rejects_relative_agent_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let agent = agent_in(tmp.path());
        let selection = Selection {
            locations: temp_locations(tmp.path()),
            scope: Scope::User,
            browsers: vec![Browser::Firefox],
        };
        let mut plan = Plan {
            selection: selection.clone(),
            agent_path: agent.clone(),
            extension_ids: ExtensionIds::default(),
        };
        install(&plan).unwrap();
        plan.extension_ids = ExtensionIds::from_args(&["dev@example.org"]).unwrap();
        let r = install(&plan).unwrap();
        assert_eq!(r.actions[0].kind, ActionKind::Installed);
        let path = selection
            .locations
            .manifest_path(Browser::Firefox, Scope::User);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            v["allowed_extensions"],
            serde_json::json!(["dev@example.org"])
        );

        plan.agent_path = PathBuf::from("bin/tokenconfirm-agent");
        assert_eq!(install(&plan).unwrap_err().code, ErrorCode::Config);
    }

    #[test]
    fn check_reports_each_problem() {
        let tmp = tempfile::tempdir().unwrap();
        let agent = agent_in(tmp.path());
        let file = tmp.path().join(MANIFEST_FILE);
        let expect = Expect {
            agent_path: Some(agent.clone()),
            extension_ids: ExtensionIds::default(),
        };
        let status = |b: Browser, text: &str| {
            std::fs::write(&file, text).unwrap();
            check_file(b, &file, &expect)
        };
        let good = manifest_json(Browser::Chrome, &agent, &ExtensionIds::default());
        assert_eq!(status(Browser::Chrome, &good), ManifestStatus::Valid);
        assert_eq!(
            check_file(Browser::Chrome, &tmp.path().join("none.json"), &expect),
            ManifestStatus::Missing
        );
        assert_eq!(status(Browser::Chrome, "{not json").code(), "unparsable");
        assert_eq!(
            status(Browser::Chrome, &good.replace(HOST_NAME, "ru.other")).code(),
            "unparsable"
        );
        let relative = good.replace(&agent.display().to_string(), "bin/agent");
        assert_eq!(status(Browser::Chrome, &relative).code(), "unparsable");
        // A Chromium manifest in Firefox's place has no allowed_extensions.
        assert_eq!(status(Browser::Firefox, &good).code(), "unparsable");
        let gone = good.replace(
            &agent.display().to_string(),
            &tmp.path().join("gone").display().to_string(),
        );
        assert!(matches!(
            status(Browser::Chrome, &gone),
            ManifestStatus::AgentNotExecutable { .. }
        ));
        set_mode(&agent, 0o644).unwrap();
        assert_eq!(
            status(Browser::Chrome, &good).code(),
            "agent-not-executable"
        );
        set_mode(&agent, 0o755).unwrap();
        let no_slash = good.replace("hapa/\"", "hapa\"");
        assert_eq!(
            status(Browser::Chrome, &no_slash),
            ManifestStatus::ExtensionNotAllowed {
                missing: vec!["chrome-extension://plplfdjajnkgmphkhkbdchaaejgmhapa/".into()]
            }
        );
        let other_agent = tmp.path().join("other-agent");
        std::fs::copy(&agent, &other_agent).unwrap();
        set_mode(&other_agent, 0o755).unwrap();
        let elsewhere = manifest_json(Browser::Chrome, &other_agent, &ExtensionIds::default());
        assert!(matches!(
            status(Browser::Chrome, &elsewhere),
            ManifestStatus::WrongAgentPath { .. }
        ));
        let any = Expect {
            agent_path: None,
            ..expect.clone()
        };
        assert_eq!(
            check_file(Browser::Chrome, &file, &any),
            ManifestStatus::Valid
        );
    }

    /// The Debian package ships `installers/debian/*`: they must be exactly what `install
    /// --system` writes for `/usr/bin/tokenconfirm-agent`, and the package must put them where
    /// `install --system` would.
    #[test]
    fn debian_package_manifests_match_the_installer() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let agent = Path::new("/usr/bin/tokenconfirm-agent");
        for (family, browser) in [
            ("chromium-family", Browser::Chromium),
            ("firefox", Browser::Firefox),
        ] {
            let file = repo.join(format!("installers/debian/{family}/{MANIFEST_FILE}"));
            let shipped = std::fs::read_to_string(&file).unwrap_or_default();
            let expected = manifest_json(browser, agent, &ExtensionIds::default());
            assert_eq!(
                shipped,
                expected,
                "{} differs from what the installer writes; regenerate it with\n  tokenconfirm-agent install --system --root STAGE_DIR --agent-path /usr/bin/tokenconfirm-agent",
                file.display()
            );
        }
        let cargo_toml = std::fs::read_to_string(repo.join("agent/Cargo.toml")).unwrap();
        let cargo: toml::Value = toml::from_str(&cargo_toml).unwrap();
        let assets = cargo["package"]["metadata"]["deb"]["assets"]
            .as_array()
            .unwrap();
        let dests: Vec<(String, String)> = assets
            .iter()
            .map(|a| {
                (
                    a[0].as_str().unwrap().to_owned(),
                    a[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for b in Browser::ALL {
            let dir = manifest_dir(b, Scope::System, Path::new("/root"), Os::Linux);
            let dest = format!("{}/{MANIFEST_FILE}", dir.display());
            let family = match b.family() {
                Family::Chromium => "chromium-family",
                Family::Firefox => "firefox",
            };
            let source = format!("../installers/debian/{family}/{MANIFEST_FILE}");
            assert!(
                dests
                    .iter()
                    .any(|(s, d)| *s == source && d.trim_start_matches('/') == dest.trim_start_matches('/')),
                "agent/Cargo.toml [package.metadata.deb] assets lack [{source:?}, {dest:?}] for {b}"
            );
        }
    }
}
