//! API errors: a stable code (never changes meaning), an HTTP status, and messages in Russian
//! and English that the portal shows to the citizen as they are.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

macro_rules! api_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $status:ident, en: $en:literal, ru: $ru:literal; )*) => {
        /// Why a request was refused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ApiCode {
            $( $(#[$doc])* $variant, )*
        }
        impl ApiCode {
            /// Every code in declaration order.
            pub const ALL: &'static [ApiCode] = &[$(ApiCode::$variant),*];
            /// The stable spelling, e.g. `challenge-consumed`.
            pub fn as_str(self) -> &'static str { match self { $(ApiCode::$variant => $code,)* } }
            /// The HTTP status the code is sent with.
            pub fn status(self) -> StatusCode { match self { $(ApiCode::$variant => StatusCode::$status,)* } }
            /// English message.
            pub fn message_en(self) -> &'static str { match self { $(ApiCode::$variant => $en,)* } }
            /// Russian message.
            pub fn message_ru(self) -> &'static str { match self { $(ApiCode::$variant => $ru,)* } }
            /// Parses the stable spelling.
            pub fn parse(code: &str) -> Option<ApiCode> {
                match code { $($code => Some(ApiCode::$variant),)* _ => None }
            }
        }
    };
}

api_codes! {
    /// The body is not the JSON the endpoint expects, or a field is invalid (`reason` says which).
    InvalidRequest = "invalid-request", BAD_REQUEST,
        en: "The request is invalid.", ru: "Неверный запрос.";
    /// A state-changing request without `Content-Type: application/json`.
    UnsupportedMediaType = "unsupported-media-type", UNSUPPORTED_MEDIA_TYPE,
        en: "The request must be JSON (Content-Type: application/json).", ru: "Запрос должен быть в формате JSON (Content-Type: application/json).";
    /// The body exceeds the endpoint's limit.
    BodyTooLarge = "body-too-large", PAYLOAD_TOO_LARGE,
        en: "The request is too large.", ru: "Слишком большой запрос.";
    /// The CSRF token header is missing or wrong, or the request came from another site.
    CsrfFailed = "csrf-failed", FORBIDDEN,
        en: "The request was refused as a possible cross-site request forgery. Reload the page.", ru: "Запрос отклонён как возможная подделка межсайтового запроса. Обновите страницу.";
    /// Too many requests of this kind from this client.
    RateLimited = "rate-limited", TOO_MANY_REQUESTS,
        en: "Too many attempts. Wait a minute and try again.", ru: "Слишком много попыток. Подождите минуту и повторите.";
    /// No logged-in session.
    Unauthenticated = "unauthenticated", UNAUTHORIZED,
        en: "Please log in.", ru: "Войдите в личный кабинет.";
    /// The session is logged in where an anonymous session is required.
    AlreadyAuthenticated = "already-authenticated", CONFLICT,
        en: "Log out before registering a new account.", ru: "Выйдите из личного кабинета, чтобы зарегистрировать новую учётную запись.";
    /// Wrong login or password.
    InvalidCredentials = "invalid-credentials", UNAUTHORIZED,
        en: "Wrong login or password.", ru: "Неверный логин или пароль.";
    /// The login (e-mail or phone) is already registered.
    LoginTaken = "login-taken", CONFLICT,
        en: "An account with this e-mail or phone number already exists.", ru: "Учётная запись с таким адресом электронной почты или телефоном уже существует.";
    /// The SNILS in the profile has a wrong checksum or format.
    SnilsInvalid = "snils-invalid", BAD_REQUEST,
        en: "The SNILS is invalid (11 digits with a valid checksum).", ru: "Неверный СНИЛС (11 цифр с правильной контрольной суммой).";
    /// The profile of a confirmed account cannot be changed.
    AccountConfirmed = "account-confirmed", CONFLICT,
        en: "The account is confirmed; its profile can no longer be changed here.", ru: "Учётная запись подтверждена; её данные здесь изменить нельзя.";
    /// A confirmed account with this SNILS already exists.
    SnilsRegistered = "snils-registered", CONFLICT,
        en: "A confirmed account with this SNILS already exists. Log in to it instead.", ru: "Подтверждённая учётная запись с этим СНИЛС уже существует. Войдите в неё.";
    /// The envelope is not a valid signature of this profile (see `reason`).
    EnvelopeInvalid = "envelope-invalid", BAD_REQUEST,
        en: "The signature is invalid.", ru: "Подпись недействительна.";
    /// The signed origin is not this portal's.
    OriginMismatch = "origin-mismatch", FORBIDDEN,
        en: "The signature was made for another website.", ru: "Подпись создана для другого сайта.";
    /// The challenge is not known for this session and purpose.
    ChallengeUnknown = "challenge-unknown", NOT_FOUND,
        en: "The confirmation request is unknown. Start the confirmation again.", ru: "Запрос на подтверждение не найден. Начните подтверждение заново.";
    /// The challenge has expired.
    ChallengeExpired = "challenge-expired", GONE,
        en: "The confirmation request has expired. Start the confirmation again.", ru: "Срок запроса на подтверждение истёк. Начните подтверждение заново.";
    /// The challenge was already used.
    ChallengeConsumed = "challenge-consumed", CONFLICT,
        en: "This confirmation request has already been used.", ru: "Этот запрос на подтверждение уже использован.";
    /// The certificate does not chain to an accredited CA or fails the qualified profile.
    CertificateInvalid = "certificate-invalid", UNPROCESSABLE_ENTITY,
        en: "The certificate is not a valid qualified certificate of an accredited CA.", ru: "Сертификат не является действительным квалифицированным сертификатом аккредитованного УЦ.";
    /// The certificate (or one of its CAs) is revoked.
    CertificateRevoked = "certificate-revoked", UNPROCESSABLE_ENTITY,
        en: "The certificate has been revoked.", ru: "Сертификат отозван.";
    /// Revocation status could not be determined.
    RevocationUnavailable = "revocation-unavailable", SERVICE_UNAVAILABLE,
        en: "The certificate's revocation status is unavailable. Try again later.", ru: "Не удалось проверить, отозван ли сертификат. Повторите позже.";
    /// The certificate's SNILS or name differs from the profile.
    IdentityMismatch = "identity-mismatch", CONFLICT,
        en: "The certificate belongs to another person: SNILS or name differs from your profile.", ru: "Сертификат выдан другому лицу: СНИЛС или ФИО не совпадают с данными профиля.";
    /// Only a standard account can be confirmed.
    AccountNotStandard = "account-not-standard", CONFLICT,
        en: "Only an account with a filled profile (standard) can be confirmed.", ru: "Подтвердить можно только стандартную учётную запись (с заполненным профилем).";
    /// No such resource.
    NotFound = "not-found", NOT_FOUND,
        en: "Not found.", ru: "Не найдено.";
    /// The database is unavailable or failed.
    Unavailable = "unavailable", SERVICE_UNAVAILABLE,
        en: "The service is temporarily unavailable. Try again later.", ru: "Сервис временно недоступен. Повторите позже.";
    /// An unexpected internal failure.
    Internal = "internal", INTERNAL_SERVER_ERROR,
        en: "Internal error.", ru: "Внутренняя ошибка.";
}

