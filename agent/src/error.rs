//! The agent's error type: a stable [`ErrorCode`] plus technical detail.

use serde_json::Value;
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::ErrorBody;

/// An agent failure. `code` is what the extension and scripts act on; `detail` is a technical
/// English explanation for logs and integrators; `details` carries machine-readable extras
/// (e.g. PIN retry flags).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentError {
    /// Stable code.
    pub code: ErrorCode,
    /// Technical detail (never contains a PIN).
    pub detail: String,
    /// Machine-readable extras.
    pub details: Option<Value>,
}

impl AgentError {
    /// An error with technical detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        AgentError {
            code,
            detail: detail.into(),
            details: None,
        }
    }

    /// Adds machine-readable details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The reply body the extension receives.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody::new(self.code, Some(&self.detail), self.details.clone())
    }

    /// Process exit status for the CLI: 2 for usage/input problems, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.code {
            ErrorCode::InvalidChallenge
            | ErrorCode::InvalidRequest
            | ErrorCode::OriginNotAllowed
            | ErrorCode::Config
            | ErrorCode::Io => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.code.message_en())?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for AgentError {}

/// Shorthand for results in the agent.
pub type Result<T> = std::result::Result<T, AgentError>;
