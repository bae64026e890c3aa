//! What the service stores: accounts with their level and profile, sessions, challenges and
//! audit records. Validation of what a citizen types lives here too.

use crate::error::{ApiCode, ApiError};
use serde::{Deserialize, Serialize};

/// Account level, in increasing trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Registered with a name and an e-mail or phone.
    Simplified,
    /// Profile (SNILS, passport, full name, birth date) filled.
    Standard,
    /// Identity confirmed with a qualified e-signature.
    Confirmed,
}

impl Level {
    /// Stable spelling stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Simplified => "simplified",
            Level::Standard => "standard",
            Level::Confirmed => "confirmed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "simplified" => Some(Level::Simplified),
            "standard" => Some(Level::Standard),
            "confirmed" => Some(Level::Confirmed),
            _ => None,
        }
    }
}

/// The personal data of a standard account (as the citizen typed it, validated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// Фамилия.
    pub surname: String,
    /// Имя.
    pub first_name: String,
    /// Отчество (absent for people without one).
    #[serde(default)]
    pub patronymic: Option<String>,
    /// Date of birth, `YYYY-MM-DD` (absent for accounts registered with an e-signature:
    /// certificates do not carry it).
    #[serde(default)]
    pub birth_date: Option<String>,
    /// СНИЛС, 11 digits.
    pub snils: String,
    /// Passport series, 4 digits (absent for accounts registered with an e-signature).
    #[serde(default)]
    pub passport_series: Option<String>,
    /// Passport number, 6 digits (absent for accounts registered with an e-signature).
    #[serde(default)]
    pub passport_number: Option<String>,
}

/// Summary of the certificate an account was confirmed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// Issuer DN (RFC 4514).
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
}

/// An account as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Opaque id.
    #[serde(serialize_with = "id_as_string")]
    pub id: i64,
    /// Normalized e-mail or phone.
    pub login: String,
    /// Display name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Profile, once filled.
    pub profile: Option<Profile>,
    /// When the account became confirmed (RFC 3339).
    pub confirmed_at: Option<String>,
    /// The certificate used to confirm.
    pub certificate: Option<CertificateSummary>,
}

fn id_as_string<S: serde::Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

impl Account {
    /// The reference shown in challenges (`challenge.account`): the login, which the citizen
    /// recognizes.
    pub fn reference(&self) -> String {
        self.login.clone()
    }
}

/// Normalizes a login: e-mail lower-cased; phone to `+7XXXXXXXXXX` (Russian numbers written
/// with 8 or +7, with any separators) or `+` and digits.
pub fn normalize_login(login: &str) -> Result<String, ApiError> {
    let login = login.trim();
    let bad = || ApiError::with(ApiCode::InvalidRequest, "login: e-mail or phone number");
    if login.contains('@') {
        let (local, domain) = login.rsplit_once('@').ok_or_else(bad)?;
        let ok = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && login.len() <= 254
            && !login.chars().any(|c| c.is_whitespace() || c.is_control());
        return if ok {
            Ok(login.to_lowercase())
        } else {
            Err(bad())
        };
    }
    if !login
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()".contains(c))
    {
        return Err(bad());
    }
    let digits: String = login.chars().filter(char::is_ascii_digit).collect();
    let international = login.starts_with('+');
    let phone = match (international, digits.len(), digits.chars().next()) {
        (false, 11, Some('8')) => format!("+7{}", &digits[1..]),
        (true, 11, Some('7')) | (false, 11, Some('7')) => format!("+{digits}"),
        (false, 10, _) => format!("+7{digits}"),
        (true, 8..=15, _) => format!("+{digits}"),
        _ => return Err(bad()),
    };
    Ok(phone)
}

/// A display name: 1–200 characters, no control characters, whitespace collapsed.
pub fn normalize_name(name: &str, field: &str) -> Result<String, ApiError> {
    let collapsed = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let len = collapsed.chars().count();
    if len == 0 || len > 200 || collapsed.chars().any(char::is_control) {
        return Err(ApiError::with(
            ApiCode::InvalidRequest,
            format!("{field}: 1 to 200 printable characters"),
        ));
    }
    Ok(collapsed)
}

/// A password: 10–256 characters. (Checked before hashing; never logged.)
pub fn check_password(password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if !(10..=256).contains(&len) {
        return Err(ApiError::with(
            ApiCode::InvalidRequest,
            "password: 10 to 256 characters",
        ));
    }
    Ok(())
}

