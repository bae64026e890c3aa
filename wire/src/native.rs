//! Native-messaging messages between the extension and the agent (`docs/protocol.md`).
//!
//! Framing (4-byte native-endian length + UTF-8 JSON) lives in the agent; this module defines
//! what the JSON says. Requests are parsed in two steps so that a reply can always echo the
//! request's `id`, even when the rest of the request is unusable.

use crate::challenge::Challenge;
use crate::error::ErrorCode;
use crate::origin::Origin;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use zeroize::Zeroizing;

/// Largest frame either side may send, in bytes (Chrome's limit for host → browser messages).
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// Longest accepted string request id.
pub const MAX_ID_CHARS: usize = 64;

/// A request id: a short string or an integer, echoed in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// Integer id.
    Number(i64),
    /// String id of at most [`MAX_ID_CHARS`] characters.
    Text(String),
}

impl RequestId {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_i64().map(RequestId::Number),
            Value::String(s) if !s.is_empty() && s.chars().count() <= MAX_ID_CHARS => {
                Some(RequestId::Text(s.clone()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::Text(s) => f.write_str(s),
        }
    }
}

/// A PIN in transit. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct PinText(Zeroizing<String>);

impl<'de> Deserialize<'de> for PinText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(PinText::new)
    }
}

impl PinText {
    /// Wraps a PIN.
    pub fn new(pin: String) -> Self {
        PinText(Zeroizing::new(pin))
    }

    /// The PIN, for handing to the token.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PinText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinText(<redacted>)")
    }
}

/// Language for messages shown by the agent itself (pinentry dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Russian (default).
    #[default]
    Ru,
    /// English.
    En,
}

/// Parameters of `sign`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignParams {
    /// The server's challenge, unchanged.
    pub challenge: Challenge,
    /// The requesting page's origin as the browser reported it (`sender.origin`).
    pub origin: Origin,
    /// The certificate to sign with: an id from `list-certificates`.
    pub certificate_id: String,
    /// The PIN typed in the extension's confirmation window; absent → the agent asks by itself
    /// (pinentry) or the token has a PIN pad.
    #[serde(default)]
    pub pin: Option<PinText>,
    /// Language of any dialog the agent shows.
    #[serde(default)]
    pub lang: Lang,
}

/// Default `timeoutMs` of `wait-for-token`.
pub const WAIT_DEFAULT_MS: u64 = 30_000;
/// Largest accepted `timeoutMs` of `wait-for-token` (5 minutes).
pub const WAIT_MAX_MS: u64 = 300_000;
/// Longest accepted `since` of `wait-for-token` (a fingerprint is 16 characters).
pub const MAX_FINGERPRINT_CHARS: usize = 64;

/// Parameters of `wait-for-token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitParams {
    /// How long to wait at most, in milliseconds, 0 to [`WAIT_MAX_MS`]; absent →
    /// [`WAIT_DEFAULT_MS`]. 0 only compares the readers with `since`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The `fingerprint` of the readers as the extension last saw them (from
    /// `list-certificates` or an earlier `wait-for-token`): when the readers differ from it
    /// already, the answer is `changed` at once.
    #[serde(default)]
    pub since: Option<String>,
}

impl WaitParams {
    /// The wait in milliseconds, with the default applied.
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(WAIT_DEFAULT_MS)
    }

    /// Range checks serde cannot express.
    fn check(&self) -> Result<(), String> {
        if self.timeout_ms() > WAIT_MAX_MS {
            return Err(format!(
                "timeoutMs {} exceeds {WAIT_MAX_MS}",
                self.timeout_ms()
            ));
        }
        if self
            .since
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_FINGERPRINT_CHARS)
        {
            return Err(format!(
                "since is longer than {MAX_FINGERPRINT_CHARS} characters"
            ));
        }
        Ok(())
    }
}

/// A command from the extension.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Version and capability handshake.
    Hello {
        /// The extension's version, for diagnostics.
        #[serde(default, rename = "extensionVersion")]
        extension_version: Option<String>,
    },
    /// Enumerate signing certificates on all tokens.
    ListCertificates {},
    /// Sign a statement for a challenge.
    Sign(SignParams),
    /// Cancel the pending request with id `target`.
    Cancel {
        /// The request to cancel.
        target: RequestId,
    },
    /// Wait until a reader or a card comes or goes (or the timeout passes).
    WaitForToken(WaitParams),
}

