//! The module state — slots, sessions, login, objects, searches, signing — behind one global
//! mutex. Everything here is safe Rust; [`crate::ffi`] only moves bytes across the C ABI.
//!
//! Behaviour worth knowing:
//! * Login state is per token and shared by all sessions of the process (PKCS#11 §5.5); closing
//!   a token's last session logs it out.
//! * Private-key objects (`CKA_PRIVATE` true) are invisible while logged out: searches skip
//!   them and their handles are `CKR_OBJECT_HANDLE_INVALID` (`CKR_USER_NOT_LOGGED_IN` for
//!   `C_SignInit`).
//! * A wrong PIN increments the persisted counter and returns `CKR_PIN_INCORRECT`; the attempt
//!   that reaches `max_pin_retries` returns `CKR_PIN_LOCKED`, as does every later attempt. A
//!   correct PIN resets the counter.
//! * There is no SO PIN: `CKU_SO` is `CKR_USER_TYPE_INVALID`.

use crate::config::{self, Config, ConfigError, KeyConfig, TokenConfig, MAX_PIN_LEN, MIN_PIN_LEN};
use crate::error::{Error, Result};
use crate::key::{parse_certificate, parse_private_key};
use crate::mechanism::{self, Mechanism};
use crate::pin_state;
use crate::sign::SigningKey;
use cryptoki_sys::*;
use der::Encode;
use digest::Digest;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokenconfirm_gost::Size;
use zeroize::Zeroizing;

/// Manufacturer in `CK_INFO`, `CK_SLOT_INFO`, `CK_TOKEN_INFO`.
pub const MANUFACTURER: &str = "tokenconfirm";
/// `libraryDescription`.
pub const LIBRARY_DESCRIPTION: &str = "tokenconfirm GOST test token";
/// Token model.
pub const MODEL: &str = "GOST soft token";

/// A value of an object attribute.
#[derive(Clone)]
enum Attr {
    /// Readable bytes.
    Value(Vec<u8>),
    /// Present but never revealed (`CKR_ATTRIBUTE_SENSITIVE`).
    Sensitive,
}

/// One object: certificate, public key or private key.
struct Object {
    private: bool,
    attrs: BTreeMap<CK_ATTRIBUTE_TYPE, Attr>,
    /// The signing key, on private-key objects.
    key: Option<Arc<SigningKey>>,
    /// The key size, on key objects.
    size: Option<Size>,
}

/// One configured token (= slot).
struct Token {
    label: String,
    serial: String,
    pin: Zeroizing<Vec<u8>>,
    /// What the simulated PIN pad "types" on a C_Login with a NULL PIN (`None`: no PIN pad).
    pin_pad_entry: Option<Zeroizing<Vec<u8>>>,
    max_retries: u32,
    state_file: std::path::PathBuf,
    mechanisms: Vec<Mechanism>,
    objects: Vec<Object>,
    logged_in: bool,
}

/// A search in progress.
struct FindOp {
    handles: Vec<CK_OBJECT_HANDLE>,
    next: usize,
}

/// The message state of a sign operation.
enum SignInput {
    /// Raw mechanisms: the digest, accumulated.
    Raw(Vec<u8>),
    /// Streebog-256 inside the token.
    Streebog256(streebog::Streebog256),
    /// Streebog-512 inside the token.
    Streebog512(streebog::Streebog512),
}

/// A sign operation in progress.
struct SignOp {
    key: Arc<SigningKey>,
    size: usize,
    input: SignInput,
    /// `C_SignUpdate` was called: only `C_SignUpdate`/`C_SignFinal` may follow.
    multipart: bool,
}

struct Session {
    slot: usize,
    rw: bool,
    find: Option<FindOp>,
    sign: Option<SignOp>,
}

/// The state between `C_Initialize` and `C_Finalize`.
pub struct Library {
    tokens: Vec<Token>,
    sessions: BTreeMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_SESSION_HANDLE,
}

