//! Base64 helpers: base64url without padding for identifiers, standard base64 for blobs.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Encodes bytes as base64url without padding (RFC 4648 §5), as used for nonces and ids.
pub fn url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; any other alphabet or padding is rejected.
pub fn url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// Encodes bytes as standard base64 with padding, as used for envelopes and certificates.
pub fn std_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64 with padding, ignoring ASCII whitespace (line-wrapped files).
pub fn std_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact)
}
