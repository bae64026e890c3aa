//! Signing a confirmation: challenge checks, statement, login, token signature, self-check,
//! envelope. Blocking (PKCS#11 and PIN prompts block); the native host runs it on a worker.

use crate::certinfo::{hex, CertInfo};
use crate::config::RsaScheme;
use crate::envelope::{self, Parts};
use crate::error::{AgentError, Result};
use crate::pin::{PinContext, PinSource};
use crate::token::inventory::{Inventory, TokenCertificate};
use crate::token::mechanism::TokenMechanism;
use crate::token::{login, mechanism, raw, token_error};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::Decode;
use time::OffsetDateTime;
use tokenconfirm_wire::challenge::{Challenge, ChallengeError};
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{Lang, SignResult};
use tokenconfirm_wire::origin::Origin;
use tokenconfirm_wire::statement::Statement;

/// Clock difference tolerated between the agent and the server.
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(2);

/// What to sign and with which certificate.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The server's challenge.
    pub challenge: Challenge,
    /// The requesting origin as the browser reported it (or as the CLI user stated it).
    pub origin: Origin,
    /// Certificate selector (see [`Inventory::select`]); `None` = the only one.
    pub certificate: Option<String>,
    /// Dialog language.
    pub lang: Lang,
}

/// A produced envelope.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The CMS ContentInfo DER.
    pub envelope: Vec<u8>,
    /// The statement bytes that were signed.
    pub statement: Vec<u8>,
    /// The certificate's id.
    pub certificate_id: String,
}

impl Signed {
    /// The `sign` reply.
    pub fn to_result(&self) -> SignResult {
        SignResult {
            envelope: tokenconfirm_wire::b64::std_encode(&self.envelope),
            statement: String::from_utf8_lossy(&self.statement).into_owned(),
            certificate_id: self.certificate_id.clone(),
        }
    }
}

/// Checks the request before any token is touched: the challenge is well-formed and names
/// the origin the request comes from (a phishing page relaying a real challenge stops here).
pub fn check_request(req: &SignRequest) -> Result<()> {
    req.challenge
        .check_shape()
        .map_err(|e| AgentError::new(ErrorCode::InvalidChallenge, e.to_string()))?;
    if req.challenge.origin != req.origin {
        return Err(AgentError::new(
            ErrorCode::OriginMismatch,
            format!(
                "page origin {} but the challenge is for {}",
                req.origin, req.challenge.origin
            ),
        ));
    }
    Ok(())
}

/// Checks that the challenge is fresh at `now` (within [`CLOCK_SKEW`]). The server is the
/// authority on freshness; the browser path checks too so that nobody types a PIN for a
/// challenge the server will refuse.
pub fn check_fresh(challenge: &Challenge, now: OffsetDateTime) -> Result<()> {
    challenge.check_time(now, CLOCK_SKEW).map_err(|e| match e {
        ChallengeError::Expired(_) => AgentError::new(ErrorCode::ChallengeExpired, e.to_string()),
        other => AgentError::new(ErrorCode::InvalidChallenge, other.to_string()),
    })
}

/// Signs `req` with a certificate from `inventory`, asking `pins` for the PIN.
///
/// `cancelled` is polled between the steps that matter (after the PIN dialog, before the
/// token signs): a cancelled request never logs in or signs. `now` gives the signing time.
pub fn sign(
    inventory: &Inventory,
    req: &SignRequest,
    pins: &dyn PinSource,
    rsa: RsaScheme,
    now: &dyn Fn() -> OffsetDateTime,
    cancelled: &dyn Fn() -> bool,
) -> Result<Signed> {
    check_request(req)?;
    let cert = inventory.select(req.certificate.as_deref())?;
    let offered = offered_mechanisms(cert);
    let plan = mechanism::choose(&cert.info.key, &offered, rsa)?;
    let statement = Statement::new(req.challenge.clone(), req.origin.clone(), &cert.info.der)
        .to_canonical_bytes();

    let session = cert
        .module
        .ctx
        .open_ro_session(cert.slot)
        .map_err(|e| token_error("C_OpenSession", e))?;
    let context = pin_context(req, cert);
    login::login(
        &cert.module,
        cert.slot,
        &session,
        pins,
        context.clone(),
        false,
        cancelled,
    )
    .map_err(|e| removed_or(cert, e))?;
    // Signed attributes after login, so signing-time is when the token signs, not when the
    // PIN dialog opened.
    let signed =
        envelope::signed_attributes(&statement, &cert.info, plan.digest, now()).and_then(|attrs| {
            let to_be_signed = envelope::to_be_signed(&attrs)?;
            if cancelled() {
                return Err(AgentError::new(
                    ErrorCode::Cancelled,
                    "cancelled before the token signed",
                ));
            }
            let signature = sign_logged_in(
                &session,
                cert,
                &plan,
                &to_be_signed,
                pins,
                context,
                cancelled,
            )?;
            Ok((attrs, to_be_signed, signature))
        });
    // Always log out, whatever happened: the next signature needs the PIN again.
    if let Err(e) = session.logout() {
        tracing::debug!("C_Logout: {e}");
    }
    let (attrs, to_be_signed, signature) = signed.map_err(|e| removed_or(cert, e))?;
    plan.self_check(&cert.info, &to_be_signed, &signature)?;

    let chain: Vec<CertInfo> = envelope::chain_for(&cert.info, &inventory.authorities)
        .into_iter()
        .cloned()
        .collect();
    let envelope = envelope::assemble(Parts {
        content: &statement,
        signer: &cert.info,
        chain: &chain,
        signed_attrs: attrs,
        digest: plan.digest,
        signature_algorithm: plan.signature_algorithm()?,
        signature,
    })?;
    tracing::info!(certificate = %cert.id, origin = %req.origin, "signed confirmation statement");
    Ok(Signed {
        envelope,
        statement,
        certificate_id: cert.id.clone(),
    })
}