static LIBRARY: Mutex<Option<Library>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Library>> {
    // A panic while holding the lock is caught at the FFI boundary; the state itself stays
    // consistent enough to continue (every mutation is a single assignment).
    LIBRARY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `C_Initialize`: loads the configuration from `$TOKENCONFIRM_GOST_TOKEN_CONF`.
pub fn initialize() -> Result<()> {
    let mut guard = lock();
    if guard.is_some() {
        return Err(Error::AlreadyInitialized);
    }
    *guard = Some(Library::from_config(config::load_from_env()?)?);
    Ok(())
}

/// `C_Initialize` with an explicit configuration file (tests).
pub fn initialize_with(path: &Path) -> Result<()> {
    let mut guard = lock();
    if guard.is_some() {
        return Err(Error::AlreadyInitialized);
    }
    *guard = Some(Library::from_config(config::load(path)?)?);
    Ok(())
}

/// `C_Finalize`: drops every session and key (keys are wiped).
pub fn finalize() -> Result<()> {
    lock().take().map(drop).ok_or(Error::NotInitialized)
}

/// Runs `f` on the initialized library under the global lock.
pub fn with<R>(f: impl FnOnce(&mut Library) -> Result<R>) -> Result<R> {
    let mut guard = lock();
    let library = guard.as_mut().ok_or(Error::NotInitialized)?;
    f(library)
}

/// Space-padded fixed-width PKCS#11 text (truncated at a character boundary).
pub fn padded<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut len = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() > N {
            break;
        }
        len = i + c.len_utf8();
    }
    out[..len].copy_from_slice(&text.as_bytes()[..len]);
    out
}

fn version() -> CK_VERSION {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    CK_VERSION { major, minor }
}

/// `C_GetInfo`.
pub fn info() -> CK_INFO {
    CK_INFO {
        cryptokiVersion: CK_VERSION {
            major: 2,
            minor: 40,
        },
        manufacturerID: padded(MANUFACTURER),
        flags: 0,
        libraryDescription: padded(LIBRARY_DESCRIPTION),
        libraryVersion: version(),
    }
}

fn boolean(b: bool) -> Attr {
    Attr::Value(vec![if b { CK_TRUE } else { CK_FALSE }])
}

fn ulong(v: CK_ULONG) -> Attr {
    Attr::Value(v.to_ne_bytes().to_vec())
}

fn bytes(v: &[u8]) -> Attr {
    Attr::Value(v.to_vec())
}

/// The object handle of object `index` of slot `slot` (never 0).
fn object_handle(slot: usize, index: usize) -> CK_OBJECT_HANDLE {
    (((slot as CK_OBJECT_HANDLE) + 1) << 16) | ((index as CK_OBJECT_HANDLE) + 1)
}

fn object_index(slot: usize, handle: CK_OBJECT_HANDLE) -> Option<usize> {
    let high = handle >> 16;
    let low = handle & 0xffff;
    if high != (slot as CK_OBJECT_HANDLE) + 1 || low == 0 {
        return None;
    }
    usize::try_from(low - 1).ok()
}

fn read_file(path: &Path) -> std::result::Result<Zeroizing<Vec<u8>>, ConfigError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
}

