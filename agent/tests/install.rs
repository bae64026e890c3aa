//! `tokenconfirm-agent install` / `uninstall` / `doctor` as a user runs them: the real binary,
//! a throwaway HOME, and every manifest placed under a throwaway `--root`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BROWSERS: [&str; 7] = [
    "chrome", "chromium", "edge", "brave", "vivaldi", "yandex", "firefox",
];

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    config: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&home).unwrap();
    // No module discovery: doctor only has to look at the browser manifests here.
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "discover = false\n").unwrap();
    Env {
        _dir: dir,
        home,
        root,
        config,
    }
}

fn agent_exe() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_tokenconfirm-agent"))
        .canonicalize()
        .unwrap()
}

fn agent(e: &Env) -> Command {
    let mut cmd = Command::new(agent_exe());
    cmd.env("HOME", &e.home)
        .env_remove("XDG_CONFIG_HOME")
        .env("TOKENCONFIRM_CONFIG", &e.config)
        .env_remove("TOKENCONFIRM_LOG");
    cmd
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}\n{}",
        cmd,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The manifest path a stdout line of install/uninstall names.
fn line_paths(out: &Output) -> Vec<PathBuf> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let start = l.find('/').unwrap_or_else(|| panic!("no path in {l:?}"));
            let end = l.find(" (").unwrap_or(l.len());
            PathBuf::from(&l[start..end])
        })
        .collect()
}

fn install_all(e: &Env, extra: &[&str]) -> Output {
    let mut cmd = agent(e);
    cmd.arg("install").arg("--root").arg(&e.root);
    cmd.arg("--agent-path").arg(agent_exe());
    for b in BROWSERS {
        cmd.args(["--browser", b]);
    }
    cmd.args(extra);
    run(&mut cmd)
}

fn doctor(e: &Env) -> Vec<Value> {
    let out = agent(e)
        .args(["doctor", "--json", "--root"])
        .arg(&e.root)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    v.as_array().unwrap().clone()
}

fn browser_finding<'a>(findings: &'a [Value], browser: &str) -> Option<&'a Value> {
    findings.iter().find(|f| f["details"]["browser"] == browser)
}

#[test]
fn install_for_every_browser_then_doctor_then_uninstall() {
    let e = env();
    let out = install_all(&e, &[]);
    let paths = line_paths(&out);
    // One user manifest per browser: no two share a user directory.
    assert_eq!(paths.len(), BROWSERS.len(), "{}", text(&out.stdout));
    for (line, path) in text(&out.stdout).lines().zip(&paths) {
        assert!(line.starts_with("installed "), "{line}");
        assert!(
            path.starts_with(&e.root),
            "{} outside --root",
            path.display()
        );
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(v["name"], "ru.tokenconfirm.agent");
        assert_eq!(v["type"], "stdio");
        let agent_path = Path::new(v["path"].as_str().unwrap());
        assert!(agent_path.is_absolute());
        assert_eq!(agent_path, agent_exe());
        if path.to_string_lossy().contains("mozilla") {
            assert_eq!(
                v["allowed_extensions"],
                serde_json::json!(["tokenconfirm@tokenconfirm.ru"])
            );
            assert!(v.get("allowed_origins").is_none());
        } else {
            assert_eq!(
                v["allowed_origins"],
                serde_json::json!(["chrome-extension://plplfdjajnkgmphkhkbdchaaejgmhapa/"])
            );
        }
    }
    // The user locations are the browsers' own, under HOME, under --root.
    let home_in_root = e.root.join(e.home.strip_prefix("/").unwrap_or(&e.home));
    assert!(paths.contains(
        &home_in_root.join(".config/google-chrome/NativeMessagingHosts/ru.tokenconfirm.agent.json")
    ));
    assert!(paths.contains(
        &home_in_root.join(".mozilla/native-messaging-hosts/ru.tokenconfirm.agent.json")
    ));

    // Again: nothing to do.
    let again = install_all(&e, &[]);
    assert!(
        text(&again.stdout)
            .lines()
            .all(|l| l.starts_with("up to date ")),
        "{}",
        text(&again.stdout)
    );

    let findings = doctor(&e);
    for b in BROWSERS {
        let f = browser_finding(&findings, b)
            .unwrap_or_else(|| panic!("no finding for {b}: {findings:#?}"));
        assert_eq!(f["ok"], true, "{f:#}");
        assert_eq!(f["details"]["user"]["status"], "valid", "{f:#}");
        assert_eq!(f["details"]["system"]["status"], "missing", "{f:#}");
        assert_eq!(f["details"]["used"], "user", "{f:#}");
    }

    // A file of someone else's in a manifest directory survives uninstall.
    let chrome_dir = paths[0].parent().unwrap().to_path_buf();
    let foreign = chrome_dir.join("org.example.other.json");
    std::fs::write(&foreign, "{\"name\": \"org.example.other\"}\n").unwrap();
    let mut cmd = agent(&e);
    cmd.args(["uninstall", "--root"]).arg(&e.root);
    let out = run(&mut cmd);
    assert_eq!(line_paths(&out).len(), BROWSERS.len());
    assert!(text(&out.stdout).lines().all(|l| l.starts_with("removed ")));
    for p in &paths {
        assert!(!p.exists(), "{} still there", p.display());
    }
    assert!(foreign.exists(), "uninstall removed a foreign file");
    assert!(chrome_dir.is_dir());

    // Uninstalling again is harmless.
    let mut cmd = agent(&e);
    cmd.args(["uninstall", "--root"]).arg(&e.root);
    let out = run(&mut cmd);
    assert!(text(&out.stdout)
        .lines()
        .all(|l| l.starts_with("not installed ")));

    // The browser profiles still exist, so doctor now says what to do.
    let findings = doctor(&e);
    let f = browser_finding(&findings, "chrome").unwrap();
    assert_eq!(f["ok"], false);
    assert!(
        f["todo"]
            .as_str()
            .unwrap()
            .contains("tokenconfirm-agent install --browser chrome"),
        "{f:#}"
    );
}

