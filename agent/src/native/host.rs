//! The native-messaging request loop.
//!
//! One reader task parses frames; `hello` and `cancel` are answered at once; token and reader
//! work (`list-certificates`, `sign`, `wait-for-token`) runs on blocking workers, each raced
//! against its own cancellation, so `cancel` answers a pending request immediately even while a
//! PIN prompt, a token operation or a wait for a card is still in progress. The worker sees the
//! cancellation through a [`Cancel`]: a wait for a card is interrupted at once, a `sign` stops
//! at its next check. Replies go through one writer task, which enforces the 1 MiB reply cap.
//! Nothing but frames is ever written to the output.

use super::framing::{read_frame, write_frame, FrameError};
use crate::cancel::Cancel;
use crate::error::{AgentError, Result};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{
    CertificateList, Command, ErrorBody, HelloResult, Reply, Request, RequestId, SignParams,
    SignResult, WaitParams, WaitResult, MAX_FRAME_BYTES,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroize;

/// What the host needs from the token side. Blocking methods: they run on worker threads.
pub trait Backend: Send + Sync + 'static {
    /// Enumerates certificates.
    fn list_certificates(&self) -> Result<CertificateList>;
    /// Signs a statement; `cancelled` turns true when the extension cancels the request (the
    /// reply has then already been sent: stop before logging in or signing).
    fn sign(&self, params: SignParams, cancelled: &dyn Fn() -> bool) -> Result<SignResult>;
    /// Waits for a reader or card change (`wait-for-token`); `cancel` fires when the extension
    /// cancels the request (the reply has then already been sent). By default the real PC/SC
    /// readers.
    fn wait_for_token(&self, params: WaitParams, cancel: &Cancel) -> Result<WaitResult> {
        crate::readers::watch::wait_for_token(&crate::readers::watch::Pcsc, &params, cancel)
    }
    /// Capabilities advertised in `hello` beyond the commands themselves.
    fn capabilities(&self) -> Vec<String> {
        Vec::new()
    }
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostExit {
    /// The browser closed stdin between frames: normal end.
    Eof,
    /// Unrecoverable framing error (reported in a frame first): `truncated-frame` or
    /// `frame-too-large`.
    Protocol(ErrorCode),
    /// Reading stdin failed.
    Io,
}

impl HostExit {
    /// The process exit status for this end.
    pub fn exit_code(self) -> i32 {
        match self {
            HostExit::Eof => 0,
            HostExit::Protocol(_) => 3,
            HostExit::Io => 4,
        }
    }
}

/// The `hello` result for this build.
pub fn hello(backend: &dyn Backend) -> HelloResult {
    let mut capabilities: Vec<String> = tokenconfirm_wire::native::COMMANDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    capabilities.push("pin-in-request".into());
    capabilities.extend(backend.capabilities());
    HelloResult {
        agent: "tokenconfirm-agent".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: tokenconfirm_wire::PROTOCOL_VERSION,
        capabilities,
    }
}

type Pending = Arc<Mutex<HashMap<RequestId, oneshot::Sender<()>>>>;

fn lock(pending: &Pending) -> std::sync::MutexGuard<'_, HashMap<RequestId, oneshot::Sender<()>>> {
    pending
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Serializes a reply, replacing it with `reply-too-large` when it would exceed the cap.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let body = serde_json::to_vec(reply).unwrap_or_default();
    if body.len() <= MAX_FRAME_BYTES && !body.is_empty() {
        return body;
    }
    let detail = format!("{} bytes", body.len());
    let fallback = Reply::failure(
        reply.id.clone(),
        ErrorBody::new(ErrorCode::ReplyTooLarge, Some(&detail), None),
    );
    serde_json::to_vec(&fallback).unwrap_or_default()
}