/// The three objects of one key pair.
fn key_objects(cfg_path: &Path, key: &KeyConfig) -> std::result::Result<[Object; 3], ConfigError> {
    let cert =
        parse_certificate(&read_file(&key.certificate)?).map_err(|source| ConfigError::Key {
            path: key.certificate.clone(),
            source,
        })?;
    let private =
        parse_private_key(&read_file(&key.private_key)?).map_err(|source| ConfigError::Key {
            path: key.private_key.clone(),
            source,
        })?;
    let mismatch = |message: String| ConfigError::Invalid {
        path: cfg_path.to_owned(),
        what: format!("key {}", key.label),
        message,
    };
    if private.key.param_set().name != cert.param_set.name {
        return Err(mismatch(format!(
            "the private key is on {} but the certificate on {}",
            private.key.param_set().name,
            cert.param_set.name
        )));
    }
    let derived = private.key.public_key_le().map_err(|e| ConfigError::Key {
        path: key.private_key.clone(),
        source: e.into(),
    })?;
    if derived != cert.public_le {
        return Err(mismatch(format!(
            "the private key {} does not belong to the certificate {}",
            key.private_key.display(),
            key.certificate.display()
        )));
    }
    let size = cert.size;
    let param_oid_der = cert
        .param_oid
        .to_der()
        .map_err(|e| mismatch(format!("parameter set OID: {e}")))?;
    let common = |class: CK_OBJECT_CLASS, private: bool| {
        let mut a = BTreeMap::new();
        a.insert(CKA_CLASS, ulong(class));
        a.insert(CKA_TOKEN, boolean(true));
        a.insert(CKA_PRIVATE, boolean(private));
        a.insert(CKA_MODIFIABLE, boolean(false));
        a.insert(CKA_COPYABLE, boolean(false));
        a.insert(CKA_DESTROYABLE, boolean(false));
        a.insert(CKA_LABEL, bytes(key.label.as_bytes()));
        a.insert(CKA_ID, bytes(&key.id));
        a
    };
    let key_common = |a: &mut BTreeMap<CK_ATTRIBUTE_TYPE, Attr>| {
        a.insert(CKA_KEY_TYPE, ulong(mechanism::key_type(size)));
        a.insert(CKA_DERIVE, boolean(false));
        a.insert(CKA_LOCAL, boolean(false));
        a.insert(CKA_KEY_GEN_MECHANISM, ulong(CK_UNAVAILABLE_INFORMATION));
        a.insert(CKA_SUBJECT, bytes(&cert.subject));
        a.insert(CKA_GOSTR3410_PARAMS, bytes(&param_oid_der));
        a.insert(CKA_GOSTR3411_PARAMS, bytes(mechanism::digest_oid_der(size)));
        a.insert(CKA_PUBLIC_KEY_INFO, bytes(&cert.spki));
    };

    let mut c = common(CKO_CERTIFICATE, false);
    c.insert(CKA_CERTIFICATE_TYPE, ulong(CKC_X_509));
    c.insert(CKA_TRUSTED, boolean(false));
    c.insert(
        CKA_CERTIFICATE_CATEGORY,
        ulong(CK_CERTIFICATE_CATEGORY_TOKEN_USER),
    );
    c.insert(CKA_SUBJECT, bytes(&cert.subject));
    c.insert(CKA_ISSUER, bytes(&cert.issuer));
    c.insert(CKA_SERIAL_NUMBER, bytes(&cert.serial));
    c.insert(CKA_VALUE, bytes(&cert.der));
    c.insert(
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
        ulong(CK_SECURITY_DOMAIN_UNSPECIFIED),
    );

    let mut p = common(CKO_PUBLIC_KEY, false);
    key_common(&mut p);
    p.insert(CKA_ENCRYPT, boolean(false));
    p.insert(CKA_VERIFY, boolean(true));
    p.insert(CKA_VERIFY_RECOVER, boolean(false));
    p.insert(CKA_WRAP, boolean(false));
    p.insert(CKA_TRUSTED, boolean(false));
    p.insert(CKA_VALUE, bytes(&cert.public_le));

    let mut k = common(CKO_PRIVATE_KEY, true);
    key_common(&mut k);
    k.insert(CKA_SENSITIVE, boolean(true));
    k.insert(CKA_DECRYPT, boolean(false));
    k.insert(CKA_SIGN, boolean(true));
    k.insert(CKA_SIGN_RECOVER, boolean(false));
    k.insert(CKA_UNWRAP, boolean(false));
    k.insert(CKA_EXTRACTABLE, boolean(false));
    k.insert(CKA_ALWAYS_SENSITIVE, boolean(false));
    k.insert(CKA_NEVER_EXTRACTABLE, boolean(false));
    k.insert(CKA_WRAP_WITH_TRUSTED, boolean(false));
    k.insert(CKA_ALWAYS_AUTHENTICATE, boolean(false));
    k.insert(CKA_VALUE, Attr::Sensitive);

    Ok([
        Object {
            private: false,
            attrs: c,
            key: None,
            size: None,
        },
        Object {
            private: false,
            attrs: p,
            key: None,
            size: Some(size),
        },
        Object {
            private: true,
            attrs: k,
            key: Some(Arc::new(private.key)),
            size: Some(size),
        },
    ])
}

impl Token {
    fn load(cfg_path: &Path, cfg: TokenConfig) -> std::result::Result<Token, ConfigError> {
        // Fail early on an unreadable counter rather than at the first login.
        pin_state::read(&cfg.state_file)?;
        let mut objects = Vec::with_capacity(cfg.keys.len() * 3);
        for key in &cfg.keys {
            objects.extend(key_objects(cfg_path, key)?);
        }
        Ok(Token {
            label: cfg.label,
            serial: cfg.serial,
            pin: cfg.user_pin,
            pin_pad_entry: cfg.pin_pad_entry,
            max_retries: cfg.max_pin_retries,
            state_file: cfg.state_file,
            mechanisms: cfg.mechanisms,
            objects,
            logged_in: false,
        })
    }