impl Command {
    /// The command's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Hello { .. } => "hello",
            Command::ListCertificates {} => "list-certificates",
            Command::Sign(_) => "sign",
            Command::Cancel { .. } => "cancel",
            Command::WaitForToken(_) => "wait-for-token",
        }
    }
}

/// Command names this protocol version defines.
pub const COMMANDS: [&str; 5] = [
    "hello",
    "list-certificates",
    "sign",
    "cancel",
    "wait-for-token",
];

/// A request that could not be parsed, with the id when one was readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The request id, when the frame contained a usable one.
    pub id: Option<RequestId>,
    /// What was wrong.
    pub code: ErrorCode,
    /// Technical detail (English), e.g. the serde message.
    pub detail: String,
}

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The id to echo.
    pub id: RequestId,
    /// What to do.
    pub command: Command,
}

impl Request {
    /// Parses one frame body. The PIN, if any, ends up in a zeroizing [`PinText`]; the caller
    /// should zeroize `body` afterwards.
    pub fn parse(body: &[u8]) -> Result<Request, RequestError> {
        let fail = |id: Option<RequestId>, code, detail: String| RequestError { id, code, detail };
        let text = std::str::from_utf8(body)
            .map_err(|e| fail(None, ErrorCode::InvalidUtf8, e.to_string()))?;
        let value: Value = serde_json::from_str(text)
            .map_err(|e| fail(None, ErrorCode::InvalidJson, e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(fail(
                None,
                ErrorCode::InvalidJson,
                "not a JSON object".into(),
            ));
        };
        let id = map
            .remove("id")
            .as_ref()
            .and_then(RequestId::from_value)
            .ok_or_else(|| fail(None, ErrorCode::InvalidId, "missing or invalid id".into()))?;
        let name = match map.get("command") {
            Some(Value::String(name)) => name.clone(),
            _ => {
                return Err(fail(
                    Some(id),
                    ErrorCode::InvalidRequest,
                    "missing command".into(),
                ))
            }
        };
        if !COMMANDS.contains(&name.as_str()) {
            return Err(fail(
                Some(id),
                ErrorCode::UnknownCommand,
                format!("unknown command {name:?}"),
            ));
        }
        if name == "sign" {
            if let Some(Value::String(origin)) = map.get("origin") {
                if let Err(e @ crate::origin::OriginError::NotSecure(_)) = Origin::parse(origin) {
                    return Err(fail(Some(id), ErrorCode::OriginNotAllowed, e.to_string()));
                }
            }
            let challenge = map.get("challenge").cloned().unwrap_or(Value::Null);
            let checked = Challenge::deserialize(challenge)
                .map_err(|e| e.to_string())
                .and_then(|c| c.check_shape().map_err(|e| e.to_string()));
            if let Err(detail) = checked {
                return Err(fail(Some(id), ErrorCode::InvalidChallenge, detail));
            }
        }
        match Command::deserialize(Value::Object(std::mem::take(&mut map))) {
            Ok(Command::WaitForToken(params)) => match params.check() {
                Ok(()) => Ok(Request {
                    id,
                    command: Command::WaitForToken(params),
                }),
                Err(detail) => Err(fail(Some(id), ErrorCode::InvalidRequest, detail)),
            },
            Ok(command) => Ok(Request { id, command }),
            Err(e) => Err(fail(Some(id), ErrorCode::InvalidRequest, e.to_string())),
        }
    }
}

/// The error object of a failed reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// Messages for the citizen (fixed per code, never containing technical detail).
    pub message: Messages,
    /// Whether trying again in the same dialog can help.
    pub retriable: bool,
    /// Technical detail in English for logs and support; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Machine-readable details (e.g. PIN retry flags); absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// A message in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// English.
    pub en: String,
    /// Russian.
    pub ru: String,
}

impl ErrorBody {
    /// The standard body for `code`, with optional technical detail and machine-readable details.
    pub fn new(code: ErrorCode, detail: Option<&str>, details: Option<Value>) -> Self {
        ErrorBody {
            code,
            message: Messages {
                en: code.message_en().to_owned(),
                ru: code.message_ru().to_owned(),
            },
            retriable: code.retriable(),
            detail: detail.filter(|d| !d.is_empty()).map(str::to_owned),
            details,
        }
    }
}

