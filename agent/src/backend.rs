//! The real [`Backend`]: the configured modules, scanned fresh for every command (tokens come
//! and go), with PIN sources chosen by the request and the configuration; the PC/SC readers
//! beside them (for `wait-for-token` and for hints about drivers a known card is missing).

use crate::config::{Config, PinDialog, PinPromptKind};
use crate::discovery::{self, Candidate};
use crate::error::{AgentError, Result};
use crate::hints;
use crate::native::host::Backend;
use crate::pin::{GivenPin, NoPin, PinSource, PinentryPin};
use crate::sign::{self, SignRequest};
use crate::token::inventory::Inventory;
use std::path::PathBuf;
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{CertificateList, SignParams, SignResult};

/// Modules and settings the agent works with.
#[derive(Debug, Clone)]
pub struct TokenBackend {
    /// Effective configuration.
    pub config: Config,
    /// Modules given on the command line (they replace configuration and discovery).
    pub command_line_modules: Vec<PathBuf>,
}

impl TokenBackend {
    /// The module candidates: command-line modules if any, else configured + discovered ones.
    pub fn candidates(&self) -> Vec<Candidate> {
        if !self.command_line_modules.is_empty() {
            let explicit: Vec<(PathBuf, &str)> = self
                .command_line_modules
                .iter()
                .map(|p| (p.clone(), "command line"))
                .collect();
            return discovery::candidates(&explicit, false);
        }
        let explicit: Vec<(PathBuf, &str)> = self
            .config
            .modules
            .iter()
            .map(|p| (p.clone(), "config"))
            .collect();
        discovery::candidates(&explicit, self.config.discover)
    }

    /// Scans every module and token now.
    pub fn inventory(&self) -> Inventory {
        Inventory::scan(&self.candidates())
    }

    /// The list reply, with the readers (read before the modules, so that a card inserted
    /// during the scan makes the next `wait-for-token` answer at once) and the hints for known
    /// cards whose module is missing. With no module at all, `no-modules`, whose `details`
    /// carry `{"hints": […]}` when there are hints.
    pub fn certificate_list(&self) -> Result<CertificateList> {
        let readers = crate::readers::list();
        let candidates = self.candidates();
        if candidates.is_empty() {
            let hints = hints::hints::<PathBuf>(&readers, &[]);
            let e = AgentError::new(
                ErrorCode::NoModules,
                "no module configured, registered with p11-kit or at a known location",
            );
            return Err(if hints.is_empty() {
                e
            } else {
                e.with_details(serde_json::json!({ "hints": hints }))
            });
        }
        let inv = Inventory::scan(&candidates);
        Ok(CertificateList {
            certificates: inv.certificates.iter().map(|c| c.describe()).collect(),
            hints: hints::hints(&readers, &inv.loaded_modules()),
            problems: inv.problems,
            readers: Some(readers),
        })
    }

    /// Signs with the PIN source given, at the current time. The request is checked (origin,
    /// challenge) before any module is loaded or token touched.
    pub fn sign_with(
        &self,
        req: &SignRequest,
        pins: &dyn PinSource,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<sign::Signed> {
        sign::check_request(req)?;
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Err(AgentError::new(
                ErrorCode::NoModules,
                "no module configured or found",
            ));
        }
        let inv = Inventory::scan(&candidates);
        let now = time::OffsetDateTime::now_utc;
        let signed = sign::sign(&inv, req, pins, self.config.rsa_scheme, &now, cancelled);
        if let Err(e) = &signed {
            if e.code == ErrorCode::DeviceRemoved {
                // Sessions and handles died with the token: start the module afresh next time.
                inv.mark_stale(&e.detail);
            }
        }
        signed
    }

    /// The PIN source for a native-messaging request without a PIN.
    fn prompt(&self) -> Box<dyn PinSource> {
        match self.config.pin_prompt {
            PinPromptKind::Pinentry => Box::new(PinentryPin {
                program: self.config.pinentry_program.clone(),
            }),
            PinPromptKind::None => Box::new(NoPin),
        }
    }
}

impl Backend for TokenBackend {
    fn list_certificates(&self) -> Result<CertificateList> {
        self.certificate_list()
    }

    fn sign(&self, params: SignParams, cancelled: &dyn Fn() -> bool) -> Result<SignResult> {
        let req = SignRequest {
            challenge: params.challenge,
            origin: params.origin,
            certificate: Some(params.certificate_id),
            lang: params.lang,
        };
        sign::check_request(&req)?;
        sign::check_fresh(&req.challenge, time::OffsetDateTime::now_utc())?;
        let pins: Box<dyn PinSource> = match params.pin {
            Some(pin) => Box::new(GivenPin(pin)),
            None => self.prompt(),
        };
        self.sign_with(&req, pins.as_ref(), cancelled)
            .map(|s| s.to_result())
    }

    fn capabilities(&self) -> Vec<String> {
        let installed = match &self.config.pinentry_program {
            Some(p) => p.is_file(),
            None => crate::doctor::in_path("pinentry").is_some(),
        };
        // PIN-pad tokens (protected authentication path) log in on the reader.
        let mut caps = vec!["pin-pad".to_owned()];
        match (self.config.pin_prompt, self.config.pin_dialog) {
            (PinPromptKind::Pinentry, PinDialog::Agent) if installed => {
                caps.extend(["pinentry".into(), "pin-dialog-agent".into()])
            }
            (PinPromptKind::Pinentry, _) if installed => caps.push("pinentry".into()),
            _ => {}
        }
        caps
    }
}
