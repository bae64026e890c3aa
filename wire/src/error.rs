//! Stable error codes shared by the agent, the extension and the page library.
//!
//! A code never changes meaning once released; new situations get new codes. Every code has a
//! Russian and an English message written for the citizen, saying what to do next where there
//! is something to do.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, retriable: $retry:literal,
        en: $en:literal, ru: $ru:literal; )*) => {
        /// A stable, machine-readable error code (`docs/protocol.md`, "Errors").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $( $(#[$doc])* #[serde(rename = $code)] $variant, )*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire spelling, e.g. `pin-incorrect`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// Whether the user can usefully try again in the same dialog (web-eid's notion).
            pub fn retriable(self) -> bool {
                match self { $(ErrorCode::$variant => $retry,)* }
            }

            /// The message for the citizen in English.
            pub fn message_en(self) -> &'static str {
                match self { $(ErrorCode::$variant => $en,)* }
            }

            /// The message for the citizen in Russian.
            pub fn message_ru(self) -> &'static str {
                match self { $(ErrorCode::$variant => $ru,)* }
            }
        }
    };
}

error_codes! {
    /// A native-messaging frame was cut short (EOF inside the length or the body).
    TruncatedFrame = "truncated-frame", retriable: false,
        en: "The browser closed the connection in the middle of a message.",
        ru: "Браузер закрыл соединение посреди сообщения.";
    /// A frame's declared length exceeds 1 MiB.
    FrameTooLarge = "frame-too-large", retriable: false,
        en: "The message to the signing agent is larger than 1 MiB.",
        ru: "Сообщение для агента подписи больше 1 МиБ.";
    /// The frame is not valid UTF-8.
    InvalidUtf8 = "invalid-utf8", retriable: false,
        en: "The message to the signing agent is not valid UTF-8 text.",
        ru: "Сообщение для агента подписи не является корректным текстом UTF-8.";
    /// The frame is not a JSON object.
    InvalidJson = "invalid-json", retriable: false,
        en: "The message to the signing agent is not a valid JSON object.",
        ru: "Сообщение для агента подписи не является корректным объектом JSON.";
    /// The request lacks a valid `id`.
    InvalidId = "invalid-id", retriable: false,
        en: "The request has no valid id (a string of up to 64 characters or an integer).",
        ru: "У запроса нет корректного идентификатора (строка до 64 символов или целое число).";
    /// The command is not one the agent knows.
    UnknownCommand = "unknown-command", retriable: false,
        en: "The signing agent does not know this command; it may be too old. Update tokenconfirm.",
        ru: "Агент подписи не знает этой команды — возможно, он устарел. Обновите tokenconfirm.";
    /// The command's parameters are malformed.
    InvalidRequest = "invalid-request", retriable: false,
        en: "The request to the signing agent is malformed.",
        ru: "Запрос к агенту подписи составлен неверно.";
    /// Another request already uses this id.
    DuplicateId = "duplicate-id", retriable: false,
        en: "A request with this id is already in progress.",
        ru: "Запрос с таким идентификатором уже выполняется.";
    /// The reply would exceed the browser's 1 MiB limit.
    ReplyTooLarge = "reply-too-large", retriable: false,
        en: "The agent's reply would exceed the browser's 1 MiB limit.",
        ru: "Ответ агента превысил бы ограничение браузера в 1 МиБ.";
    /// The challenge is malformed.
    InvalidChallenge = "invalid-challenge", retriable: false,
        en: "The confirmation request from the site is malformed.",
        ru: "Запрос подтверждения от сайта составлен неверно.";
    /// The challenge has expired.
    ChallengeExpired = "challenge-expired", retriable: false,
        en: "The confirmation request has expired. Reload the page and start again.",
        ru: "Срок действия запроса подтверждения истёк. Обновите страницу и начните заново.";
    /// The page's origin differs from the origin the challenge was issued for.
    OriginMismatch = "origin-mismatch", retriable: false,
        en: "This page is not the site that issued the confirmation request. Nothing was signed.",
        ru: "Эта страница — не тот сайт, который выдал запрос подтверждения. Ничего не подписано.";
    /// The origin is not https (or http on localhost).
    OriginNotAllowed = "origin-not-allowed", retriable: false,
        en: "Signing is only offered to sites opened over HTTPS.",
        ru: "Подпись доступна только сайтам, открытым по HTTPS.";
    /// No PKCS#11 module could be found or loaded.
    NoModules = "no-modules", retriable: true,
        en: "No token driver (PKCS#11 module) is installed. Install your token's driver, then try again.",
        ru: "Не установлен драйвер токена (модуль PKCS#11). Установите драйвер вашего токена и повторите.";
    /// A configured or requested module failed to load.
    ModuleLoadFailed = "module-load-failed", retriable: false,
        en: "A token driver (PKCS#11 module) could not be loaded.",
        ru: "Не удалось загрузить драйвер токена (модуль PKCS#11).";
    /// No token is present in any reader.
    NoToken = "no-token", retriable: true,
        en: "No token or smart card found. Insert your token and try again.",
        ru: "Токен или смарт-карта не найдены. Вставьте токен и повторите.";
    /// No certificate with a matching private key was found.
    NoCertificate = "no-certificate", retriable: true,
        en: "No signing certificate was found on the connected tokens.",
        ru: "На подключённых токенах не найден сертификат для подписи.";
    /// The requested certificate is not present.
    CertificateNotFound = "certificate-not-found", retriable: true,
        en: "The chosen certificate was not found. Is the right token inserted?",
        ru: "Выбранный сертификат не найден. Вставлен ли нужный токен?";
    /// The certificate selector matches several certificates.
    CertificateAmbiguous = "certificate-ambiguous", retriable: false,
        en: "Several certificates match; choose one by its id.",
        ru: "Подходит несколько сертификатов; выберите один по идентификатору.";
    /// The certificate has no private key on the token.
    KeyNotFound = "key-not-found", retriable: false,
        en: "The token has no private key for the chosen certificate.",
        ru: "На токене нет закрытого ключа для выбранного сертификата.";
    /// The key type or size is not supported.
    UnsupportedKey = "unsupported-key", retriable: false,
        en: "The key type of this certificate is not supported.",
        ru: "Тип ключа этого сертификата не поддерживается.";
    /// The token offers no mechanism the agent can use for this key.
    UnsupportedMechanism = "unsupported-mechanism", retriable: false,
        en: "The token cannot sign with this key in a supported way.",
        ru: "Токен не может подписать этим ключом поддерживаемым способом.";
    /// The PIN was wrong; details carry what the token says about retries.
    PinIncorrect = "pin-incorrect", retriable: true,
        en: "Wrong PIN.",
        ru: "Неверный PIN-код.";
    /// The PIN is blocked.
    PinLocked = "pin-locked", retriable: false,
        en: "The PIN is blocked after too many wrong attempts. Unblock it with the PUK or ask your certification authority.",
        ru: "PIN-код заблокирован после слишком многих неверных попыток. Разблокируйте его PUK-кодом или обратитесь в удостоверяющий центр.";
    /// The PIN does not meet the token's length limits.
    PinLengthInvalid = "pin-length-invalid", retriable: true,
        en: "The PIN has the wrong length for this token.",
        ru: "Длина PIN-кода не подходит для этого токена.";
    /// A PIN is needed but there is no way to ask for one.
    PinRequired = "pin-required", retriable: true,
        en: "A PIN is required but none was given.",
        ru: "Требуется PIN-код, но он не введён.";
    /// The user cancelled (dialog, PIN pad or `cancel` command).
    Cancelled = "cancelled", retriable: false,
        en: "Cancelled.",
        ru: "Отменено.";
    /// The token was removed during the operation.
    DeviceRemoved = "device-removed", retriable: true,
        en: "The token was removed during the operation. Insert it again and retry.",
        ru: "Токен извлечён во время операции. Вставьте его снова и повторите.";
    /// A PKCS#11 module has not returned from an earlier call for a long time (a token pulled
    /// out in the middle of an operation can leave a driver stuck); it is skipped.
    TokenNotResponding = "token-not-responding", retriable: true,
        en: "The token or its driver is not responding. Remove the token, insert it again and retry; if that does not help, restart the browser.",
        ru: "Токен или его драйвер не отвечает. Извлеките токен, вставьте его снова и повторите; если не поможет, перезапустите браузер.";
    /// The token reported an error while signing.
    SigningFailed = "signing-failed", retriable: true,
        en: "The token could not create the signature.",
        ru: "Токен не смог создать подпись.";
    /// The token produced a signature that does not verify with the certificate.
    SelfCheckFailed = "self-check-failed", retriable: false,
        en: "The token's signature does not match its certificate; nothing was sent.",
        ru: "Подпись токена не соответствует его сертификату; ничего не отправлено.";
    /// The certificate on the token cannot be parsed.
    BadCertificate = "bad-certificate", retriable: false,
        en: "A certificate on the token cannot be read.",
        ru: "Не удаётся прочитать сертификат на токене.";
    /// Configuration file problem.
    Config = "config", retriable: false,
        en: "The agent's configuration file is invalid.",
        ru: "Файл настроек агента содержит ошибку.";
    /// Page library: no answer from the extension to `status` within 1 second.
    ExtensionMissing = "extension-missing", retriable: false,
        en: "The tokenconfirm browser extension is not installed or is disabled. Install it and reload the page.",
        ru: "Расширение браузера tokenconfirm не установлено или отключено. Установите его и обновите страницу.";
    /// Extension: the native host could not be started.
    AgentMissing = "agent-missing", retriable: false,
        en: "The tokenconfirm signing agent is not installed. Install it and try again.",
        ru: "Агент подписи tokenconfirm не установлен. Установите его и повторите.";
    /// Extension: the agent's protocol or capabilities are older than the extension needs.
    AgentTooOld = "agent-too-old", retriable: false,
        en: "The tokenconfirm signing agent is too old. Update tokenconfirm.",
        ru: "Агент подписи tokenconfirm устарел. Обновите tokenconfirm.";
    /// Extension: the agent stopped while a request was pending.
    AgentDisconnected = "agent-disconnected", retriable: true,
        en: "The signing agent stopped unexpectedly. Try again.",
        ru: "Агент подписи неожиданно завершил работу. Повторите попытку.";
    /// Extension or page library: `timeoutMs` elapsed.
    Timeout = "timeout", retriable: false,
        en: "The confirmation took too long and was stopped. Start again.",
        ru: "Подтверждение заняло слишком много времени и было прервано. Начните заново.";
    /// Extension: one pending confirmation per tab.
    Busy = "busy", retriable: false,
        en: "A confirmation is already in progress in this tab.",
        ru: "В этой вкладке уже выполняется подтверждение.";
    /// The portal could not be reached (CLI `confirm`).
    ServerUnreachable = "server-unreachable", retriable: true,
        en: "The portal could not be reached. Check the address and the network.",
        ru: "Не удалось связаться с порталом. Проверьте адрес и сеть.";
    /// The portal refused a request (CLI `confirm`); the detail carries its code and message.
    ServerRefused = "server-refused", retriable: false,
        en: "The portal refused the request.",
        ru: "Портал отклонил запрос.";
    /// Input/output failure (file, stdin, stdout).
    Io = "io", retriable: false,
        en: "A file or stream could not be read or written.",
        ru: "Не удалось прочитать или записать файл или поток.";
    /// An unexpected failure inside the agent.
    Internal = "internal", retriable: false,
        en: "Unexpected error in the signing agent.",
        ru: "Непредвиденная ошибка агента подписи.";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_serialize_as_written() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate {s}");
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit()));
            assert_eq!(serde_json::to_string(code).unwrap(), format!("\"{s}\""));
            assert!(!code.message_en().is_empty() && !code.message_ru().is_empty());
        }
    }
}