fn sign_logged_in(
    session: &Session,
    cert: &TokenCertificate,
    plan: &mechanism::Plan,
    to_be_signed: &[u8],
    pins: &dyn PinSource,
    context: PinContext,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<u8>> {
    let key = find_private_key(session, cert)?;
    if let crate::certinfo::KeyKind::Gost { param_set, .. } = cert.info.key {
        check_gost_parameters(session, cert, key, param_set)?;
    }
    let (mechanism, input) = plan.token_input(to_be_signed);
    let always_auth = session
        .get_attributes(key, &[AttributeType::AlwaysAuthenticate])
        .ok()
        .into_iter()
        .flatten()
        .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)));
    // With CKA_ALWAYS_AUTHENTICATE: C_SignInit, then the context-specific login, then the
    // data (PKCS#11 §5.1).
    let context_login = || {
        if always_auth {
            login::login(
                &cert.module,
                cert.slot,
                session,
                pins,
                context.clone(),
                true,
                cancelled,
            )
        } else {
            Ok(())
        }
    };
    let raw = match mechanism {
        TokenMechanism::Raw(value) => {
            let path = cert.module.path.as_path();
            let failed = |what: &str, e: raw::RawError| match e {
                raw::RawError::Module(e) => token_error(what, e),
                raw::RawError::Load(e) => {
                    AgentError::new(ErrorCode::SigningFailed, format!("{what}: {e}"))
                }
            };
            raw::sign_init(path, session.handle(), value, key.handle())
                .map_err(|e| failed("C_SignInit", e))?;
            context_login()?;
            raw::sign(path, session.handle(), &input).map_err(|e| failed("C_Sign", e))?
        }
        TokenMechanism::Known(mechanism) if always_auth => {
            session
                .sign_init(&mechanism, key)
                .map_err(|e| token_error("C_SignInit", e))?;
            context_login()?;
            session
                .sign_update(&input)
                .map_err(|e| token_error("C_SignUpdate", e))?;
            session
                .sign_final()
                .map_err(|e| token_error("C_SignFinal", e))?
        }
        TokenMechanism::Known(mechanism) => session
            .sign(&mechanism, key, &input)
            .map_err(|e| token_error("C_Sign", e))?,
    };
    plan.finish(&cert.info.key, raw)
}

/// Finds the private key of `cert`: by CKA_ID first, then by public key (RSA modulus or
/// CKA_PUBLIC_KEY_INFO on the private key, or a public-key object with matching key whose
/// CKA_ID then names the private key).
pub fn find_private_key(session: &Session, cert: &TokenCertificate) -> Result<ObjectHandle> {
    let find = |template: &[Attribute]| {
        session
            .find_objects(template)
            .map_err(|e| token_error("C_FindObjects", e))
    };
    if !cert.key_id.is_empty() {
        let by_id = find(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(cert.key_id.clone()),
        ])?;
        if let [only] = by_id.as_slice() {
            return Ok(*only);
        }
    }
    let spki = cert.info.spki_der();
    let modulus = crate::certinfo::rsa_modulus(cert.info.public_key_bytes());
    for key in find(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])? {
        let attrs = session
            .get_attributes(key, &[AttributeType::Modulus, AttributeType::PublicKeyInfo])
            .unwrap_or_default();
        let matches = attrs.iter().any(|a| match a {
            Attribute::Modulus(m) => modulus
                .as_deref()
                .is_some_and(|n| strip_zeros(m) == strip_zeros(n)),
            Attribute::PublicKeyInfo(info) => !info.is_empty() && *info == spki,
            _ => false,
        });
        if matches {
            return Ok(key);
        }
    }
    let ec_point = der::asn1::OctetString::new(cert.info.public_key_bytes())
        .ok()
        .and_then(|o| der::Encode::to_der(&o).ok());
    // GOST public keys keep X‖Y in CKA_VALUE: the OCTET STRING inside the certificate's key.
    let gost_value = match cert.info.key {
        crate::certinfo::KeyKind::Gost { .. } => {
            der::asn1::OctetString::from_der(cert.info.public_key_bytes())
                .ok()
                .map(|o| o.as_bytes().to_vec())
        }
        _ => None,
    };
    for public in find(&[Attribute::Class(ObjectClass::PUBLIC_KEY)])? {
        let mut wanted = vec![
            AttributeType::EcPoint,
            AttributeType::Modulus,
            AttributeType::Id,
        ];
        if gost_value.is_some() {
            wanted.push(AttributeType::Value);
        }
        let attrs = session.get_attributes(public, &wanted).unwrap_or_default();
        let same_key = attrs.iter().any(|a| match a {
            Attribute::EcPoint(p) => {
                ec_point.as_deref() == Some(p.as_slice())
                    || p.as_slice() == cert.info.public_key_bytes()
            }
            Attribute::Modulus(m) => modulus
                .as_deref()
                .is_some_and(|n| strip_zeros(m) == strip_zeros(n)),
            Attribute::Value(v) => gost_value.as_deref() == Some(v.as_slice()),
            _ => false,
        });
        let id = attrs.iter().find_map(|a| match a {
            Attribute::Id(id) if !id.is_empty() => Some(id.clone()),
            _ => None,
        });
        if let (true, Some(id)) = (same_key, id) {
            if let [only] = find(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id),
            ])?
            .as_slice()
            {
                return Ok(*only);
            }
        }
    }
    Err(AgentError::new(
        ErrorCode::KeyNotFound,
        format!(
            "no private key with CKA_ID {} or the certificate's public key",
            hex(&cert.key_id)
        ),
    ))
}

