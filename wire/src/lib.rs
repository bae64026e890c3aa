//! Wire formats shared by every tokenconfirm component.
//!
//! * [`challenge`] — what the server issues (nonce, expected origin, account, purpose, times).
//! * [`statement`] — what the citizen signs: the challenge, the browser-reported origin and the
//!   signer certificate's SHA-256, serialized canonically ([`jcs`], RFC 8785).
//! * [`origin`] — strict parsing of web origins as browsers serialize them.
//! * [`native`] — native-messaging requests and replies between the extension and the agent.
//! * [`error`] — stable error codes with Russian and English messages.
//!
//! `docs/protocol.md` is the normative description; this crate is its executable form.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod b64;
pub mod challenge;
pub mod dn;
pub mod error;
pub mod jcs;
pub mod native;
pub mod origin;
pub mod statement;

/// Version of the protocol described in `docs/protocol.md`.
pub const PROTOCOL_VERSION: u32 = 1;
