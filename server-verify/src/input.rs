//! Turning whatever the caller has (PEM, base64, DER, BER) into DER bytes.

use crate::error::{Code, Result, VerifyError};

/// Decodes PEM (any label; the first block), bare base64 (whitespace allowed) or binary.
/// Binary that is BER (indefinite lengths, constructed strings, non-minimal lengths) is
/// normalized to DER. The result is one DER element; trailing bytes are an error.
pub fn to_der(input: &[u8]) -> Result<Vec<u8>> {
    to_der_cow(input).map(std::borrow::Cow::into_owned)
}

/// [`to_der`] without copying input that already is DER.
pub fn to_der_cow(input: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    if crate::ber::is_der(input) {
        return Ok(Cow::Borrowed(input));
    }
    let der = match unwrap_text(input)? {
        Some(decoded) => decoded,
        None => input.to_vec(),
    };
    if crate::ber::is_der(&der) {
        return Ok(Cow::Owned(der));
    }
    crate::ber::normalize(&der).map(Cow::Owned)
}

/// PEM or base64 text → bytes; `None` when the input is already binary.
fn unwrap_text(input: &[u8]) -> Result<Option<Vec<u8>>> {
    let trimmed = trim_ascii(input);
    if trimmed.is_empty() {
        return Err(VerifyError::new(Code::MalformedInput, "empty input"));
    }
    if trimmed.starts_with(b"-----BEGIN ") {
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| VerifyError::new(Code::MalformedInput, "PEM is not ASCII"))?;
        let body: String = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN "))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END "))
            .filter(|l| !l.contains(':'))
            .collect();
        return tokenconfirm_wire::b64::std_decode(&body)
            .map(Some)
            .map_err(|e| VerifyError::new(Code::MalformedInput, format!("PEM body: {e}")));
    }
    let looks_base64 = trimmed.iter().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
            || b.is_ascii_whitespace()
    });
    if looks_base64 && trimmed[0] != 0x30 {
        let text = String::from_utf8_lossy(trimmed);
        if let Ok(bytes) = tokenconfirm_wire::b64::std_decode(&text) {
            return Ok(Some(bytes));
        }
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        return tokenconfirm_wire::b64::url_decode(compact.trim_end_matches('='))
            .map(Some)
            .map_err(|e| VerifyError::new(Code::MalformedInput, format!("base64: {e}")));
    }
    Ok(None)
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// Reads every certificate in a PEM bundle (several blocks) or a single DER/base64 certificate.
pub fn certificates(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    let trimmed = trim_ascii(input);
    if !trimmed.starts_with(b"-----BEGIN ") {
        return Ok(vec![to_der(input)?]);
    }
    pem_blocks(
        trimmed,
        &["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"],
    )
}

/// Reads every CRL in a PEM bundle or a single DER CRL.
pub fn crls(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    let trimmed = trim_ascii(input);
    if !trimmed.starts_with(b"-----BEGIN ") {
        return Ok(vec![to_der(input)?]);
    }
    pem_blocks(trimmed, &["X509 CRL"])
}

fn pem_blocks(text: &[u8], labels: &[&str]) -> Result<Vec<Vec<u8>>> {
    let text = std::str::from_utf8(text)
        .map_err(|_| VerifyError::new(Code::MalformedInput, "PEM is not ASCII"))?;
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let body: String = lines
            .by_ref()
            .take_while(|l| !l.starts_with("-----END "))
            .filter(|l| !l.contains(':'))
            .collect();
        if labels.contains(&label) {
            let der = tokenconfirm_wire::b64::std_decode(&body)
                .map_err(|e| VerifyError::new(Code::MalformedInput, format!("PEM {label}: {e}")))?;
            out.push(der);
        }
    }
    if out.is_empty() {
        return Err(VerifyError::new(
            Code::MalformedInput,
            format!("no PEM block labelled {}", labels.join(" or ")),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];

    #[test]
    fn accepts_der_pem_and_base64() {
        assert_eq!(to_der(DER).unwrap(), DER);
        assert_eq!(to_der(b"MAMCAQU=\n").unwrap(), DER);
        assert_eq!(
            to_der(b"-----BEGIN CMS-----\nMAMCAQU=\n-----END CMS-----\n").unwrap(),
            DER
        );
        assert_eq!(
            to_der(&[0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00]).unwrap(),
            DER,
            "BER indefinite length"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(to_der(b"").unwrap_err().code, Code::MalformedInput);
        assert_eq!(
            to_der(b"hello world!").unwrap_err().code,
            Code::MalformedInput
        );
        assert_eq!(
            to_der(&[0x30, 0x05, 0x02]).unwrap_err().code,
            Code::MalformedInput
        );
        assert_eq!(
            to_der(&[0x30, 0x03, 0x02, 0x01, 0x05, 0x00])
                .unwrap_err()
                .code,
            Code::MalformedInput,
            "trailing bytes"
        );
    }

    #[test]
    fn pem_bundles() {
        let bundle = b"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\nnoise\n-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";
        assert_eq!(certificates(bundle).unwrap().len(), 2);
        assert!(crls(bundle).is_err());
    }
}
