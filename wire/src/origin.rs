//! Web origins in the serialized form browsers report (`scheme://host[:port]`).
//!
//! Only `https` origins are accepted, plus `http` on loopback hosts for development. The parser
//! is strict on purpose: an origin that a browser would never produce (path, user info, upper
//! case, default port spelled out, trailing slash) is rejected instead of normalized, so that two
//! different strings never denote the same origin.

use std::fmt;

/// Why a string is not an acceptable origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not of the form `scheme://host[:port]`.
    #[error("not a serialized web origin (scheme://host[:port]): {0:?}")]
    Malformed(String),
    /// A scheme other than https (or http on a loopback host).
    #[error("origin {0:?} is neither https nor http on localhost/127.0.0.1/[::1]")]
    NotSecure(String),
}

/// A validated web origin, e.g. `https://gosuslugi.example` or `http://127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin(String);

const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

impl Origin {
    /// Parses a serialized origin; see the module documentation for what is accepted.
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let malformed = || OriginError::Malformed(text.to_owned());
        let (scheme, rest) = text.split_once("://").ok_or_else(malformed)?;
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', '\\']) {
            return Err(malformed());
        }
        let (host, port) = split_port(rest).ok_or_else(malformed)?;
        if !valid_host(host) {
            return Err(malformed());
        }
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => return Err(OriginError::NotSecure(text.to_owned())),
        };
        if port == Some(default_port) {
            return Err(malformed());
        }
        if scheme == "http" && !LOOPBACK_HOSTS.contains(&host) {
            return Err(OriginError::NotSecure(text.to_owned()));
        }
        Ok(Origin(text.to_owned()))
    }

    /// The origin exactly as serialized.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin of a URL such as `chrome-extension://…/` or `https://host/path?q`: its
    /// scheme and authority. Useful where a browser reports a URL rather than an origin.
    pub fn of_url(url: &str) -> Result<Self, OriginError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| OriginError::Malformed(url.to_owned()))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Origin::parse(&format!("{scheme}://{}", &rest[..end]))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Origin {
    type Error = OriginError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Origin::parse(&value)
    }
}

impl From<Origin> for String {
    fn from(value: Origin) -> Self {
        value.0
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Origin::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Splits `host[:port]`, handling bracketed IPv6 literals. The port must be 1–65535 without
/// leading zeros.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if p.is_empty() || p.starts_with('0') || !p.bytes().all(|b| b.is_ascii_digit()) => {
            return None
        }
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    Some((host, port))
}

/// Lower-case DNS names (ASCII, punycode for IDN as browsers serialize them), IPv4 dotted quads
/// or bracketed IPv6 literals.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // Only the canonical (RFC 5952, lower-case, compressed) spelling browsers serialize.
        return inner
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| a.to_string() == inner);
    }
    if host.is_empty() || host.len() > 253 || host.ends_with('.') {
        return false;
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_browser_serializations() {
        for ok in [
            "https://gosuslugi.ru",
            "https://esia.gosuslugi.ru:8443",
            "https://xn--80ak6aa92e.xn--p1ai",
            "http://localhost:8080",
            "http://127.0.0.1",
            "http://[::1]:3000",
            "https://[2001:db8::1]",
        ] {
            assert!(Origin::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_browsers_never_send() {
        for bad in [
            "https://gosuslugi.ru/",
            "https://Gosuslugi.ru",
            "https://gosuslugi.ru:443",
            "https://user@gosuslugi.ru",
            "https://gosuslugi.ru:08443",
            "https://gosuslugi.ru:",
            "https://",
            "gosuslugi.ru",
            "https://gosuslugi..ru",
            "https://[::1",
            "https://[2001:DB8::1]",
            "https://[2001:db8:0:0:0:0:0:1]",
            "null",
        ] {
            assert!(
                matches!(Origin::parse(bad), Err(OriginError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn insecure_schemes_are_refused() {
        for bad in [
            "http://gosuslugi.ru",
            "ftp://x.ru",
            "chrome-extension://abc",
        ] {
            assert!(
                matches!(Origin::parse(bad), Err(OriginError::NotSecure(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn origin_of_url() {
        assert_eq!(
            Origin::of_url("https://portal.example/confirm?x=1")
                .unwrap()
                .as_str(),
            "https://portal.example"
        );
    }
}