/// Runs the loop until EOF or a framing error. Returns after pending requests were cancelled
/// and every reply that could be written was written.
pub async fn serve<R, W>(mut input: R, mut output: W, backend: Arc<dyn Backend>) -> HostExit
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Reply>(64);
    let writer = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            if let Err(e) = write_frame(&mut output, &encode_reply(&reply)).await {
                tracing::info!("output closed: {e}");
                break;
            }
        }
    });
    let pending: Pending = Arc::default();
    let signing = Arc::new(tokio::sync::Mutex::new(()));

    let exit = loop {
        let mut body = match read_frame(&mut input).await {
            Ok(body) => body,
            Err(FrameError::Eof) => break HostExit::Eof,
            Err(e @ FrameError::TooLarge(_)) => {
                break protocol_error(&tx, ErrorCode::FrameTooLarge, &e.to_string()).await
            }
            Err(e @ FrameError::Truncated { .. }) => {
                break protocol_error(&tx, ErrorCode::TruncatedFrame, &e.to_string()).await
            }
            Err(FrameError::Io(e)) => {
                tracing::error!("reading input failed: {e}");
                break HostExit::Io;
            }
        };
        let parsed = Request::parse(&body);
        body.zeroize();
        let request = match parsed {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(code = %e.code, "bad request: {}", e.detail);
                let _ = tx
                    .send(Reply::failure(
                        e.id,
                        ErrorBody::new(e.code, Some(&e.detail), None),
                    ))
                    .await;
                continue;
            }
        };
        let id = request.id.clone();
        tracing::debug!(%id, command = request.command.name(), "request");
        match request.command {
            Command::Hello { .. } => {
                let result = serde_json::to_value(hello(backend.as_ref())).unwrap_or_default();
                let _ = tx.send(Reply::success(id, result)).await;
            }
            Command::Cancel { target } => {
                let found = lock(&pending)
                    .remove(&target)
                    .map(|cancel| cancel.send(()).is_ok());
                let _ = tx
                    .send(Reply::success(
                        id,
                        json!({ "cancelled": found.unwrap_or(false) }),
                    ))
                    .await;
            }
            command => {
                let (cancel_tx, cancel_rx) = oneshot::channel();
                let duplicate = {
                    let mut map = lock(&pending);
                    let duplicate = map.contains_key(&id);
                    if !duplicate {
                        map.insert(id.clone(), cancel_tx);
                    }
                    duplicate
                };
                if duplicate {
                    let body = ErrorBody::new(ErrorCode::DuplicateId, Some(&id.to_string()), None);
                    let _ = tx.send(Reply::failure(Some(id), body)).await;
                    continue;
                }
                tokio::spawn(run_request(
                    id,
                    command,
                    cancel_rx,
                    backend.clone(),
                    signing.clone(),
                    pending.clone(),
                    tx.clone(),
                ));
            }
        }
    };

    // Cancel whatever is still pending: their tasks answer `cancelled` (if the output is still
    // open) and drop their senders; the writer then drains and stops.
    for (_, cancel) in lock(&pending).drain() {
        let _ = cancel.send(());
    }
    drop(tx);
    if tokio::time::timeout(std::time::Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        tracing::warn!("writer did not finish within 2 s");
    }
    exit
}

async fn protocol_error(tx: &mpsc::Sender<Reply>, code: ErrorCode, detail: &str) -> HostExit {
    tracing::error!(%code, "{detail}");
    let _ = tx
        .send(Reply::failure(
            None,
            ErrorBody::new(code, Some(detail), None),
        ))
        .await;
    HostExit::Protocol(code)
}

