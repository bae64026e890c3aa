//! Enumerating modules, tokens and signing certificates.

use super::module::{self, Module};
use crate::certinfo::{self, CertInfo};
use crate::discovery::Candidate;
use crate::error::{AgentError, Result};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};
use cryptoki::slot::Slot;
use std::sync::Arc;
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{CertificateDescription, Problem, TokenDescription};
use tokenconfirm_wire::statement::certificate_sha256;

/// A signing certificate on a token, with where to find its key.
#[derive(Debug, Clone)]
pub struct TokenCertificate {
    /// The module the token was found through.
    pub module: Arc<Module>,
    /// The slot holding the token (valid for this process run only).
    pub slot: Slot,
    /// The token.
    pub token: TokenDescription,
    /// The parsed certificate.
    pub info: CertInfo,
    /// CKA_ID of the certificate object (usually equal to its key's).
    pub key_id: Vec<u8>,
    /// CKA_LABEL of the certificate object.
    pub label: String,
    /// The certificate's id ([`certificate_sha256`]).
    pub id: String,
}

impl TokenCertificate {
    /// What `list-certificates` reports for this certificate.
    pub fn describe(&self) -> CertificateDescription {
        use certinfo::oid;
        let (not_before, not_after) = self.info.validity();
        CertificateDescription {
            id: self.id.clone(),
            common_name: self.info.subject_attr(oid::CN),
            surname: self.info.subject_attr(oid::SURNAME),
            given_name: self.info.subject_attr(oid::GIVEN_NAME),
            snils: self.info.subject_attr(oid::SNILS),
            inn: self.info.subject_attr(oid::INN),
            organization: self.info.subject_attr(oid::ORGANIZATION),
            subject: certinfo::display_name(self.info.subject()),
            issuer: certinfo::display_name(self.info.issuer()),
            issuer_common_name: certinfo::name_attr(self.info.issuer(), oid::CN),
            serial_number: self.info.serial_hex(),
            not_before,
            not_after,
            key_type: self.info.key.name(),
            key_id: certinfo::hex(&self.key_id),
            token: self.token.clone(),
            certificate: tokenconfirm_wire::b64::std_encode(&self.info.der),
        }
    }
}

/// A token seen in a slot.
#[derive(Debug, Clone)]
pub struct TokenReport {
    /// The token.
    pub token: TokenDescription,
    /// Number of signing certificates found on it.
    pub certificates: usize,
}

/// What happened with one module.
#[derive(Debug, Clone)]
pub struct ModuleReport {
    /// Path and source of the module.
    pub candidate: Candidate,
    /// Library description when it loaded, the error otherwise.
    pub status: std::result::Result<String, AgentError>,
    /// Tokens found through it.
    pub tokens: Vec<TokenReport>,
}

/// Everything found on all modules.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Per-module reports, in candidate order.
    pub modules: Vec<ModuleReport>,
    /// Signing certificates (end-entity, keyUsage allows signing).
    pub certificates: Vec<TokenCertificate>,
    /// CA certificates stored on the tokens: chain material for envelopes.
    pub authorities: Vec<CertInfo>,
    /// Modules that failed and tokens that could not be read.
    pub problems: Vec<Problem>,
}

impl Inventory {
    /// Records a module that cannot be used this scan: a problem and a failed module report.
    fn refuse(&mut self, candidate: &Candidate, e: AgentError) {
        self.problems.push(Problem {
            source: candidate.path.display().to_string(),
            code: e.code,
            detail: e.detail.clone(),
        });
        self.modules.push(ModuleReport {
            candidate: candidate.clone(),
            status: Err(e),
            tokens: Vec::new(),
        });
    }