    fn failed_logins(&self) -> Result<u32> {
        Ok(pin_state::read(&self.state_file)?)
    }

    /// Checks `pin`, counting failures in the state file.
    fn check_pin(&self, pin: &[u8]) -> Result<()> {
        let failed = self.failed_logins()?;
        if failed >= self.max_retries {
            return Err(Error::PinLocked);
        }
        if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) {
            return Err(Error::PinLenRange);
        }
        // Not a side-channel defence worth the name (see the crate docs); just no early exit.
        let same = pin.len() == self.pin.len()
            && pin
                .iter()
                .zip(self.pin.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            if failed != 0 {
                pin_state::write(&self.state_file, 0)?;
            }
            return Ok(());
        }
        let failed = failed + 1;
        pin_state::write(&self.state_file, failed)?;
        if failed >= self.max_retries {
            Err(Error::PinLocked)
        } else {
            Err(Error::PinIncorrect)
        }
    }

    fn visible(&self, object: &Object) -> bool {
        self.logged_in || !object.private
    }
}

/// How one attribute of `C_GetAttributeValue` came out.
pub enum AttributeValue<'a> {
    /// The value.
    Value(&'a [u8]),
    /// `CKR_ATTRIBUTE_SENSITIVE`.
    Sensitive,
    /// `CKR_ATTRIBUTE_TYPE_INVALID`.
    Invalid,
}