async fn run_request(
    id: RequestId,
    command: Command,
    cancelled: oneshot::Receiver<()>,
    backend: Arc<dyn Backend>,
    signing: Arc<tokio::sync::Mutex<()>>,
    pending: Pending,
    tx: mpsc::Sender<Reply>,
) {
    let cancel = Cancel::new();
    let worker_cancel = cancel.clone();
    let work = async move {
        let joined = match command {
            Command::ListCertificates {} => {
                tokio::task::spawn_blocking(move || {
                    backend.list_certificates().and_then(|r| to_value(&r))
                })
                .await
            }
            Command::Sign(params) => {
                // One signature at a time per process (login state is per token); the guard
                // lives as long as the blocking work, even if this request is cancelled.
                let guard = signing.lock_owned().await;
                tokio::task::spawn_blocking(move || {
                    let cancelled = || worker_cancel.is_cancelled();
                    let result = backend.sign(params, &cancelled).and_then(|r| to_value(&r));
                    drop(guard);
                    result
                })
                .await
            }
            Command::WaitForToken(params) => {
                tokio::task::spawn_blocking(move || {
                    backend
                        .wait_for_token(params, &worker_cancel)
                        .and_then(|r| to_value(&r))
                })
                .await
            }
            Command::Hello { .. } | Command::Cancel { .. } => {
                Ok(Err(AgentError::new(ErrorCode::Internal, "handled inline")))
            }
        };
        joined.unwrap_or_else(|e| {
            Err(AgentError::new(
                ErrorCode::Internal,
                format!("worker failed: {e}"),
            ))
        })
    };
    let outcome = tokio::select! {
        result = work => result,
        _ = cancelled => {
            cancel.cancel();
            Err(AgentError::new(ErrorCode::Cancelled, "cancelled by the extension"))
        }
    };
    lock(&pending).remove(&id);
    let reply = match outcome {
        Ok(value) => Reply::success(id, value),
        Err(e) => {
            tracing::info!(%id, code = %e.code, "request failed: {}", e.detail);
            Reply::failure(Some(id), e.to_body())
        }
    };
    let _ = tx.send(reply).await;
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| AgentError::new(ErrorCode::Internal, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use crate::readers::snapshot_of;
    use crate::readers::watch::{self, ReaderSource, Signal};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use tokenconfirm_wire::native::{CardState, ReaderInfo, ReadersSnapshot, ReadersState};

    /// Readers where a card can be inserted by the test (`inserted`).
    #[derive(Default)]
    struct FakeReaders {
        inserted: AtomicBool,
        /// `wait_for_token` calls that have started.
        waits_started: AtomicUsize,
        /// `wait_for_token` calls that have returned (the worker is not left blocked).
        waits_ended: AtomicUsize,
    }

    impl FakeReaders {
        fn readers(card: bool) -> ReadersSnapshot {
            snapshot_of(
                ReadersState::Ok,
                vec![ReaderInfo {
                    name: "Virtual PCD 00 00".into(),
                    card: if card {
                        CardState::Present
                    } else {
                        CardState::Empty
                    },
                    atr: card.then(|| "3B 8B 01".to_owned()),
                    product: None,
                    modules: vec![],
                    pin_pad: false,
                }],
            )
        }
    }

    impl ReaderSource for FakeReaders {
        fn snapshot(&self) -> ReadersSnapshot {
            Self::readers(self.inserted.load(Ordering::SeqCst))
        }
        fn wait_change(&self, fingerprint: &str, timeout: Duration, cancel: &Cancel) -> Signal {
            let deadline = std::time::Instant::now() + timeout;
            while std::time::Instant::now() < deadline {
                if self.snapshot().fingerprint != fingerprint {
                    return Signal::Changed;
                }
                if cancel.sleep(Duration::from_millis(10)) {
                    return Signal::Cancelled;
                }
            }
            Signal::Timeout
        }
    }

    /// A backend whose `sign` blocks until released, whose list can be made huge, and whose
    /// readers are [`FakeReaders`].
    struct Slow {
        release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
        huge: bool,
        readers: Arc<FakeReaders>,
    }

    impl Backend for Slow {
        fn list_certificates(&self) -> Result<CertificateList> {
            let problem = tokenconfirm_wire::native::Problem {
                source: "x".repeat(if self.huge { MAX_FRAME_BYTES } else { 1 }),
                code: ErrorCode::NoToken,
                detail: String::new(),
            };
            Ok(CertificateList {
                certificates: vec![],
                problems: vec![problem],
                ..Default::default()
            })
        }
        fn wait_for_token(&self, params: WaitParams, cancel: &Cancel) -> Result<WaitResult> {
            self.readers.waits_started.fetch_add(1, Ordering::SeqCst);
            let result = watch::wait_for_token(self.readers.as_ref(), &params, cancel);
            self.readers.waits_ended.fetch_add(1, Ordering::SeqCst);
            result
        }
        fn sign(&self, _: SignParams, cancelled: &dyn Fn() -> bool) -> Result<SignResult> {
            let rx = self.release.lock().unwrap();
            let _ = rx.recv_timeout(Duration::from_secs(10));
            if cancelled() {
                return Err(AgentError::new(
                    ErrorCode::Cancelled,
                    "saw the cancellation",
                ));
            }
            Err(AgentError::new(ErrorCode::SigningFailed, "released"))
        }
    }

    type Harness = (
        DuplexStream,
        DuplexStream,
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<HostExit>,
    );

    fn start(huge: bool) -> Harness {
        start_with(huge, Arc::default())
    }

    fn start_with(huge: bool, readers: Arc<FakeReaders>) -> Harness {
        let (release_tx, release_rx) = std::sync::mpsc::channel();
        let backend = Arc::new(Slow {
            release: std::sync::Mutex::new(release_rx),
            huge,
            readers,
        });
        let (client_in, host_in) = tokio::io::duplex(4 << 20);
        let (host_out, client_out) = tokio::io::duplex(4 << 20);
        let handle = tokio::spawn(serve(host_in, host_out, backend));
        (client_in, client_out, release_tx, handle)
    }

    async fn send(w: &mut DuplexStream, body: &str) {
        w.write_all(&(body.len() as u32).to_ne_bytes())
            .await
            .unwrap();
        w.write_all(body.as_bytes()).await.unwrap();
    }

    async fn recv(r: &mut DuplexStream) -> serde_json::Value {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        r.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn sign_request(id: &str) -> String {
        let challenge = r#"{"version":1,"nonce":"q2NuJ0mYq7yUz1v7Q8p9u1ZC9b1w8m0cY2hhbGxlbmdlLW5vbmNl","origin":"https://portal.example","account":"acct-42","purpose":"account-confirmation","issuedAt":"2026-11-22T09:00:00Z","expiresAt":"2026-11-22T09:05:00Z"}"#;
        format!(
            r#"{{"id":"{id}","command":"sign","origin":"https://portal.example","certificateId":"x","challenge":{challenge}}}"#
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_interrupts_a_pending_sign_and_hello_still_answers() {
        let (mut to_host, mut from_host, release, handle) = start(false);
        send(&mut to_host, &sign_request("s1")).await;
        send(&mut to_host, r#"{"id":"h","command":"hello"}"#).await;
        let hello = recv(&mut from_host).await;
        assert_eq!(hello["id"], "h");
        assert_eq!(hello["result"]["protocol"], 1);
        send(
            &mut to_host,
            r#"{"id":"c","command":"cancel","target":"s1"}"#,
        )
        .await;
        let mut replies = [recv(&mut from_host).await, recv(&mut from_host).await];
        replies.sort_by_key(|r| r["id"].as_str().unwrap_or_default().to_owned());
        assert_eq!(replies[0]["id"], "c");
        assert_eq!(replies[0]["result"]["cancelled"], true);
        assert_eq!(replies[1]["id"], "s1");
        assert_eq!(replies[1]["error"]["code"], "cancelled");
        release.send(()).unwrap();
        drop(to_host);
        assert_eq!(handle.await.unwrap(), HostExit::Eof);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicate_ids_and_bad_frames_get_error_replies() {
        let (mut to_host, mut from_host, release, handle) = start(false);
        send(&mut to_host, &sign_request("d")).await;
        send(&mut to_host, &sign_request("d")).await;
        let dup = recv(&mut from_host).await;
        assert_eq!(dup["error"]["code"], "duplicate-id");
        send(&mut to_host, "not json").await;
        assert_eq!(recv(&mut from_host).await["error"]["code"], "invalid-json");
        send(&mut to_host, r#"{"id":5,"command":"reboot"}"#).await;
        let unknown = recv(&mut from_host).await;
        assert_eq!(
            (unknown["id"].as_i64(), unknown["error"]["code"].as_str()),
            (Some(5), Some("unknown-command"))
        );
        release.send(()).unwrap();
        assert_eq!(
            recv(&mut from_host).await["error"]["code"],
            "signing-failed"
        );
        // EOF in the middle of a frame: an error frame, then the loop ends.
        to_host.write_all(&100u32.to_ne_bytes()).await.unwrap();
        to_host.write_all(b"{\"id\"").await.unwrap();
        drop(to_host);
        assert_eq!(
            recv(&mut from_host).await["error"]["code"],
            "truncated-frame"
        );
        assert_eq!(
            handle.await.unwrap(),
            HostExit::Protocol(ErrorCode::TruncatedFrame)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversize_replies_are_replaced() {
        let (mut to_host, mut from_host, _release, handle) = start(true);
        send(&mut to_host, r#"{"id":"l","command":"list-certificates"}"#).await;
        let reply = recv(&mut from_host).await;
        assert_eq!(reply["id"], "l");
        assert_eq!(reply["error"]["code"], "reply-too-large");
        drop(to_host);
        assert_eq!(handle.await.unwrap(), HostExit::Eof);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wait_for_token_answers_when_a_card_is_inserted() {
        let readers = Arc::new(FakeReaders::default());
        let (mut to_host, mut from_host, _release, handle) = start_with(false, readers.clone());
        send(&mut to_host, r#"{"id":"h","command":"hello"}"#).await;
        let hello = recv(&mut from_host).await;
        let caps = hello["result"]["capabilities"].as_array().unwrap();
        assert!(caps.iter().any(|c| c == "wait-for-token"), "{hello}");

        let since = FakeReaders::readers(false).fingerprint;
        send(
            &mut to_host,
            &format!(
                r#"{{"id":"w","command":"wait-for-token","timeoutMs":20000,"since":"{since}"}}"#
            ),
        )
        .await;
        // hello still answers while the wait is pending.
        send(&mut to_host, r#"{"id":"h2","command":"hello"}"#).await;
        assert_eq!(recv(&mut from_host).await["id"], "h2");
        tokio::time::sleep(Duration::from_millis(50)).await;
        readers.inserted.store(true, Ordering::SeqCst);
        let reply = recv(&mut from_host).await;
        assert_eq!(reply["id"], "w");
        assert_eq!(reply["result"]["event"], "changed", "{reply}");
        assert_eq!(reply["result"]["readers"]["readers"][0]["card"], "present");
        assert_ne!(reply["result"]["readers"]["fingerprint"], since.as_str());
        // Asked again with the old fingerprint: at once.
        send(
            &mut to_host,
            &format!(r#"{{"id":"w2","command":"wait-for-token","since":"{since}"}}"#),
        )
        .await;
        assert_eq!(recv(&mut from_host).await["result"]["event"], "changed");
        drop(to_host);
        assert_eq!(handle.await.unwrap(), HostExit::Eof);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wait_for_token_times_out_and_cancel_frees_the_worker() {
        let readers = Arc::new(FakeReaders::default());
        let (mut to_host, mut from_host, _release, handle) = start_with(false, readers.clone());
        send(
            &mut to_host,
            r#"{"id":1,"command":"wait-for-token","timeoutMs":50}"#,
        )
        .await;
        let reply = recv(&mut from_host).await;
        assert_eq!(reply["result"]["event"], "timeout", "{reply}");
        assert_eq!(reply["result"]["readers"]["state"], "ok");

        send(
            &mut to_host,
            r#"{"id":2,"command":"wait-for-token","timeoutMs":300000}"#,
        )
        .await;
        send(&mut to_host, r#"{"id":2,"command":"wait-for-token"}"#).await;
        assert_eq!(recv(&mut from_host).await["error"]["code"], "duplicate-id");
        until(&readers.waits_started, 2).await;
        send(&mut to_host, r#"{"id":3,"command":"cancel","target":2}"#).await;
        let mut replies = [recv(&mut from_host).await, recv(&mut from_host).await];
        replies.sort_by_key(|r| r["id"].as_i64());
        assert_eq!(replies[0]["error"]["code"], "cancelled");
        assert_eq!(replies[1]["result"]["cancelled"], true);
        // The blocking worker noticed too, long before its 5-minute timeout.
        until(&readers.waits_ended, 2).await;
        send(
            &mut to_host,
            r#"{"id":4,"command":"wait-for-token","timeoutMs":300001}"#,
        )
        .await;
        assert_eq!(
            recv(&mut from_host).await["error"]["code"],
            "invalid-request"
        );
        // End of input cancels a pending wait as well.
        send(
            &mut to_host,
            r#"{"id":5,"command":"wait-for-token","timeoutMs":300000}"#,
        )
        .await;
        until(&readers.waits_started, 3).await;
        drop(to_host);
        assert_eq!(recv(&mut from_host).await["error"]["code"], "cancelled");
        assert_eq!(handle.await.unwrap(), HostExit::Eof);
        until(&readers.waits_ended, 3).await;
    }

    /// Waits (at most 10 s) until `counter` reaches `n`.
    async fn until(counter: &AtomicUsize, n: usize) {
        let started = std::time::Instant::now();
        while counter.load(Ordering::SeqCst) < n {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "counter stuck below {n}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