/// A reply frame: `{"id":…,"ok":true,"result":…}` or `{"id":…,"ok":false,"error":…}`.
/// `id` is `null` when the request had no readable id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    /// The request's id.
    pub id: Option<RequestId>,
    /// Success flag.
    pub ok: bool,
    /// The result on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The error on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Reply {
    /// A success reply.
    pub fn success(id: RequestId, result: Value) -> Self {
        Reply {
            id: Some(id),
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    /// A failure reply.
    pub fn failure(id: Option<RequestId>, error: ErrorBody) -> Self {
        Reply {
            id,
            ok: false,
            result: None,
            error: Some(error),
        }
    }
}

/// Result of `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelloResult {
    /// Always `tokenconfirm-agent`.
    pub agent: String,
    /// The agent's version (semver).
    pub version: String,
    /// Protocol version, [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Commands and features, e.g. `sign`, `pin-in-request`, `pinentry`.
    pub capabilities: Vec<String>,
}

/// The token a certificate lives on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenDescription {
    /// CKA token label.
    pub label: String,
    /// Token manufacturer.
    pub manufacturer: String,
    /// Token model.
    pub model: String,
    /// Token serial number.
    pub serial: String,
    /// The PKCS#11 module path the token was found through.
    pub module: String,
    /// The reader has a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH): the PIN is entered there.
    pub pin_pad: bool,
    /// CKF_USER_PIN_COUNT_LOW: a wrong PIN was entered since the last successful login.
    pub pin_count_low: bool,
    /// CKF_USER_PIN_FINAL_TRY: one more wrong PIN blocks it.
    pub pin_final_try: bool,
    /// CKF_USER_PIN_LOCKED.
    pub pin_locked: bool,
    /// Minimum PIN length the token accepts.
    pub min_pin_length: u64,
    /// Maximum PIN length the token accepts.
    pub max_pin_length: u64,
}

/// A signing certificate found on a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDescription {
    /// Stable id: SHA-256 of the certificate DER, base64url (= the statement's hash).
    pub id: String,
    /// Subject common name (full name for qualified certificates).
    pub common_name: Option<String>,
    /// Surname (2.5.4.4).
    pub surname: Option<String>,
    /// Given name and patronymic (2.5.4.42).
    pub given_name: Option<String>,
    /// SNILS (1.2.643.100.3).
    pub snils: Option<String>,
    /// Personal INN (1.2.643.3.131.1.1).
    pub inn: Option<String>,
    /// Organization (2.5.4.10), when the certificate names one.
    pub organization: Option<String>,
    /// The whole subject name, RFC 4514 style.
    pub subject: String,
    /// The issuer name, RFC 4514 style.
    pub issuer: String,
    /// Issuer common name, for short display.
    pub issuer_common_name: Option<String>,
    /// Serial number, hex.
    pub serial_number: String,
    /// Validity start.
    pub not_before: String,
    /// Validity end.
    pub not_after: String,
    /// e.g. `ec-p256`, `rsa-2048`.
    pub key_type: String,
    /// The PKCS#11 CKA_ID of the certificate/key pair, hex.
    pub key_id: String,
    /// The token holding the key.
    pub token: TokenDescription,
    /// The certificate, DER in standard base64.
    pub certificate: String,
}

/// A module or token that could not be used, reported beside the certificates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The module path (or token label) concerned.
    pub source: String,
    /// Stable code.
    pub code: ErrorCode,
    /// Technical detail.
    pub detail: String,
}

/// Result of `list-certificates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateList {
    /// End-entity certificates whose key usage allows signing, in module/slot order. Whether
    /// the token holds the private key is checked at signing time (keys are usually hidden
    /// until login).
    pub certificates: Vec<CertificateDescription>,
    /// Modules that failed to load, tokens that could not be read.
    pub problems: Vec<Problem>,
    /// Cards of a known product in a reader whose PKCS#11 module is not installed: what to
    /// install. Empty when there is nothing to say (and from agents older than this member).
    #[serde(default)]
    pub hints: Vec<TokenHint>,
    /// The PC/SC readers as seen just before the modules were scanned; its `fingerprint` is
    /// what `wait-for-token` takes as `since`. Absent from agents older than this member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<ReadersSnapshot>,
}

/// What PC/SC says about the readers as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadersState {
    /// The smart-card service answers; `readers` lists what is connected (at least one).
    Ok,
    /// The service answers but no reader (and no USB token, which is its own reader) is
    /// connected.
    NoReaders,
    /// The smart-card service (pcscd) is not installed or not running: readers cannot be seen.
    NoService,
}