    /// Loads every candidate module and reads every token. Failures are recorded in
    /// `problems`, never fatal. Slots are enumerated afresh (`C_GetSlotList` with
    /// tokenPresent) every time; a module is re-initialized first when it is idle and stale
    /// ([`module::load`]); a module whose token was removed while being read, or whose slot list
    /// failed, is marked stale for the next scan; a module stuck in an earlier scan is skipped
    /// (`token-not-responding`).
    pub fn scan(candidates: &[Candidate]) -> Inventory {
        let mut inv = Inventory::default();
        for candidate in candidates {
            let loaded = module::load(&candidate.path, &candidate.source);
            let module = match loaded {
                Ok(m) => m,
                Err(e) => {
                    inv.refuse(candidate, e);
                    continue;
                }
            };
            let _scan = match module.begin_scan() {
                Ok(guard) => guard,
                Err(e) => {
                    tracing::warn!("{}", e.detail);
                    inv.refuse(candidate, e);
                    continue;
                }
            };
            let mut report = ModuleReport {
                candidate: candidate.clone(),
                status: Ok(module::describe(&module)),
                tokens: Vec::new(),
            };
            let slots = match module.ctx.get_slots_with_token() {
                Ok(slots) => slots,
                Err(e) => {
                    module.mark_stale(&format!("C_GetSlotList: {e}"));
                    inv.problems.push(Problem {
                        source: candidate.path.display().to_string(),
                        code: ErrorCode::ModuleLoadFailed,
                        detail: format!("C_GetSlotList: {e}"),
                    });
                    inv.modules.push(report);
                    continue;
                }
            };
            for slot in slots {
                // Empty slots (SoftHSM's spare slot, a blank card) are not tokens to use.
                if module
                    .ctx
                    .get_token_info(slot)
                    .is_ok_and(|t| !t.token_initialized())
                {
                    continue;
                }
                match read_token(&module, slot) {
                    Ok((token, certs, authorities)) => {
                        report.tokens.push(TokenReport {
                            token,
                            certificates: certs.len(),
                        });
                        inv.certificates.extend(certs);
                        inv.authorities.extend(authorities);
                    }
                    Err(e) => {
                        if e.code == ErrorCode::DeviceRemoved {
                            module.mark_stale(&e.detail);
                        }
                        inv.problems.push(Problem {
                            source: format!("{} slot {}", candidate.path.display(), slot.id()),
                            code: e.code,
                            detail: e.detail,
                        })
                    }
                }
            }
            module.set_empty(report.tokens.is_empty());
            inv.modules.push(report);
        }
        inv
    }

    /// Marks the modules of every certificate found stale (e.g. after a token was removed in
    /// the middle of signing), so that they start afresh before their next scan.
    pub fn mark_stale(&self, why: &str) {
        for cert in &self.certificates {
            cert.module.mark_stale(why);
        }
    }

    /// Paths of the modules that loaded.
    pub fn loaded_modules(&self) -> Vec<&std::path::Path> {
        self.modules
            .iter()
            .filter(|m| m.status.is_ok())
            .map(|m| m.candidate.path.as_path())
            .collect()
    }

    /// True when at least one token was seen.
    pub fn any_token(&self) -> bool {
        self.modules.iter().any(|m| !m.tokens.is_empty())
    }

    /// Picks the certificate a selector names: its id, a unique id prefix of at least 6
    /// characters, its CKA_ID in hex, or its CKA_LABEL. Without a selector, the only
    /// certificate present.
    pub fn select(&self, selector: Option<&str>) -> Result<&TokenCertificate> {
        let matches: Vec<&TokenCertificate> = match selector {
            None => self.certificates.iter().collect(),
            Some(sel) => {
                let exact: Vec<_> = self.certificates.iter().filter(|c| c.id == sel).collect();
                if !exact.is_empty() {
                    exact
                } else {
                    let key_id = certinfo::unhex(sel);
                    self.certificates
                        .iter()
                        .filter(|c| {
                            (sel.len() >= 6 && c.id.starts_with(sel))
                                || key_id
                                    .as_deref()
                                    .is_some_and(|k| !k.is_empty() && k == c.key_id)
                                || c.label == sel
                        })
                        .collect()
                }
            }
        };
        // The same certificate may sit on two tokens or be reachable through two modules;
        // that is not ambiguity unless the ids differ.
        let mut ids: Vec<&str> = matches.iter().map(|c| c.id.as_str()).collect();
        ids.dedup();
        match (matches.first(), ids.len()) {
            (Some(first), 1) => Ok(first),
            (None, _)
                if !self.modules.is_empty() && self.modules.iter().all(|m| m.status.is_err()) =>
            {
                Err(AgentError::new(
                    ErrorCode::ModuleLoadFailed,
                    self.problem_summary(),
                ))
            }
            (None, _) if !self.any_token() => {
                Err(AgentError::new(ErrorCode::NoToken, self.problem_summary()))
            }
            (None, _) if selector.is_some() => Err(AgentError::new(
                ErrorCode::CertificateNotFound,
                format!(
                    "no signing certificate matches {:?}",
                    selector.unwrap_or_default()
                ),
            )),
            (None, _) => Err(AgentError::new(
                ErrorCode::NoCertificate,
                "tokens are present but hold no signing certificate",
            )),
            _ => Err(AgentError::new(
                ErrorCode::CertificateAmbiguous,
                format!("candidates: {}", ids.join(", ")),
            )),
        }
    }

