//! The portal side of the CLI `confirm` command: the whole confirmation flow of
//! `docs/protocol.md` section 7 without a browser (for integrators and tests) — session and
//! CSRF token, login, challenge, and submitting the envelope the token produced.

use crate::error::{AgentError, Result};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokenconfirm_wire::challenge::{Challenge, Purpose};
use tokenconfirm_wire::error::ErrorCode;

/// A session with one portal.
pub struct PortalClient {
    base: String,
    agent: ureq::Agent,
    cookie: Option<String>,
    csrf: String,
}

fn unreachable(e: impl std::fmt::Display) -> AgentError {
    AgentError::new(ErrorCode::ServerUnreachable, e.to_string())
}

impl PortalClient {
    /// Opens a session with the portal at `base` (scheme, host and port; no trailing slash
    /// needed).
    pub fn connect(base: &str) -> Result<PortalClient> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        let mut client = PortalClient {
            base: base.trim_end_matches('/').to_owned(),
            agent,
            cookie: None,
            csrf: String::new(),
        };
        let session = client.call("GET", "/api/v1/session", None)?;
        client.take_csrf(&session);
        Ok(client)
    }

    fn take_csrf(&mut self, body: &Value) {
        if let Some(token) = body.get("csrfToken").and_then(Value::as_str) {
            self.csrf = token.to_owned();
        }
    }

    /// One API call; a 4xx/5xx answer becomes `server-refused` with the portal's code and
    /// message in the detail.
    fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                if let Some(c) = &self.cookie {
                    req = req.header("Cookie", c);
                }
                req.call()
            }
            (_, body) => {
                let mut req = self.agent.post(&url).header("X-CSRF-Token", &self.csrf);
                if let Some(c) = &self.cookie {
                    req = req.header("Cookie", c);
                }
                req.send_json(body.unwrap_or(&Value::Null))
            }
        }
        .map_err(unreachable)?;
        for value in response.headers().get_all("set-cookie") {
            if let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next()) {
                self.cookie = Some(pair.trim().to_owned());
            }
        }
        let status = response.status().as_u16();
        let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if status >= 400 {
            let error = &value["error"];
            let code = error["code"].as_str().unwrap_or("unknown");
            let message = error["message"]["en"].as_str().unwrap_or("");
            let reason = error["reason"]
                .as_str()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(AgentError::new(
                ErrorCode::ServerRefused,
                format!("{method} {path}: HTTP {status} {code}: {message}{reason}"),
            ));
        }
        Ok(value)
    }

    /// Logs in; returns the account.
    pub fn login(&mut self, login: &str, password: &SecretString) -> Result<Value> {
        let body = json!({"login": login, "password": password.expose_secret()});
        let answer = self.call("POST", "/api/v1/session", Some(&body))?;
        self.take_csrf(&answer);
        Ok(answer["account"].clone())
    }

    /// Asks for a challenge for `purpose`.
    pub fn challenge(&mut self, purpose: Purpose) -> Result<Challenge> {
        let answer = self.call(
            "POST",
            "/api/v1/challenges",
            Some(&json!({"purpose": purpose})),
        )?;
        let bytes = serde_json::to_vec(&answer).map_err(unreachable)?;
        Challenge::from_json(&bytes)
            .map_err(|e| AgentError::new(ErrorCode::InvalidChallenge, e.to_string()))
    }

    /// Submits a confirmation; returns the portal's answer (`{"level", "account"}`).
    pub fn confirm(&mut self, envelope: &[u8]) -> Result<Value> {
        let body = json!({"envelope": tokenconfirm_wire::b64::std_encode(envelope)});
        self.call("POST", "/api/v1/confirmations", Some(&body))
    }

    /// Registers a confirmed account from the certificate; returns the portal's answer.
    pub fn register(
        &mut self,
        envelope: &[u8],
        login: &str,
        password: &SecretString,
    ) -> Result<Value> {
        let body = json!({
            "envelope": tokenconfirm_wire::b64::std_encode(envelope),
            "login": login,
            "password": password.expose_secret(),
        });
        let answer = self.call("POST", "/api/v1/registrations", Some(&body))?;
        self.take_csrf(&answer);
        Ok(answer)
    }
}
