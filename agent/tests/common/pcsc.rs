//! Test support for real PC/SC: a private pcscd (tests/pcsc/pcscd-private.sh) with vpcd virtual
//! readers, and the virtual OpenPGP card (tests/vcard, opcard on trussed) attached to them.
//!
//! Every child process is owned by a guard that stops it by PID in `Drop` (SIGTERM, then
//! SIGKILL), panicking tests included; pcscd also runs with `--auto-exit` so that even a test
//! process killed with SIGKILL leaves nothing running for long (the card exits when its
//! reader's connection closes).
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// `CI` set to anything but empty/`false`/`0`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Writes to stderr past the test harness's output capture (which only catches `eprintln!`),
/// for what must show in every run: skips and measured latencies.
pub fn loud(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Where the pieces are.
pub struct Components {
    pub pcscd: PathBuf,
    pub vpcd_driver: PathBuf,
    pub opensc: PathBuf,
    pub vcard: PathBuf,
}

fn find_first(candidates: &[PathBuf]) -> Option<PathBuf> {
    candidates.iter().find(|p| p.is_file()).cloned()
}

/// `/usr/lib/<multiarch triplet>/<file>` for every triplet directory present.
fn multiarch(file: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-linux-gnu"))
        .map(|e| e.path().join(file))
        .collect()
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

/// The components, once per test binary. `None` (after a loud message) when pcscd or vpcd is
/// not installed and CI is not set; under CI anything missing fails the test.
pub fn components() -> Option<&'static Components> {
    static C: OnceLock<Option<Components>> = OnceLock::new();
    C.get_or_init(|| {
        let pcscd = find_first(&paths(&[
            "/usr/sbin/pcscd",
            "/usr/local/sbin/pcscd",
            "/sbin/pcscd",
        ]));
        let vpcd = find_first(&paths(&[
            "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
            "/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
            "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
        ]));
        let (Some(pcscd), Some(vpcd_driver)) = (pcscd, vpcd) else {
            let msg = "pcscd and/or vsmartcard-vpcd are not installed (Debian: apt-get install pcscd vsmartcard-vpcd, or run scripts/test.sh which installs them)";
            if in_ci() {
                panic!("CI is set and the PC/SC test components are missing: {msg}");
            }
            loud(&format!(
                "\n!!!!!!!! SKIPPED: virtual-card PC/SC tests: {msg} !!!!!!!!\n"
            ));
            return None;
        };
        let mut candidates = multiarch("opensc-pkcs11.so");
        candidates.extend(paths(&[
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        ]));
        let opensc = find_first(&candidates)
        .expect("OpenSC's opensc-pkcs11.so not found (Debian: apt-get install opensc-pkcs11)");
        Some(Components {
            pcscd,
            vpcd_driver,
            opensc,
            vcard: vcard_binary(),
        })
    })
    .as_ref()
}

/// `$TOKENCONFIRM_VCARD`, or what tests/pcsc/build-vcard.sh builds (cached).
fn vcard_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOKENCONFIRM_VCARD").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "TOKENCONFIRM_VCARD={} does not exist",
            p.display()
        );
        return p;
    }
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(repo_root().join("tests/pcsc/build-vcard.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/pcsc/build-vcard.sh");
    assert!(
        out.status.success(),
        "tests/pcsc/build-vcard.sh failed (see its output above)"
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    eprintln!(
        "virtual card: {} ({:.1} s to get it)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    path
}

/// A port P with P and P+1 free (vpcd listens on CHANNELID + slot for its two slots), below
/// Linux's ephemeral range so outgoing connections do not take it meanwhile.
fn free_port_pair() -> u16 {
    // Pairs 20000/20001 … 31998/31999, walked from a per-process starting point.
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id() % 6000,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let free = |port: u16| std::net::TcpListener::bind(("0.0.0.0", port)).is_ok();
    for _ in 0..6000 {
        let p = 20000 + (NEXT.fetch_add(1, Ordering::SeqCst) % 6000) as u16 * 2;
        if free(p) && free(p + 1) {
            return p;
        }
    }
    panic!("no free port pair for vpcd in 20000-31999");
}

/// Asks a process to stop (SIGTERM), waits up to `grace`, then kills it. By PID only.
fn stop(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().ok()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A private pcscd. Its readers come from its own reader.conf.d; clients find it through
/// `PCSCLITE_CSOCK_NAME` (see [`Pcscd::env`]).
pub struct Pcscd {
    child: Child,
    pub dir: tempfile::TempDir,
    /// vpcd's port (slot 0; slot 1 is port + 1), when readers were configured.
    pub port: Option<u16>,
}

impl Pcscd {
    /// Starts pcscd with the two vpcd readers (`with_vpcd`) or none at all.
    pub fn start(c: &Components, with_vpcd: bool) -> Pcscd {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("reader.conf.d");
        std::fs::create_dir(&conf).unwrap();
        let port = with_vpcd.then(free_port_pair);
        if let Some(port) = port {
            std::fs::write(
                conf.join("vpcd"),
                format!(
                    "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x{port:04X}\nLIBPATH      {}\nCHANNELID    0x{port:04X}\n",
                    c.vpcd_driver.display()
                ),
            )
            .unwrap();
        }
        // Socket activation: we own the socket, pcscd gets it as stdin (the script moves it to
        // fd 3) and never touches /run/pcscd/pcscd.comm.
        let listener = UnixListener::bind(dir.path().join("pcscd.comm")).expect("bind socket");
        let log = File::create(dir.path().join("pcscd.log")).unwrap();
        let child = Command::new("bash")
            .arg(repo_root().join("tests/pcsc/pcscd-private.sh"))
            .arg(dir.path())
            .env("PCSCD", &c.pcscd)
            .env("PCSCD_ARGS", "--info --auto-exit")
            .stdin(Stdio::from(OwnedFd::from(listener)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pcscd-private.sh");
        let mut pcscd = Pcscd { child, dir, port };
        pcscd.wait_log(Duration::from_secs(10), |log| log.contains("daemon ready"));
        pcscd
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("pcscd.comm")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("pcscd.log")
    }

    /// Points a client process at this pcscd.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("PCSCLITE_CSOCK_NAME", self.socket())
    }

    /// `tokenconfirm-agent readers --json [args]`: exit code and the JSON.
    pub fn readers(&self, args: &[&str]) -> (Option<i32>, serde_json::Value) {
        let out = self.agent_readers(args);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "readers output is not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), v)
    }

    pub fn agent_readers(&self, args: &[&str]) -> Output {
        self.env(&mut Command::new(env!("CARGO_BIN_EXE_tokenconfirm-agent")))
            .args(["readers", "--json"])
            .args(args)
            .env_remove("TOKENCONFIRM_LOG")
            .output()
            .expect("run tokenconfirm-agent readers")
    }

    /// Waits until pcscd's log satisfies `ready`; panics with the log after `timeout` or when
    /// pcscd exits.
    fn wait_log(&mut self, timeout: Duration, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            if ready(&log) {
                return;
            }
            let exited = self.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "pcscd not ready (exit: {exited:?}) after {timeout:?}; log:\n{}",
                tail(&self.log(), 40)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// pcscd's own view of the first vpcd reader, from its event thread's log lines (`--info`):
    /// whether the last event was an insertion. Waiting on this rather than on a client's view
    /// matters: a client that connects to the reader early makes vpcd take the card before
    /// pcscd's poll has seen it, and the insertion event that follows (up to a poll interval
    /// later) resets OpenSC's state in the middle of whatever runs then.
    fn card_seen(&self) -> bool {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        log.lines()
            .rev()
            .find_map(|l| {
                if l.contains("Card inserted into Virtual PCD 00 00") {
                    Some(true)
                } else if l.contains("Card Removed From Virtual PCD 00 00") {
                    Some(false)
                } else {
                    None
                }
            })
            .unwrap_or(false)
    }

    /// Waits until pcscd has seen the card in the first reader arrive (`present`) or leave.
    pub fn wait_card(&self, present: bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.card_seen() != present {
            assert!(
                Instant::now() < deadline,
                "pcscd did not see the card {} within 10 s; log:\n{}",
                if present { "inserted" } else { "removed" },
                tail(&self.log(), 40)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        let status = stop(&mut self.child, Duration::from_secs(3));
        if std::thread::panicking() {
            eprintln!(
                "pcscd ({status:?}) log, last lines:\n{}",
                tail(&self.log(), 60)
            );
        }
    }
}

/// The virtual card: running = inserted in vpcd slot 0 of `port`, stopped = removed. Its flash
/// lives in `state` and survives removal.
pub struct VirtualCard {
    bin: PathBuf,
    pub state: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl VirtualCard {
    pub fn new(c: &Components, state: &Path, port: u16) -> VirtualCard {
        VirtualCard {
            bin: c.vcard.clone(),
            state: state.to_path_buf(),
            port,
            log: state.with_extension("log"),
            child: None,
        }
    }

    /// Starts the card process (extra arguments: `--die-on-ins 88`, …).
    pub fn insert_with(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "card already inserted");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("--state")
            .arg(&self.state)
            .args(["--port", &self.port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start tokenconfirm-vcard");
        self.child = Some(child);
    }

    pub fn insert(&mut self) {
        self.insert_with(&[]);
    }

    /// Pulls the card out (SIGTERM: the process closes its connection and exits).
    pub fn remove(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        stop(&mut child, Duration::from_secs(3))
    }

    /// Waits for the card process to end by itself (e.g. `--die-on-ins`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Some(status);
                }
            } else {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 30)
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        let status = self.remove();
        if std::thread::panicking() {
            eprintln!(
                "virtual card ({status:?}) log, last lines:\n{}",
                self.log_tail()
            );
        }
    }
}

/// Copies a card's flash (a directory of image files) so a test can use its own card.
pub fn copy_card(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