/// What is in one reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CardState {
    /// No card.
    Empty,
    /// A card (or the chip of a USB token) is present and answered.
    Present,
    /// A card is present but does not answer (inserted the wrong way, broken).
    Mute,
    /// The reader cannot be used now (e.g. held exclusively by another program).
    Unavailable,
}

/// One PC/SC reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReaderInfo {
    /// The reader's name as PC/SC reports it.
    pub name: String,
    /// What is in it.
    pub card: CardState,
    /// The card's ATR, upper-case hex bytes separated by spaces (only with a present card).
    pub atr: Option<String>,
    /// The product, when the ATR is known (`agent/data/known-tokens.toml`).
    pub product: Option<String>,
    /// File names of the PKCS#11 modules that serve the product.
    pub modules: Vec<String>,
    /// The reader has a PIN pad: it announces FEATURE_VERIFY_PIN_DIRECT or
    /// FEATURE_VERIFY_PIN_START (PC/SC part 10).
    #[serde(default)]
    pub pin_pad: bool,
}

/// The PC/SC readers at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadersSnapshot {
    /// Overall state.
    pub state: ReadersState,
    /// The readers (empty unless `state` is `ok`).
    pub readers: Vec<ReaderInfo>,
    /// What to do, for the citizen, in English (`null` when `state` is `ok`).
    pub message_en: Option<String>,
    /// What to do, in Russian.
    pub message_ru: Option<String>,
    /// Opaque summary of the state, reader names, card states and ATRs: equal fingerprints
    /// mean nothing came or went. 16 lower-case hex digits.
    #[serde(default)]
    pub fingerprint: String,
}

/// A card of a known product whose PKCS#11 module is not installed (or does not load).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenHint {
    /// The reader the card is in.
    pub reader: String,
    /// The product (Russian / English name).
    pub product: String,
    /// File names of the modules that would serve it.
    pub modules: Vec<String>,
    /// What to install, in English.
    pub install_en: String,
    /// What to install, in Russian.
    pub install_ru: String,
}

/// Why `wait-for-token` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitEvent {
    /// A reader or a card came or went (or the readers already differed from `since`).
    Changed,
    /// Nothing changed within `timeoutMs`.
    Timeout,
    /// The smart-card service is not available, so changes cannot be watched; answered at once
    /// (or as soon as the service stopped). The extension falls back to polling.
    Unavailable,
}

/// Result of `wait-for-token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitResult {
    /// Why it answered.
    pub event: WaitEvent,
    /// The readers now.
    pub readers: ReadersSnapshot,
}

