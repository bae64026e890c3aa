//! BER → DER for the encodings CMS producers actually emit: indefinite lengths, constructed
//! string types (chunked OCTET STRINGs), non-minimal length octets. Element order is kept
//! (SET OF sorting is not changed), so signatures over DER-encoded parts stay verifiable.

use crate::error::{Code, Result, VerifyError};

/// Deepest nesting accepted (CMS needs about 15).
const MAX_DEPTH: usize = 64;

fn err(detail: &str) -> VerifyError {
    VerifyError::new(Code::MalformedInput, detail.to_owned())
}

/// One parsed header: tag bytes, constructed flag, length (None = indefinite), header size.
struct Header {
    tag_len: usize,
    constructed: bool,
    length: Option<usize>,
    header_len: usize,
    minimal: bool,
}

fn header(input: &[u8]) -> Result<Header> {
    let first = *input.first().ok_or_else(|| err("truncated: missing tag"))?;
    let constructed = first & 0x20 != 0;
    let mut tag_len = 1;
    if first & 0x1f == 0x1f {
        loop {
            let b = *input.get(tag_len).ok_or_else(|| err("truncated tag"))?;
            tag_len += 1;
            if b & 0x80 == 0 {
                break;
            }
            if tag_len > 6 {
                return Err(err("tag number too large"));
            }
        }
    }
    let l0 = *input
        .get(tag_len)
        .ok_or_else(|| err("truncated: missing length"))?;
    if l0 < 0x80 {
        return Ok(Header {
            tag_len,
            constructed,
            length: Some(l0 as usize),
            header_len: tag_len + 1,
            minimal: true,
        });
    }
    if l0 == 0x80 {
        if !constructed {
            return Err(err("indefinite length on a primitive element"));
        }
        return Ok(Header {
            tag_len,
            constructed,
            length: None,
            header_len: tag_len + 1,
            minimal: false,
        });
    }
    let n = (l0 & 0x7f) as usize;
    if n > 4 {
        return Err(err("length too large"));
    }
    let bytes = input
        .get(tag_len + 1..tag_len + 1 + n)
        .ok_or_else(|| err("truncated length"))?;
    let length = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let minimal = bytes[0] != 0 && length >= 0x80;
    Ok(Header {
        tag_len,
        constructed,
        length: Some(length),
        header_len: tag_len + 1 + n,
        minimal,
    })
}

/// True when `input` is exactly one element with definite, minimal lengths throughout and no
/// constructed universal string types — i.e. nothing [`normalize`] would change.
pub fn is_der(input: &[u8]) -> bool {
    fn walk(input: &[u8], depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let h = header(input).ok()?;
        let len = h.length?;
        if !h.minimal {
            return None;
        }
        let end = h.header_len.checked_add(len)?;
        let content = input.get(h.header_len..end)?;
        if h.constructed {
            if is_string_tag(input[0]) {
                return None;
            }
            let mut pos = 0;
            while pos < content.len() {
                pos += walk(&content[pos..], depth + 1)?;
            }
        }
        Some(end)
    }
    walk(input, 0) == Some(input.len())
}

/// Universal string types whose constructed (chunked) BER form DER forbids.
fn is_string_tag(tag: u8) -> bool {
    // constructed universal: BIT STRING 0x23, OCTET STRING 0x24, UTF8String 0x2c,
    // NumericString 0x32 … BMPString 0x3e
    matches!(tag, 0x23 | 0x24 | 0x2c | 0x32..=0x36 | 0x3a..=0x3e)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Normalizes one BER element to DER (see the module doc). Trailing bytes are an error.
pub fn normalize(input: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let used = element(input, &mut out, 0)?;
    if used != input.len() {
        return Err(err("trailing bytes after the element"));
    }
    Ok(out)
}

/// Writes the DER form of the element at the start of `input`; returns bytes consumed.
fn element(input: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<usize> {
    if depth > MAX_DEPTH {
        return Err(err("nesting too deep"));
    }
    let h = header(input)?;
    let tag = &input[..h.tag_len];
    if !h.constructed {
        let len = h.length.ok_or_else(|| err("indefinite primitive"))?;
        let end = h
            .header_len
            .checked_add(len)
            .ok_or_else(|| err("length overflow"))?;
        let content = input
            .get(h.header_len..end)
            .ok_or_else(|| err("truncated content"))?;
        out.extend_from_slice(tag);
        push_len(out, content.len());
        out.extend_from_slice(content);
        return Ok(end);
    }
    // Constructed: collect children (definite or until end-of-contents).
    let mut children = Vec::new();
    let mut pos = h.header_len;
    let end = match h.length {
        Some(len) => Some(
            h.header_len
                .checked_add(len)
                .ok_or_else(|| err("length overflow"))?,
        ),
        None => None,
    };
    if let Some(e) = end {
        if e > input.len() {
            return Err(err("truncated content"));
        }
    }
    loop {
        match end {
            Some(e) if pos >= e => break,
            None if input.get(pos..pos + 2) == Some(&[0, 0]) => {
                pos += 2;
                break;
            }
            _ => {}
        }
        let limit = end.unwrap_or(input.len());
        let rest = input
            .get(pos..limit)
            .ok_or_else(|| err("truncated content"))?;
        if rest.is_empty() {
            return Err(err("missing end-of-contents"));
        }
        pos += element(rest, &mut children, depth + 1)?;
    }
    if end.is_some_and(|e| pos != e) {
        return Err(err("child overruns its parent"));
    }
    if h.tag_len == 1 && is_string_tag(tag[0]) {
        // Chunked string: concatenate the chunks' contents into one primitive string.
        let mut joined = Vec::new();
        let mut p = 0;
        let mut first = true;
        while p < children.len() {
            let ch = header(&children[p..])?;
            let len = ch.length.ok_or_else(|| err("indefinite chunk"))?;
            let content = children
                .get(p + ch.header_len..p + ch.header_len + len)
                .ok_or_else(|| err("chunk"))?;
            if tag[0] == 0x23 && !first {
                // BIT STRING chunks: each carries an unused-bits octet; only the last may be non-zero.
                joined.extend_from_slice(content.get(1..).unwrap_or_default());
            } else {
                joined.extend_from_slice(content);
            }
            first = false;
            p += ch.header_len + len;
        }
        out.push(tag[0] & !0x20);
        push_len(out, joined.len());
        out.extend_from_slice(&joined);
    } else {
        out.extend_from_slice(tag);
        push_len(out, children.len());
        out.extend_from_slice(&children);
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_and_chunked() {
        // SEQUENCE (indef) { OCTET STRING constructed (indef) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x00,
            0x00,
        ];
        assert!(!is_der(&ber));
        let der = normalize(&ber).unwrap();
        assert_eq!(der, [0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c']);
        assert!(is_der(&der));
    }

    #[test]
    fn non_minimal_lengths_are_fixed() {
        let ber = [0x04, 0x81, 0x01, 0x07];
        assert!(!is_der(&ber));
        assert_eq!(normalize(&ber).unwrap(), [0x04, 0x01, 0x07]);
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        for bad in [
            &[0x30, 0x80][..],
            &[0x30, 0x80, 0x02, 0x01],
            &[0x04, 0x85, 1, 1, 1, 1, 1],
            &[0x1f],
            &[0x30, 0x02, 0x04, 0x05],
            &[0x04, 0x80, 0, 0],
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        let mut deep = [0x30, 0x80].repeat(100);
        deep.extend([0, 0].repeat(100));
        assert!(normalize(&deep).is_err());
    }
}
