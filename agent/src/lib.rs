//! tokenconfirm agent: signs confirmation statements with keys on PKCS#11 tokens.
//!
//! The binary `tokenconfirm-agent` is both the browser's native-messaging host (see
//! [`native`]) and a CLI for integrators. Layers, each in its own module:
//! [`discovery`] finds modules, [`token`] talks PKCS#11, [`certinfo`] reads certificates,
//! [`pin`] asks for PINs, [`envelope`] builds CMS, [`sign`] ties them together, and
//! [`backend`] serves the native-messaging commands with them. [`readers`] watches PC/SC
//! readers and cards (products, PIN pads, changes) and [`hints`] says which driver a known card
//! is missing; [`cancel`] carries a request's cancellation into blocking work.
// `unsafe` lives only in `token::raw` (PKCS#11 calls cryptoki cannot make), which allows it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod cancel;
pub mod certinfo;
pub mod config;
pub mod discovery;
pub mod doctor;
pub mod envelope;
pub mod error;
pub mod hints;
pub mod install;
pub mod known_tokens;
pub mod native;
pub mod pin;
pub mod portal;
pub mod readers;
pub mod sign;
pub mod token;
