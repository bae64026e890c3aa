//! Distinguished-name comparison (RFC 5280 §7.1): attribute values of string types compare
//! case-insensitively after trimming and collapsing whitespace, whatever string type encodes
//! them; other values compare byte for byte.

use der::Any;
use x509_cert::name::Name;

pub use tokenconfirm_wire::dn::string_value;

/// Case-folded, trimmed, internal whitespace collapsed (the RFC 4518 essentials).
pub fn fold(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when two attribute values match.
pub fn values_match(a: &Any, b: &Any) -> bool {
    match (string_value(a), string_value(b)) {
        (Some(x), Some(y)) => fold(&x) == fold(&y),
        _ => a == b,
    }
}

/// True when two names are equal under RFC 5280 §7.1: same RDN sequence, each RDN the same
/// set of attribute type/value pairs.
pub fn names_equal(a: &Name, b: &Name) -> bool {
    if a == b {
        return true;
    }
    let (ra, rb): (Vec<_>, Vec<_>) = (a.iter_rdn().collect(), b.iter_rdn().collect());
    ra.len() == rb.len()
        && ra.iter().zip(rb.iter()).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().all(|ax| {
                    y.iter()
                        .any(|ay| ax.oid == ay.oid && values_match(&ax.value, &ay.value))
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn case_and_whitespace_insensitive() {
        let a = Name::from_str("CN=Test  CA,O=Example").unwrap();
        let b = Name::from_str("CN=test ca,O=EXAMPLE").unwrap();
        assert!(names_equal(&a, &b));
        let c = Name::from_str("CN=test cb,O=EXAMPLE").unwrap();
        assert!(!names_equal(&a, &c));
        let d = Name::from_str("O=Example").unwrap();
        assert!(!names_equal(&a, &d));
    }
}
