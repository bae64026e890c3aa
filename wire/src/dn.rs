//! Distinguished names as people read them: the text of directory-string attribute values
//! and an RFC 4514-style rendering with the short names Russian qualified certificates use
//! (SNILS, INN, OGRN, …). Shared by the agent (what the confirmation window shows) and the
//! server (what the account page and the audit trail show).

use der::asn1::ObjectIdentifier as Oid;
use der::{Any, Tag, Tagged};
use x509_cert::name::Name;

/// The text of a directory string value (UTF8String, PrintableString, IA5String,
/// VisibleString, NumericString, TeletexString as Latin-1, BMPString), or `None` for other
/// types and invalid encodings.
pub fn string_value(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Tag::PrintableString | Tag::Ia5String | Tag::VisibleString | Tag::NumericString => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(bytes).into_owned()),
        Tag::TeletexString => Some(bytes.iter().map(|&b| b as char).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// The first attribute `oid` in `name` as text.
pub fn attribute(name: &Name, oid: Oid) -> Option<String> {
    name.iter()
        .find(|atv| atv.oid == oid)
        .and_then(|atv| string_value(&atv.value))
}

/// The short name of an attribute type, or its dotted OID.
pub fn short_name(oid: Oid) -> String {
    match oid.to_string().as_str() {
        "2.5.4.3" => "CN".into(),
        "2.5.4.4" => "SN".into(),
        "2.5.4.42" => "G".into(),
        "2.5.4.6" => "C".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.8" => "ST".into(),
        "2.5.4.9" => "STREET".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.12" => "T".into(),
        "1.2.840.113549.1.9.1" => "E".into(),
        "1.2.643.100.3" => "SNILS".into(),
        "1.2.643.3.131.1.1" => "INN".into(),
        "1.2.643.100.1" => "OGRN".into(),
        "1.2.643.100.5" => "OGRNIP".into(),
        "1.2.643.100.4" => "INNLE".into(),
        other => other.into(),
    }
}

/// RFC 4514-style rendering, most specific attribute first, values that are not strings as
/// `#hex`.
pub fn display_name(name: &Name) -> String {
    let mut parts: Vec<String> = name
        .iter()
        .map(|atv| {
            let value = string_value(&atv.value).unwrap_or_else(|| {
                let hex: String = atv
                    .value
                    .value()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("#{hex}")
            });
            format!("{}={}", short_name(atv.oid), escape(&value))
        })
        .collect();
    parts.reverse();
    parts.join(", ")
}

fn escape(value: &str) -> String {
    let count = value.chars().count();
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let edge = i == 0 && (c == ' ' || c == '#') || i + 1 == count && c == ' ';
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn renders_russian_short_names_most_specific_first() {
        let name = Name::from_str("CN=Иванов Иван,1.2.643.100.3=#120b3131323233333434353935,C=RU")
            .unwrap();
        let shown = display_name(&name);
        assert_eq!(shown, "CN=Иванов Иван, SNILS=11223344595, C=RU");
        assert_eq!(
            attribute(&name, Oid::new_unwrap("1.2.643.100.3")).as_deref(),
            Some("11223344595")
        );
        assert_eq!(escape(" a,b "), "\\ a\\,b\\ ");
        assert_eq!(
            escape("ООО \"Ромашка\", Москва"),
            "ООО \\\"Ромашка\\\"\\, Москва"
        );
        assert_eq!(escape(" #x "), "\\ #x\\ ");
    }
}
