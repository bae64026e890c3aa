#![forbid(unsafe_code)]
//! The tokenconfirm reference confirmation service: accounts with three levels, challenges,
//! verification of signed confirmations, durable storage with an append-only audit trail,
//! and the HTTP API and demo portal around them.

pub mod config;
pub mod confirm;
pub mod error;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod secrets;
pub mod store;
pub mod verifier;
