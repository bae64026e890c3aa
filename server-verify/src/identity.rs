//! The identity a qualified certificate states, and the normalization used to match it
//! against an account profile.

use der::asn1::ObjectIdentifier as Oid;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use x509_cert::Certificate;

/// Subject attribute OIDs of Russian qualified certificates (Приказ ФСБ № 795, RFC 9215).
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    /// СНИЛС.
    pub const SNILS: Oid = Oid::new_unwrap("1.2.643.100.3");
    /// ИНН физического лица.
    pub const INN: Oid = Oid::new_unwrap("1.2.643.3.131.1.1");
    /// ОГРН.
    pub const OGRN: Oid = Oid::new_unwrap("1.2.643.100.1");
    /// ОГРНИП.
    pub const OGRNIP: Oid = Oid::new_unwrap("1.2.643.100.5");
    /// ИНН юридического лица.
    pub const INNLE: Oid = Oid::new_unwrap("1.2.643.100.4");
    /// commonName.
    pub const CN: Oid = Oid::new_unwrap("2.5.4.3");
    /// surname.
    pub const SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
    /// givenName (first name + patronymic).
    pub const GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");
    /// emailAddress.
    pub const EMAIL: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");
}

/// Who the certificate says its holder is. Absent attributes are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// СНИЛС, 11 digits as written in the certificate.
    pub snils: Option<String>,
    /// ИНН (natural person, 12 digits).
    pub inn: Option<String>,
    /// ИНН ЮЛ.
    pub inn_le: Option<String>,
    /// ОГРН.
    pub ogrn: Option<String>,
    /// ОГРНИП.
    pub ogrnip: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// First name (first word of givenName).
    pub first_name: Option<String>,
    /// Patronymic (rest of givenName), when present.
    pub patronymic: Option<String>,
    /// Full common name.
    pub common_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

impl Identity {
    /// Reads the identity from the certificate's subject.
    pub fn of(cert: &Certificate) -> Identity {
        let subject = cert.tbs_certificate().subject();
        let get = |o: Oid| name_attr(subject, o);
        let given = get(oid::GIVEN_NAME).map(|g| collapse(&g));
        let (first_name, patronymic) = match given.as_deref().map(|g| g.split_once(' ')) {
            Some(Some((first, rest))) => (Some(first.to_owned()), Some(rest.to_owned())),
            Some(None) => (given.clone(), None),
            None => (None, None),
        };
        Identity {
            snils: get(oid::SNILS),
            inn: get(oid::INN),
            inn_le: get(oid::INNLE),
            ogrn: get(oid::OGRN),
            ogrnip: get(oid::OGRNIP),
            surname: get(oid::SURNAME),
            first_name,
            patronymic,
            common_name: get(oid::CN),
            email: get(oid::EMAIL),
        }
    }

    /// True when the certificate's SNILS equals `snils` (digits compared; separators ignored)
    /// and surname, first name and patronymic match after [`normalize`].
    pub fn matches(
        &self,
        snils: &str,
        surname: &str,
        first_name: &str,
        patronymic: Option<&str>,
    ) -> bool {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let same = |a: &Option<String>, b: Option<&str>| match (a, b) {
            (Some(a), Some(b)) => normalize(a) == normalize(b),
            (None, None) => true,
            (Some(a), None) => normalize(a).is_empty(),
            (None, Some(b)) => normalize(b).is_empty(),
        };
        self.snils
            .as_deref()
            .map(digits)
            .is_some_and(|s| s.len() == 11 && s == digits(snils))
            && same(&self.surname, Some(surname))
            && same(&self.first_name, Some(first_name))
            && same(&self.patronymic, patronymic)
    }
}

/// Normalization for matching names: Unicode NFC, lower case, ё→е, whitespace collapsed.
pub fn normalize(text: &str) -> String {
    let folded: String = text
        .nfc()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect();
    collapse(&folded)
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True when `snils` is 11 digits (separators `-` and spaces allowed) with a valid checksum.
/// Numbers up to 001-001-998 predate checksums and are accepted as such.
pub fn snils_valid(snils: &str) -> bool {
    let digits: Vec<u32> = snils
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_default();
    if digits.len() != 11 {
        return false;
    }
    let number = digits[..9].iter().fold(0u32, |acc, d| acc * 10 + d);
    let check = digits[9] * 10 + digits[10];
    if number <= 1_001_998 {
        return true;
    }
    let sum: u32 = digits[..9]
        .iter()
        .enumerate()
        .map(|(i, d)| d * (9 - i as u32))
        .sum();
    let expected = match sum {
        s if s < 100 => s,
        100 | 101 => 0,
        s => match s % 101 {
            100 => 0,
            r => r,
        },
    };
    check == expected
}

pub use tokenconfirm_wire::dn::attribute as name_attr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snils_checksums() {
        assert!(snils_valid("11223344595"));
        assert!(snils_valid("112-233-445 95"));
        assert!(!snils_valid("11223344596"));
        assert!(snils_valid("12345678964"));
        assert!(!snils_valid("1122334459"));
        assert!(!snils_valid("1122334459x"));
        assert!(snils_valid("00100199800"), "pre-checksum range");
    }

    #[test]
    fn normalization_for_matching() {
        assert_eq!(normalize("  Семёнов \t Пётр "), "семенов петр");
        assert_eq!(normalize("ИВАНОВ"), normalize("иванов"));
        // NFC: "й" as и + combining breve equals the precomposed letter.
        assert_eq!(normalize("Андреи\u{306}"), normalize("Андрей"));
    }

    #[test]
    fn identity_matching() {
        let id = Identity {
            snils: Some("11223344595".into()),
            surname: Some("Иванов".into()),
            first_name: Some("Иван".into()),
            patronymic: Some("Иванович".into()),
            ..Identity::default()
        };
        assert!(id.matches("112-233-445 95", "ИВАНОВ", "иван", Some("Иванович")));
        assert!(!id.matches("11223344595", "Иванов", "Иван", None));
        assert!(!id.matches("11223344596", "Иванов", "Иван", Some("Иванович")));
        assert!(!id.matches("11223344595", "Петров", "Иван", Some("Иванович")));
    }
}