#[test]
fn system_install_shares_chromes_directory_and_doctor_sees_it() {
    let e = env();
    let mut cmd = agent(&e);
    cmd.args(["install", "--system", "--root"])
        .arg(&e.root)
        .arg("--agent-path")
        .arg(agent_exe());
    let out = run(&mut cmd);
    let stdout = text(&out.stdout);
    // Chrome, Brave and Vivaldi share /etc/opt/chrome: 5 files for 7 browsers.
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
    let chrome = e
        .root
        .join("etc/opt/chrome/native-messaging-hosts/ru.tokenconfirm.agent.json");
    assert!(
        stdout.contains(&format!(
            "installed {} (chrome, brave, vivaldi)",
            chrome.display()
        )),
        "{stdout}"
    );
    for p in [
        "etc/chromium/native-messaging-hosts",
        "etc/opt/edge/native-messaging-hosts",
        "etc/opt/yandex/browser/native-messaging-hosts",
        "usr/lib/mozilla/native-messaging-hosts",
    ] {
        assert!(
            e.root.join(p).join("ru.tokenconfirm.agent.json").is_file(),
            "{p}"
        );
    }

    // Without a profile directory a browser is reported only because of its manifest.
    let findings = doctor(&e);
    let f = browser_finding(&findings, "brave").unwrap();
    assert_eq!(f["ok"], true, "{f:#}");
    assert_eq!(f["details"]["used"], "system");

    // A broken user manifest hides the system one from Chromium-family browsers...
    let user_dir = e.root.join(
        e.home
            .strip_prefix("/")
            .unwrap()
            .join(".config/chromium/NativeMessagingHosts"),
    );
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::write(user_dir.join("ru.tokenconfirm.agent.json"), "{oops").unwrap();
    // ...but not from Firefox, which skips manifests it cannot use.
    let ff_dir = e.root.join(
        e.home
            .strip_prefix("/")
            .unwrap()
            .join(".mozilla/native-messaging-hosts"),
    );
    std::fs::create_dir_all(&ff_dir).unwrap();
    std::fs::write(ff_dir.join("ru.tokenconfirm.agent.json"), "{oops").unwrap();
    let findings = doctor(&e);
    let f = browser_finding(&findings, "chromium").unwrap();
    assert_eq!(f["ok"], false, "{f:#}");
    assert_eq!(f["details"]["user"]["status"], "unparsable");
    assert_eq!(f["details"]["used"], "user");
    let f = browser_finding(&findings, "firefox").unwrap();
    assert_eq!(f["ok"], true, "{f:#}");
    assert_eq!(f["details"]["used"], "system");

    // Uninstalling Vivaldi alone must not take Chrome's (and Brave's) manifest away.
    let mut cmd = agent(&e);
    cmd.args(["uninstall", "--system", "--browser", "vivaldi", "--root"])
        .arg(&e.root);
    let out = run(&mut cmd);
    assert!(
        text(&out.stdout).starts_with("kept "),
        "{}",
        text(&out.stdout)
    );
    assert!(chrome.is_file());
}

#[test]
fn custom_extension_ids_and_doctor_flags_the_missing_builtin_one() {
    let e = env();
    install_all(
        &e,
        &[
            "--extension-id",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
        ],
    );
    let chrome = e.root.join(
        e.home
            .strip_prefix("/")
            .unwrap()
            .join(".config/google-chrome/NativeMessagingHosts/ru.tokenconfirm.agent.json"),
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&chrome).unwrap()).unwrap();
    assert_eq!(
        v["allowed_origins"],
        serde_json::json!(["chrome-extension://abcdefghijklmnopabcdefghijklmnop/"])
    );
    let findings = doctor(&e);
    let f = browser_finding(&findings, "chrome").unwrap();
    assert_eq!(f["details"]["user"]["status"], "extension-not-allowed");
    assert_eq!(f["ok"], false);
    // Firefox kept its built-in id.
    let f = browser_finding(&findings, "firefox").unwrap();
    assert_eq!(f["ok"], true, "{f:#}");
}

#[test]
fn usage_errors_exit_2() {
    let e = env();
    for args in [
        &["install", "--browser", "netscape"][..],
        &["uninstall", "--browser", "netscape"],
        &["install", "--user", "--system"],
        &["install", "--agent-path", "relative/agent"],
        &["install", "--extension-id", "not-an-id"],
    ] {
        let out = agent(&e)
            .args(args)
            .arg("--root")
            .arg(&e.root)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(!e.root.exists(), "a failed install wrote something");
}

#[test]
fn a_browser_launch_is_still_recognized_before_the_subcommands() {
    // Firefox starts the host with the manifest path and the add-on id; that must reach the
    // native-messaging host (which answers a hello), not the CLI parser.
    use std::io::Write;
    let e = env();
    let mut child = agent(&e)
        .args([
            "/usr/lib/mozilla/native-messaging-hosts/ru.tokenconfirm.agent.json",
            "tokenconfirm@tokenconfirm.ru",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let body = br#"{"id":1,"command":"hello"}"#;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&(body.len() as u32).to_ne_bytes()).unwrap();
    stdin.write_all(body).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.stdout.len() > 4, "{}", text(&out.stderr));
    let reply: Value = serde_json::from_slice(&out.stdout[4..]).unwrap();
    assert_eq!(reply["id"], 1, "{reply}");
}
