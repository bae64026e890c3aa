//! Native-host figures from issue #2, measured as a browser would see them:
//!
//! 1. process start → `hello` reply (spawn included), median over many launches;
//! 2. host loop overhead per message (no token work): in-process over in-memory pipes, and
//!    through the real process over OS pipes;
//! 3. idle RSS of the host process in native-messaging mode after `hello`.
//!
//! Run: `cargo bench -p tokenconfirm-agent --bench native_host`. Prints a table; writes
//! nothing else. No timing assertion: figures are reported in docs/benchmarks.md.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokenconfirm_agent::error::Result;
use tokenconfirm_agent::native::host::{serve, Backend};
use tokenconfirm_wire::native::{CertificateList, SignParams, SignResult};

const AGENT: &str = env!("CARGO_BIN_EXE_tokenconfirm-agent");
const HELLO: &[u8] = br#"{"id":1,"command":"hello"}"#;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_ne_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn read_frame(r: &mut impl Read) -> Vec<u8> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).expect("length");
    let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
    r.read_exact(&mut body).expect("body");
    body
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(0.99))
}

/// An empty config so no module discovery happens: we measure the host, not the tokens.
fn empty_config() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("config");
    writeln!(f, "discover = false").expect("write");
    f
}

fn spawn_host(config: &std::path::Path) -> std::process::Child {
    Command::new(AGENT)
        .arg("chrome-extension://kgnbgkhkpnbnfhcnnmiegdekmgjbhdcg/")
        .env("TOKENCONFIRM_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn agent")
}

fn start_to_hello(runs: usize) -> Vec<Duration> {
    let config = empty_config();
    let hello = frame(HELLO);
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            let mut child = spawn_host(config.path());
            let mut stdin = child.stdin.take().expect("stdin");
            let mut stdout = child.stdout.take().expect("stdout");
            stdin.write_all(&hello).expect("write");
            let reply = read_frame(&mut stdout);
            let elapsed = t0.elapsed();
            assert!(reply.starts_with(br#"{"id":1,"ok":true"#));
            drop(stdin);
            child.wait().expect("wait");
            elapsed
        })
        .collect()
}

fn process_round_trips(messages: usize) -> (Vec<Duration>, u64, u64) {
    let config = empty_config();
    let mut child = spawn_host(config.path());
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let hello = frame(HELLO);
    let mut samples = Vec::with_capacity(messages);
    for _ in 0..messages {
        let t0 = Instant::now();
        stdin.write_all(&hello).expect("write");
        read_frame(&mut stdout);
        samples.push(t0.elapsed());
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (rss, hwm) = (kb("VmRSS:"), kb("VmHWM:"));
    drop(stdin);
    child.wait().expect("wait");
    (samples, rss, hwm)
}

struct Empty;

impl Backend for Empty {
    fn list_certificates(&self) -> Result<CertificateList> {
        Ok(CertificateList::default())
    }
    fn sign(&self, _: SignParams, _: &dyn Fn() -> bool) -> Result<SignResult> {
        Err(tokenconfirm_agent::error::AgentError::new(
            tokenconfirm_wire::error::ErrorCode::Internal,
            "bench",
        ))
    }
}

/// Sequential request → reply round trips through `serve` over in-memory pipes, on the same
/// current-thread runtime the binary uses.
fn in_process(messages: usize, body: &'static [u8]) -> Vec<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (mut to_host, host_in) = tokio::io::duplex(1 << 16);
        let (host_out, mut from_host) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(serve(host_in, host_out, Arc::new(Empty)));
        let request = frame(body);
        let mut samples = Vec::with_capacity(messages);
        let mut len = [0u8; 4];
        let mut buf = vec![0u8; 4096];
        for _ in 0..messages {
            let t0 = Instant::now();
            to_host.write_all(&request).await.expect("write");
            from_host.read_exact(&mut len).await.expect("len");
            let n = u32::from_ne_bytes(len) as usize;
            from_host.read_exact(&mut buf[..n]).await.expect("body");
            samples.push(t0.elapsed());
        }
        drop(to_host);
        let _ = server.await;
        samples
    })
}

fn show(name: &str, samples: Vec<Duration>, target: &str) {
    let n = samples.len();
    let (p50, p90, p99) = stats(samples);
    println!("{name:<52} n={n:<6} median {p50:>10.2?}  p90 {p90:>10.2?}  p99 {p99:>10.2?}   target {target}");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing special: keep it quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (launches, messages) = if quick { (5, 200) } else { (300, 20_000) };
    println!("tokenconfirm-agent native host ({AGENT})");
    // Warm the page cache for the binary first.
    let _ = start_to_hello(3);
    show(
        "process start -> hello reply (spawn included)",
        start_to_hello(launches),
        "<= 5 ms median",
    );
    show(
        "loop overhead: hello, in-process pipes",
        in_process(messages, HELLO),
        "<= 100 us",
    );
    show(
        "loop overhead: list-certificates (worker), in-process",
        in_process(messages, br#"{"id":"l","command":"list-certificates"}"#),
        "<= 100 us",
    );
    let (samples, rss, hwm) = process_round_trips(messages);
    show(
        "round trip: hello through the process over OS pipes",
        samples,
        "<= 100 us",
    );
    println!(
        "idle RSS after {messages} hellos: {:.1} MB (peak {:.1} MB)   target <= 10 MB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