/// A refused request: code plus an optional technical reason (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Stable code.
    pub code: ApiCode,
    /// Technical reason, e.g. the verification code `expired` or the invalid field.
    pub reason: Option<String>,
}

impl ApiError {
    /// An error without a reason.
    pub fn new(code: ApiCode) -> Self {
        ApiError { code, reason: None }
    }

    /// An error with a reason.
    pub fn with(code: ApiCode, reason: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: Some(reason.into()),
        }
    }
}

impl From<ApiCode> for ApiError {
    fn from(code: ApiCode) -> Self {
        ApiError::new(code)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "code": self.code.as_str(),
            "message": {"en": self.code.message_en(), "ru": self.code.message_ru()},
        });
        if let Some(reason) = self.reason {
            error["reason"] = reason.into();
        }
        let mut response =
            (self.code.status(), axum::Json(json!({ "error": error }))).into_response();
        if self.code == ApiCode::BodyTooLarge {
            // The rest of the body was not read: the connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_parse_back_and_have_messages() {
        let mut seen = std::collections::HashSet::new();
        for c in ApiCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {}", c.as_str());
            assert_eq!(ApiCode::parse(c.as_str()), Some(*c));
            assert!(!c.message_en().is_empty() && !c.message_ru().is_empty());
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }
}