impl Library {
    /// Loads every token of `config`: reads and checks keys and certificates (the private key
    /// must belong to the certificate) and the PIN counter files.
    pub fn from_config(config: Config) -> std::result::Result<Library, ConfigError> {
        let path = config.path;
        let tokens = config
            .tokens
            .into_iter()
            .map(|t| Token::load(&path, t))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Library {
            tokens,
            sessions: BTreeMap::new(),
            next_session: 1,
        })
    }

    fn token(&self, slot: CK_SLOT_ID) -> Result<(usize, &Token)> {
        let index = usize::try_from(slot).map_err(|_| Error::SlotIdInvalid)?;
        self.tokens
            .get(index)
            .map(|t| (index, t))
            .ok_or(Error::SlotIdInvalid)
    }

    fn session(&self, h: CK_SESSION_HANDLE) -> Result<&Session> {
        self.sessions.get(&h).ok_or(Error::SessionHandleInvalid)
    }

    fn session_mut(&mut self, h: CK_SESSION_HANDLE) -> Result<&mut Session> {
        self.sessions.get_mut(&h).ok_or(Error::SessionHandleInvalid)
    }

    /// `C_GetSlotList`: every slot (each always holds its token).
    pub fn slot_list(&self) -> Vec<CK_SLOT_ID> {
        (0..self.tokens.len() as CK_SLOT_ID).collect()
    }

    /// `C_GetSlotInfo`.
    pub fn slot_info(&self, slot: CK_SLOT_ID) -> Result<CK_SLOT_INFO> {
        self.token(slot)?;
        Ok(CK_SLOT_INFO {
            slotDescription: padded(&format!("tokenconfirm GOST soft slot {slot}")),
            manufacturerID: padded(MANUFACTURER),
            flags: CKF_TOKEN_PRESENT,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: version(),
        })
    }

    /// `C_GetTokenInfo` (the PIN flags come from the counter file, re-read now).
    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
        let (index, token) = self.token(slot)?;
        let failed = token.failed_logins()?;
        let remaining = token.max_retries.saturating_sub(failed);
        let mut flags =
            CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;
        if token.pin_pad_entry.is_some() {
            flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
        }
        if remaining == 0 {
            flags |= CKF_USER_PIN_LOCKED;
        } else {
            if failed > 0 {
                flags |= CKF_USER_PIN_COUNT_LOW;
            }
            if remaining == 1 {
                flags |= CKF_USER_PIN_FINAL_TRY;
            }
        }
        let sessions = self.sessions.values().filter(|s| s.slot == index);
        let rw = sessions.clone().filter(|s| s.rw).count() as CK_ULONG;
        Ok(CK_TOKEN_INFO {
            label: padded(&token.label),
            manufacturerID: padded(MANUFACTURER),
            model: padded(MODEL),
            serialNumber: padded(&token.serial),
            flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: sessions.count() as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: rw,
            ulMaxPinLen: MAX_PIN_LEN as CK_ULONG,
            ulMinPinLen: MIN_PIN_LEN as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: version(),
            utcTime: [b' '; 16],
        })
    }

    /// `C_GetMechanismList`.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        let (_, token) = self.token(slot)?;
        Ok(token
            .mechanisms
            .iter()
            .map(|m| m.mechanism_type())
            .collect())
    }

    /// `C_GetMechanismInfo`.
    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        t: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO> {
        let (_, token) = self.token(slot)?;
        Mechanism::from_type(t)
            .filter(|m| token.mechanisms.contains(m))
            .map(Mechanism::info)
            .ok_or(Error::MechanismInvalid)
    }

    /// `C_OpenSession`.
    pub fn open_session(&mut self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        let (index, _) = self.token(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let h = self.next_session;
        self.next_session = self.next_session.checked_add(1).ok_or(Error::General)?;
        self.sessions.insert(
            h,
            Session {
                slot: index,
                rw: flags & CKF_RW_SESSION != 0,
                find: None,
                sign: None,
            },
        );
        Ok(h)
    }

    fn logout_if_no_sessions(&mut self, slot: usize) {
        if !self.sessions.values().any(|s| s.slot == slot) {
            if let Some(t) = self.tokens.get_mut(slot) {
                t.logged_in = false;
            }
        }
    }

    /// `C_CloseSession` (the token's last session logs it out).
    pub fn close_session(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        let session = self
            .sessions
            .remove(&h)
            .ok_or(Error::SessionHandleInvalid)?;
        self.logout_if_no_sessions(session.slot);
        Ok(())
    }

    /// `C_CloseAllSessions`.
    pub fn close_all_sessions(&mut self, slot: CK_SLOT_ID) -> Result<()> {
        let (index, _) = self.token(slot)?;
        self.sessions.retain(|_, s| s.slot != index);
        self.logout_if_no_sessions(index);
        Ok(())
    }

    /// `C_GetSessionInfo`.
    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        let s = self.session(h)?;
        let logged_in = self.tokens.get(s.slot).is_some_and(|t| t.logged_in);
        let state = match (s.rw, logged_in) {
            (false, false) => CKS_RO_PUBLIC_SESSION,
            (false, true) => CKS_RO_USER_FUNCTIONS,
            (true, false) => CKS_RW_PUBLIC_SESSION,
            (true, true) => CKS_RW_USER_FUNCTIONS,
        };
        Ok(CK_SESSION_INFO {
            slotID: s.slot as CK_SLOT_ID,
            state,
            flags: CKF_SERIAL_SESSION | if s.rw { CKF_RW_SESSION } else { 0 },
            ulDeviceError: 0,
        })
    }

    /// `C_Login`. `CKU_CONTEXT_SPECIFIC` re-checks the PIN during a sign operation (no key
    /// needs it, but it is harmless). `pin: None` (a NULL PIN) is the protected authentication
    /// path: on a token configured with `pin_pad_entry` that entry is checked as if typed on the
    /// reader's keypad; on others it is `CKR_ARGUMENTS_BAD`.
    pub fn login(
        &mut self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: Option<&[u8]>,
    ) -> Result<()> {
        let session = self.session(h)?;
        let slot = session.slot;
        let signing = session.sign.is_some();
        let token = self.tokens.get_mut(slot).ok_or(Error::General)?;
        let typed;
        let pin = match pin {
            Some(pin) => pin,
            None => {
                typed = token.pin_pad_entry.clone().ok_or(Error::ArgumentsBad)?;
                &typed[..]
            }
        };
        match user {
            CKU_USER => {
                if token.logged_in {
                    return Err(Error::UserAlreadyLoggedIn);
                }
                token.check_pin(pin)?;
                token.logged_in = true;
                Ok(())
            }
            CKU_CONTEXT_SPECIFIC => {
                if !signing {
                    return Err(Error::OperationNotInitialized);
                }
                if !token.logged_in {
                    return Err(Error::UserNotLoggedIn);
                }
                token.check_pin(pin)
            }
            _ => Err(Error::UserTypeInvalid),
        }
    }

    /// `C_Logout`.
    pub fn logout(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.session(h)?.slot;
        let token = self.tokens.get_mut(slot).ok_or(Error::General)?;
        if !token.logged_in {
            return Err(Error::UserNotLoggedIn);
        }
        token.logged_in = false;
        Ok(())
    }

    /// `C_FindObjectsInit`: objects whose attributes equal every template entry byte for byte.
    pub fn find_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<()> {
        let session = self.session(h)?;
        if session.find.is_some() {
            return Err(Error::OperationActive);
        }
        let slot = session.slot;
        let token = self.tokens.get(slot).ok_or(Error::General)?;
        let handles = token
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| token.visible(o))
            .filter(|(_, o)| {
                template
                    .iter()
                    .all(|(t, want)| matches!(o.attrs.get(t), Some(Attr::Value(v)) if v == want))
            })
            .map(|(i, _)| object_handle(slot, i))
            .collect();
        self.session_mut(h)?.find = Some(FindOp { handles, next: 0 });
        Ok(())
    }

    /// `C_FindObjects`: up to `max` more handles.
    pub fn find(&mut self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let find = self
            .session_mut(h)?
            .find
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        let end = find.handles.len().min(find.next.saturating_add(max));
        let out = find
            .handles
            .get(find.next..end)
            .unwrap_or_default()
            .to_vec();
        find.next = end;
        Ok(out)
    }

    /// `C_FindObjectsFinal`.
    pub fn find_final(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.session_mut(h)?
            .find
            .take()
            .map(drop)
            .ok_or(Error::OperationNotInitialized)
    }

    fn object(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Result<&Object> {
        let slot = self.session(h)?.slot;
        let token = self.tokens.get(slot).ok_or(Error::General)?;
        object_index(slot, o)
            .and_then(|i| token.objects.get(i))
            .filter(|obj| token.visible(obj))
            .ok_or(Error::ObjectHandleInvalid)
    }

    /// `C_GetAttributeValue`: one outcome per requested type, or an error for the whole call
    /// (bad session or object).
    pub fn attribute_values(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttributeValue<'_>>> {
        let object = self.object(h, o)?;
        Ok(types
            .iter()
            .map(|t| match object.attrs.get(t) {
                Some(Attr::Value(v)) => AttributeValue::Value(v),
                Some(Attr::Sensitive) => AttributeValue::Sensitive,
                None => AttributeValue::Invalid,
            })
            .collect())
    }

    /// `C_SignInit`. `param` is the mechanism parameter: empty, or (for the hashing mechanisms)
    /// the DER of the matching Streebog OID.
    pub fn sign_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mechanism_type: CK_MECHANISM_TYPE,
        param: &[u8],
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let session = self.session(h)?;
        if session.sign.is_some() {
            return Err(Error::OperationActive);
        }
        let mechanism = Mechanism::from_type(mechanism_type).ok_or(Error::MechanismInvalid)?;
        let param_ok = param.is_empty()
            || (mechanism.hashes() && param == mechanism::digest_oid_der(mechanism.size()));
        if !param_ok {
            return Err(Error::MechanismParamInvalid);
        }
        let slot = session.slot;
        let token = self.tokens.get(slot).ok_or(Error::General)?;
        if !token.mechanisms.contains(&mechanism) {
            return Err(Error::MechanismInvalid);
        }
        let object = object_index(slot, key)
            .and_then(|i| token.objects.get(i))
            .ok_or(Error::KeyHandleInvalid)?;
        if object.private && !token.logged_in {
            return Err(Error::UserNotLoggedIn);
        }
        let size = object.size.ok_or(Error::KeyHandleInvalid)?;
        let signing_key = object.key.clone().ok_or(Error::KeyFunctionNotPermitted)?;
        if size != mechanism.size() {
            return Err(Error::KeyTypeInconsistent);
        }
        let input = match mechanism {
            Mechanism::Raw256 | Mechanism::Raw512 => SignInput::Raw(Vec::new()),
            Mechanism::Hash256 => SignInput::Streebog256(streebog::Streebog256::new()),
            Mechanism::Hash512 => SignInput::Streebog512(streebog::Streebog512::new()),
        };
        self.session_mut(h)?.sign = Some(SignOp {
            key: signing_key,
            size: mechanism::size_bytes(size),
            input,
            multipart: false,
        });
        Ok(())
    }

    /// Ends the sign operation of `h` (after any outcome but a length answer).
    fn end_sign(&mut self, h: CK_SESSION_HANDLE) {
        if let Some(s) = self.sessions.get_mut(&h) {
            s.sign = None;
        }
    }

    /// The signature length, if `out` is only a length question (`None`) or too small.
    /// `Ok(None)`: go ahead and sign.
    fn length_answer(&self, h: CK_SESSION_HANDLE, out: Option<&[u8]>) -> Result<Option<usize>> {
        let op = self
            .session(h)?
            .sign
            .as_ref()
            .ok_or(Error::OperationNotInitialized)?;
        let len = 2 * op.size;
        match out {
            None => Ok(Some(len)),
            Some(buf) if buf.len() < len => Err(Error::BufferTooSmall(len)),
            Some(_) => Ok(None),
        }
    }

    fn finish_sign(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<usize> {
        let session = self.session_mut(h)?;
        let slot = session.slot;
        let op = session.sign.take().ok_or(Error::OperationNotInitialized)?;
        if data.is_some() && op.multipart {
            return Err(Error::OperationActive);
        }
        if !self.tokens.get(slot).is_some_and(|t| t.logged_in) {
            return Err(Error::UserNotLoggedIn);
        }
        let digest = match op.input {
            SignInput::Raw(mut buffer) => {
                if let Some(data) = data {
                    buffer.extend_from_slice(data);
                }
                buffer
            }
            SignInput::Streebog256(mut hasher) => {
                if let Some(data) = data {
                    hasher.update(data);
                }
                hasher.finalize().to_vec()
            }
            SignInput::Streebog512(mut hasher) => {
                if let Some(data) = data {
                    hasher.update(data);
                }
                hasher.finalize().to_vec()
            }
        };
        if digest.len() != op.size {
            return Err(Error::DataLenRange);
        }
        let signature = op.key.sign_digest(&digest)?;
        let target = out.get_mut(..signature.len()).ok_or(Error::General)?;
        target.copy_from_slice(&signature);
        Ok(signature.len())
    }

    /// `C_Sign`: `out` `None` asks for the length. Returns the signature length; on
    /// [`Error::BufferTooSmall`] the operation stays active, on any other error it ends.
    pub fn sign(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        out: Option<&mut [u8]>,
    ) -> Result<usize> {
        if let Some(len) = self.length_answer(h, out.as_deref())? {
            return Ok(len);
        }
        let Some(out) = out else {
            return Err(Error::General);
        };
        let result = self.finish_sign(h, Some(data), out);
        self.end_sign(h);
        result
    }

    /// `C_SignUpdate`.
    pub fn sign_update(&mut self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        let session = self.session_mut(h)?;
        let op = session
            .sign
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        op.multipart = true;
        let too_long = match &mut op.input {
            SignInput::Raw(buffer) => {
                buffer.extend_from_slice(data);
                buffer.len() > op.size
            }
            SignInput::Streebog256(hasher) => {
                hasher.update(data);
                false
            }
            SignInput::Streebog512(hasher) => {
                hasher.update(data);
                false
            }
        };
        if too_long {
            self.end_sign(h);
            return Err(Error::DataLenRange);
        }
        Ok(())
    }

    /// `C_SignFinal`: as [`Library::sign`] without more data.
    pub fn sign_final(&mut self, h: CK_SESSION_HANDLE, out: Option<&mut [u8]>) -> Result<usize> {
        if let Some(len) = self.length_answer(h, out.as_deref())? {
            return Ok(len);
        }
        let Some(out) = out else {
            return Err(Error::General);
        };
        let result = self.finish_sign(h, None, out);
        self.end_sign(h);
        result
    }

    /// `C_GenerateRandom`.
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        self.session(h)?;
        getrandom::fill(out).map_err(|_| Error::Sign(crate::sign::SignError::Random))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_handles() {
        assert_eq!(&padded::<8>("abc"), b"abc     ");
        assert_eq!(&padded::<4>("abcdef"), b"abcd");
        // "ж" is 2 bytes: never cut in the middle.
        assert_eq!(&padded::<3>("aжж"), b"a\xd0\xb6");
        assert_eq!(object_index(0, object_handle(0, 5)), Some(5));
        assert_eq!(object_index(1, object_handle(0, 5)), None);
        assert_eq!(object_index(0, 0), None);
        assert_ne!(object_handle(0, 0), 0);
    }
}