/// Result of `sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignResult {
    /// CMS SignedData (CAdES-BES) with the statement attached, DER in standard base64.
    pub envelope: String,
    /// The signed statement bytes (canonical JSON) as text, for display and logging.
    pub statement: String,
    /// The id of the certificate used.
    pub certificate_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hello_and_echoes_ids() {
        let r = Request::parse(br#"{"id":"a1","command":"hello"}"#).unwrap();
        assert_eq!(r.id, RequestId::Text("a1".into()));
        assert!(matches!(
            r.command,
            Command::Hello {
                extension_version: None
            }
        ));
        let r = Request::parse(br#"{"id":7,"command":"cancel","target":"a1"}"#).unwrap();
        assert_eq!(r.id, RequestId::Number(7));
    }

    #[test]
    fn classifies_bad_requests() {
        let code = |b: &[u8]| Request::parse(b).unwrap_err().code;
        assert_eq!(code(b"\xff\xfe"), ErrorCode::InvalidUtf8);
        assert_eq!(code(b"{"), ErrorCode::InvalidJson);
        assert_eq!(code(b"[1]"), ErrorCode::InvalidJson);
        assert_eq!(code(br#"{"command":"hello"}"#), ErrorCode::InvalidId);
        assert_eq!(
            code(br#"{"id":{},"command":"hello"}"#),
            ErrorCode::InvalidId
        );
        assert_eq!(code(br#"{"id":1}"#), ErrorCode::InvalidRequest);
        assert_eq!(
            code(br#"{"id":1,"command":"format-disk"}"#),
            ErrorCode::UnknownCommand
        );
        assert_eq!(
            code(br#"{"id":1,"command":"hello","x":1}"#),
            ErrorCode::InvalidRequest
        );
        let insecure = br#"{"id":1,"command":"sign","origin":"http://a.b","certificateId":"x","challenge":{}}"#;
        assert_eq!(code(insecure), ErrorCode::OriginNotAllowed);
        let err = Request::parse(br#"{"id":"z","command":"sign","origin":"https://a.b","certificateId":"x","challenge":{"version":1}}"#).unwrap_err();
        assert_eq!(err.id, Some(RequestId::Text("z".into())));
        assert_eq!(err.code, ErrorCode::InvalidChallenge);
    }

    #[test]
    fn wait_for_token_parameters() {
        let parse = |b: &str| Request::parse(b.as_bytes());
        let r = parse(r#"{"id":1,"command":"wait-for-token"}"#).unwrap();
        let Command::WaitForToken(p) = r.command else {
            panic!("not wait-for-token")
        };
        assert_eq!((p.timeout_ms(), p.since), (WAIT_DEFAULT_MS, None));
        let r = parse(
            r#"{"id":2,"command":"wait-for-token","timeoutMs":0,"since":"0123456789abcdef"}"#,
        )
        .unwrap();
        assert_eq!(r.command.name(), "wait-for-token");
        let code = |b: &str| parse(b).unwrap_err().code;
        for bad in [
            r#"{"id":3,"command":"wait-for-token","timeoutMs":300001}"#,
            r#"{"id":3,"command":"wait-for-token","timeoutMs":-1}"#,
            r#"{"id":3,"command":"wait-for-token","timeoutMs":1.5}"#,
            r#"{"id":3,"command":"wait-for-token","since":5}"#,
            r#"{"id":3,"command":"wait-for-token","x":1}"#,
        ] {
            assert_eq!(code(bad), ErrorCode::InvalidRequest, "{bad}");
        }
        let long = format!(
            r#"{{"id":3,"command":"wait-for-token","since":"{}"}}"#,
            "a".repeat(MAX_FINGERPRINT_CHARS + 1)
        );
        assert_eq!(code(&long), ErrorCode::InvalidRequest);
    }

    #[test]
    fn reader_types_serialize_as_documented() {
        let snapshot = ReadersSnapshot {
            state: ReadersState::NoService,
            readers: vec![],
            message_en: Some("x".into()),
            message_ru: None,
            fingerprint: "00".into(),
        };
        let v = serde_json::to_value(WaitResult {
            event: WaitEvent::Unavailable,
            readers: snapshot,
        })
        .unwrap();
        assert_eq!(v["event"], "unavailable");
        assert_eq!(v["readers"]["state"], "no-service");
        assert_eq!(v["readers"]["messageRu"], Value::Null);
        let reader = ReaderInfo {
            name: "r".into(),
            card: CardState::Present,
            atr: Some("3B 00".into()),
            product: None,
            modules: vec![],
            pin_pad: true,
        };
        let v = serde_json::to_value(&reader).unwrap();
        assert_eq!(
            (v["card"].as_str(), v["pinPad"].as_bool()),
            (Some("present"), Some(true))
        );
        // An old agent's list has neither hints nor readers.
        let old: CertificateList =
            serde_json::from_str(r#"{"certificates":[],"problems":[]}"#).unwrap();
        assert!(old.hints.is_empty() && old.readers.is_none());
        let text = serde_json::to_string(&CertificateList::default()).unwrap();
        assert_eq!(text, r#"{"certificates":[],"problems":[],"hints":[]}"#);
    }

    #[test]
    fn pin_is_redacted_in_debug() {
        let body = format!(
            r#"{{"id":1,"command":"sign","origin":"https://portal.example","certificateId":"x","pin":"4242","challenge":{}}}"#,
            crate::challenge::tests::sample()
        );
        let r = Request::parse(body.as_bytes()).unwrap();
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("4242"), "{dbg}");
        let Command::Sign(p) = r.command else {
            panic!()
        };
        assert_eq!(p.pin.unwrap().expose(), "4242");
    }

    #[test]
    fn replies_serialize_as_documented() {
        let ok = Reply::success(RequestId::Number(1), serde_json::json!({"a":1}));
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"id":1,"ok":true,"result":{"a":1}}"#
        );
        let err = Reply::failure(None, ErrorBody::new(ErrorCode::InvalidJson, None, None));
        let text = serde_json::to_string(&err).unwrap();
        assert!(
            text.starts_with(
                r#"{"id":null,"ok":false,"error":{"code":"invalid-json","message":{"en":"#
            ),
            "{text}"
        );
    }
}