    fn problem_summary(&self) -> String {
        if self.modules.is_empty() {
            return "no PKCS#11 module configured or found".into();
        }
        let loaded = self.modules.iter().filter(|m| m.status.is_ok()).count();
        let mut text = format!(
            "{loaded} of {} module(s) loaded, no token present",
            self.modules.len()
        );
        for p in &self.problems {
            text.push_str(&format!("; {}: {}", p.source, p.detail));
        }
        text
    }
}

/// Describes a token from its CK_TOKEN_INFO.
pub fn describe_token(module: &Module, slot: Slot) -> Result<TokenDescription> {
    let info = module
        .ctx
        .get_token_info(slot)
        .map_err(|e| super::token_error("C_GetTokenInfo", e))?;
    Ok(TokenDescription {
        label: info.label().trim().to_owned(),
        manufacturer: info.manufacturer_id().trim().to_owned(),
        model: info.model().trim().to_owned(),
        serial: info.serial_number().trim().to_owned(),
        module: module.path.display().to_string(),
        pin_pad: info.protected_authentication_path(),
        pin_count_low: info.user_pin_count_low(),
        pin_final_try: info.user_pin_final_try(),
        pin_locked: info.user_pin_locked(),
        min_pin_length: info.min_pin_length() as u64,
        max_pin_length: info.max_pin_length() as u64,
    })
}

type TokenContents = (TokenDescription, Vec<TokenCertificate>, Vec<CertInfo>);

fn read_token(module: &Arc<Module>, slot: Slot) -> Result<TokenContents> {
    let token = describe_token(module, slot)?;
    let session = module
        .ctx
        .open_ro_session(slot)
        .map_err(|e| super::token_error("C_OpenSession", e))?;
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map_err(|e| super::token_error("C_FindObjects", e))?;
    let mut certs = Vec::new();
    let mut authorities = Vec::new();
    for handle in handles {
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Value,
                    AttributeType::Id,
                    AttributeType::Label,
                ],
            )
            .map_err(|e| super::token_error("C_GetAttributeValue", e))?;
        let (mut der, mut key_id, mut label) = (Vec::new(), Vec::new(), String::new());
        for attr in attrs {
            match attr {
                Attribute::Value(v) => der = v,
                Attribute::Id(v) => key_id = v,
                Attribute::Label(v) => label = String::from_utf8_lossy(&v).into_owned(),
                _ => {}
            }
        }
        // An unreadable certificate is skipped (and logged), not fatal for the token.
        let info = match CertInfo::parse(der) {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(token = %token.label, %label, "skipping certificate: {e}");
                continue;
            }
        };
        if info.is_ca() {
            authorities.push(info);
        } else if info.can_sign() {
            let id = certificate_sha256(&info.der);
            certs.push(TokenCertificate {
                module: module.clone(),
                slot,
                token: token.clone(),
                info,
                key_id,
                label,
                id,
            });
        }
    }
    Ok((token, certs, authorities))
}