impl Profile {
    /// Validates and normalizes what the citizen typed (every field but the patronymic is
    /// required).
    pub fn validated(self) -> Result<Profile, ApiError> {
        let required = |v: &Option<String>, f: &str| {
            v.clone()
                .ok_or_else(|| ApiError::with(ApiCode::InvalidRequest, format!("{f}: required")))
        };
        let birth_date = required(&self.birth_date, "birthDate")?;
        let passport_series = required(&self.passport_series, "passportSeries")?;
        let passport_number = required(&self.passport_number, "passportNumber")?;
        let field =
            |f: &str, what: &str| ApiError::with(ApiCode::InvalidRequest, format!("{f}: {what}"));
        let digits = |s: &str, n: usize, f: &str| {
            let d: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            if d.len() == n && d.chars().all(|c| c.is_ascii_digit()) {
                Ok(d)
            } else {
                Err(field(f, &format!("{n} digits")))
            }
        };
        let snils =
            digits(&self.snils, 11, "snils").map_err(|_| ApiError::new(ApiCode::SnilsInvalid))?;
        if !tokenconfirm_verify::identity::snils_valid(&snils) {
            return Err(ApiError::new(ApiCode::SnilsInvalid));
        }
        let birth = time::Date::parse(
            &birth_date,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| field("birthDate", "YYYY-MM-DD"))?;
        if birth.year() < 1900 {
            return Err(field("birthDate", "after 1900"));
        }
        let patronymic = match self.patronymic.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(normalize_name(p, "patronymic")?),
        };
        Ok(Profile {
            surname: normalize_name(&self.surname, "surname")?,
            first_name: normalize_name(&self.first_name, "firstName")?,
            patronymic,
            birth_date: Some(birth_date),
            snils,
            passport_series: Some(digits(&passport_series, 4, "passportSeries")?),
            passport_number: Some(digits(&passport_number, 6, "passportNumber")?),
        })
    }
}

/// A stored challenge and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// The nonce (primary key).
    pub nonce: String,
    /// SHA-256 of the session token it was issued to, hex.
    pub session: String,
    /// The account it was issued to (`None` for a registration challenge).
    pub account_id: Option<i64>,
    /// The challenge exactly as issued (JSON).
    pub challenge_json: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// When it was consumed, Unix seconds.
    pub consumed_at: Option<i64>,
}

/// A session row. The cookie holds the token; the database holds only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the token, hex.
    pub id: String,
    /// The logged-in account, if any.
    pub account_id: Option<i64>,
    /// The CSRF token for this session.
    pub csrf: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

/// One append-only audit record of a confirmation or registration attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// When, Unix seconds.
    pub at: i64,
    /// The account concerned, if known.
    pub account_id: Option<i64>,
    /// The challenge nonce, if the statement named one.
    pub nonce: Option<String>,
    /// `ok` or the error code.
    pub outcome: String,
    /// Verification result (JSON: code/reason or signer and chain).
    pub result: String,
    /// The envelope as submitted (DER).
    #[serde(skip)]
    pub envelope: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_normalize() {
        assert_eq!(
            normalize_login(" Ivan@Example.RU ").unwrap(),
            "ivan@example.ru"
        );
        assert_eq!(
            normalize_login("8 (912) 345-67-89").unwrap(),
            "+79123456789"
        );
        assert_eq!(normalize_login("+7 912 345 67 89").unwrap(), "+79123456789");
        assert_eq!(normalize_login("9123456789").unwrap(), "+79123456789");
        for bad in ["", "ivan", "@x.ru", "a@b", "12345", "ivan @x.ru", "+7abc"] {
            assert!(normalize_login(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn profile_validation() {
        let p = Profile {
            surname: " Иванов ".into(),
            first_name: "Иван".into(),
            patronymic: Some("  ".into()),
            birth_date: Some("1980-01-31".into()),
            snils: "112-233-445 95".into(),
            passport_series: Some("45 01".into()),
            passport_number: Some("123456".into()),
        };
        let v = p.clone().validated().unwrap();
        assert_eq!(v.surname, "Иванов");
        assert_eq!(v.snils, "11223344595");
        assert_eq!(v.patronymic, None);
        assert_eq!(v.passport_series.as_deref(), Some("4501"));
        let bad_snils = Profile {
            snils: "11223344596".into(),
            ..p.clone()
        };
        assert_eq!(
            bad_snils.validated().unwrap_err().code,
            ApiCode::SnilsInvalid
        );
        let bad_date = Profile {
            birth_date: Some("1980-02-30".into()),
            ..p.clone()
        };
        assert_eq!(
            bad_date.validated().unwrap_err().code,
            ApiCode::InvalidRequest
        );
        let missing = Profile {
            passport_number: None,
            ..p
        };
        assert_eq!(
            missing.validated().unwrap_err().code,
            ApiCode::InvalidRequest
        );
    }
}