/// The JavaScript table of every code (`extension/errors.js`): the extension and the page
/// library use it so that their messages are exactly these. A test keeps the file in step.
pub fn javascript_table() -> String {
    let mut out = String::from(
        "// Generated from wire/src/error.rs by `UPDATE_ERRORS_JS=1 cargo test -p tokenconfirm-wire`.\n\
         // Do not edit: a test fails when this file and the Rust table differ.\n\
         var TC_ERRORS = {\n",
    );
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "  {}: {{ retriable: {}, en: {}, ru: {} }},\n",
            serde_json::to_string(code.as_str()).unwrap_or_default(),
            code.retriable(),
            serde_json::to_string(code.message_en()).unwrap_or_default(),
            serde_json::to_string(code.message_ru()).unwrap_or_default(),
        ));
    }
    out.push_str(
        "};\nif (typeof globalThis !== \"undefined\") globalThis.TC_ERRORS = TC_ERRORS;\n",
    );
    out
}

#[cfg(test)]
mod javascript_table_tests {
    /// `extension/errors.js` is exactly the generated table.
    #[test]
    fn extension_errors_js_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../extension/errors.js");
        let want = super::javascript_table();
        if std::env::var_os("UPDATE_ERRORS_JS").is_some() {
            std::fs::write(&path, &want).expect("write extension/errors.js");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "extension/errors.js is stale: run UPDATE_ERRORS_JS=1 cargo test -p tokenconfirm-wire"
        );
    }
}
