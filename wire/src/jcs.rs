//! JSON Canonicalization Scheme (RFC 8785) for the values tokenconfirm signs.
//!
//! Statements contain only objects, arrays, strings, booleans, null and integers, so this
//! implementation accepts exactly those; a non-integer number is an error rather than a guess
//! at ECMAScript number formatting. Object members are ordered by their UTF-16 code units,
//! strings are escaped exactly as ECMAScript `JSON.stringify` does.

use serde_json::Value;

/// Why a value cannot be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// A number that is not an integer in the IEEE-754 exact range (|n| ≤ 2^53 − 1).
    #[error(
        "number {0} is not an exactly representable integer; statements carry no other numbers"
    )]
    UnsupportedNumber(String),
}

/// Largest integer that ECMAScript numbers represent exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Serializes `value` in RFC 8785 canonical form.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let ok = n
                .as_u64()
                .map(|u| u <= MAX_SAFE_INTEGER)
                .or_else(|| n.as_i64().map(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER))
                .unwrap_or(false);
            if !ok {
                return Err(JcsError::UnsupportedNumber(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(canonicalize(&v).unwrap()).unwrap()
    }

    #[test]
    fn orders_members_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (0xD83D…) in UTF-16 and so sorts before U+FB33, the
        // opposite of UTF-8 byte order: the case RFC 8785 §3.2.3 warns about.
        let v = json!({"\u{fb33}": 1, "\u{1f600}": 2, "b": 3, "a": 4, "\r": 5});
        assert_eq!(
            canon(v),
            "{\"\\r\":5,\"a\":4,\"b\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn escapes_like_ecmascript() {
        let v = json!("a\"b\\c\u{1}\u{1f}\n/é\u{2028}");
        assert_eq!(canon(v), "\"a\\\"b\\\\c\\u0001\\u001f\\n/é\u{2028}\"");
    }

    #[test]
    fn nested_and_literals() {
        let v = json!({"z": [true, false, null, -5, 0], "y": {"b": "x", "a": []}});
        assert_eq!(
            canon(v),
            r#"{"y":{"a":[],"b":"x"},"z":[true,false,null,-5,0]}"#
        );
    }

    #[test]
    fn rejects_non_integers_and_unsafe_integers() {
        assert!(canonicalize(&json!(1.5)).is_err());
        assert!(canonicalize(&json!(9007199254740992u64)).is_err());
        assert!(canonicalize(&json!(9007199254740991u64)).is_ok());
    }
}