/// How long a token that failed an operation is watched for having been pulled out: pcscd
/// notices a removal a few hundred milliseconds after the transmission that failed, and OpenSC
/// re-reads slot state at most once a second.
const REMOVAL_GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// `e` as it should reach the user: a token that fails an operation because it was pulled out
/// mid-way often reports a generic failure first (OpenSC: CKR_GENERAL_ERROR after "Transmit
/// failed"), the removal only a moment later — so after a generic failure the slot is watched
/// for [`REMOVAL_GRACE`] and, if the token is gone, the error is `device-removed`.
fn removed_or(cert: &TokenCertificate, e: AgentError) -> AgentError {
    if e.code != ErrorCode::SigningFailed {
        return e;
    }
    let started = std::time::Instant::now();
    loop {
        let present = match cert.module.ctx.get_slot_info(cert.slot) {
            Ok(info) => info.token_present(),
            Err(_) => false,
        };
        if !present {
            tracing::info!(certificate = %cert.id, "the token was removed during the operation");
            return AgentError::new(
                ErrorCode::DeviceRemoved,
                format!("{}; the token has left its slot since", e.detail),
            );
        }
        if started.elapsed() >= REMOVAL_GRACE {
            return e;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// CKA_GOSTR3410_PARAMS.
const CKA_GOSTR3410_PARAMS: cryptoki_sys::CK_ATTRIBUTE_TYPE = 0x250;

/// Refuses a GOST private key whose CKA_GOSTR3410_PARAMS names another parameter set than the
/// certificate's key (aliases count as the same set). A key without the attribute passes; the
/// self-check after signing still catches a wrong key.
fn check_gost_parameters(
    session: &Session,
    cert: &TokenCertificate,
    key: ObjectHandle,
    certificate_set: &str,
) -> Result<()> {
    let params = match raw::attribute(
        &cert.module.path,
        session.handle(),
        key.handle(),
        CKA_GOSTR3410_PARAMS,
    ) {
        Ok(Some(params)) => params,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::debug!("CKA_GOSTR3410_PARAMS: {e}");
            return Ok(());
        }
    };
    let token_set = der::asn1::ObjectIdentifier::from_der(&params)
        .ok()
        .and_then(|oid| tokenconfirm_gost::param_set(&oid))
        .map(|set| set.name);
    match token_set {
        Some(name) if name == certificate_set => Ok(()),
        other => Err(AgentError::new(
            ErrorCode::KeyNotFound,
            format!(
                "the key with CKA_ID {} is on GOST parameter set {}, the certificate's on {certificate_set}",
                hex(&cert.key_id),
                other.unwrap_or("(unknown)")
            ),
        )),
    }
}

/// The slot's mechanisms as raw CKM_ values, vendor-defined ones included (`cryptoki` drops
/// those it does not know, among them every GOST mechanism); empty when the module will not say.
fn offered_mechanisms(cert: &TokenCertificate) -> Vec<cryptoki_sys::CK_MECHANISM_TYPE> {
    match raw::mechanism_list(&cert.module.path, cert.slot.id()) {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!("C_GetMechanismList: {e}");
            cert.module
                .ctx
                .get_mechanism_list(cert.slot)
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect()
        }
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn pin_context(req: &SignRequest, cert: &TokenCertificate) -> PinContext {
    let d = cert.describe();
    PinContext {
        origin: req.origin.to_string(),
        purpose: req.challenge.purpose.as_str().to_owned(),
        account: req.challenge.account.clone(),
        holder: d.common_name.unwrap_or(d.subject),
        issuer: d.issuer_common_name.unwrap_or(d.issuer),
        validity: format!("{} – {}", d.not_before, d.not_after),
        token: d.token.label,
        count_low: d.token.pin_count_low,
        final_try: d.token.pin_final_try,
        lang: req.lang,
    }
}
