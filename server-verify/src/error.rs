//! Typed verification errors: a stable [`Code`] (machine-readable, never changes meaning) and a
//! technical detail. Every code has Russian and English messages for portal operators to show.

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, en: $en:literal, ru: $ru:literal; )*) => {
        /// Why verification failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum Code {
            $( $(#[$doc])* #[serde(rename = $code)] $variant, )*
        }
        impl Code {
            /// Every code in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];
            /// The stable spelling, e.g. `expired`.
            pub fn as_str(self) -> &'static str { match self { $(Code::$variant => $code,)* } }
            /// English message.
            pub fn message_en(self) -> &'static str { match self { $(Code::$variant => $en,)* } }
            /// Russian message.
            pub fn message_ru(self) -> &'static str { match self { $(Code::$variant => $ru,)* } }
        }
    };
}

codes! {
    /// Not PEM, base64 or DER/BER.
    MalformedInput = "malformed-input", en: "The input is not PEM, base64 or DER.", ru: "Входные данные не в формате PEM, base64 или DER.";
    /// The CMS structure cannot be parsed.
    MalformedCms = "malformed-cms", en: "The signature container (CMS) is malformed.", ru: "Контейнер подписи (CMS) повреждён.";
    /// ContentInfo is not SignedData.
    NotSignedData = "not-signed-data", en: "The CMS message is not SignedData.", ru: "Сообщение CMS не является SignedData.";
    /// Detached signature without the content.
    ContentMissing = "content-missing", en: "The signature is detached and no content was given.", ru: "Подпись отделённая, а подписанные данные не переданы.";
    /// Both attached and detached content, and they differ.
    ContentConflict = "content-conflict", en: "The signature carries content that differs from the content given.", ru: "Подпись содержит данные, отличные от переданных.";
    /// Not exactly the allowed number of signers.
    SignerCount = "signer-count", en: "The signature must have exactly one signer.", ru: "Подпись должна иметь ровно одного подписанта.";
    /// The signer certificate is not in the message or the supplied certificates.
    SignerCertificateMissing = "signer-certificate-missing", en: "The signer's certificate was not found.", ru: "Сертификат подписанта не найден.";
    /// Signed attributes are required but absent.
    SignedAttributesMissing = "signed-attributes-missing", en: "The signature has no signed attributes (CAdES-BES requires them).", ru: "В подписи нет подписанных атрибутов (CAdES-BES требует их).";
    /// An attribute appears twice or with several values.
    DuplicateAttribute = "duplicate-attribute", en: "A signed attribute appears more than once.", ru: "Подписанный атрибут встречается более одного раза.";
    /// content-type attribute missing or ≠ eContentType.
    ContentTypeMismatch = "content-type-mismatch", en: "The signed content type does not match the content.", ru: "Подписанный тип содержимого не совпадает с содержимым.";
    /// message-digest attribute missing or ≠ digest of the content.
    MessageDigestMismatch = "message-digest-mismatch", en: "The signed data has been changed (message digest mismatch).", ru: "Подписанные данные изменены (хэш не совпадает).";
    /// signing-certificate(-v2) names another certificate.
    SigningCertificateMismatch = "signing-certificate-mismatch", en: "The signing-certificate attribute names a different certificate.", ru: "Атрибут signing-certificate указывает на другой сертификат.";
    /// Digest algorithm not supported.
    UnsupportedDigest = "unsupported-digest", en: "The digest algorithm is not supported.", ru: "Алгоритм хэширования не поддерживается.";
    /// Signature algorithm not supported (or GOST before it is implemented).
    UnsupportedAlgorithm = "unsupported-algorithm", en: "The signature algorithm is not supported.", ru: "Алгоритм подписи не поддерживается.";
    /// Key type does not fit the signature algorithm.
    KeyAlgorithmMismatch = "key-algorithm-mismatch", en: "The key does not fit the signature algorithm.", ru: "Ключ не соответствует алгоритму подписи.";
    /// Key too small.
    WeakKey = "weak-key", en: "The key is too weak.", ru: "Ключ слишком слабый.";
    /// Public key malformed.
    MalformedKey = "malformed-key", en: "The public key is malformed.", ru: "Открытый ключ повреждён.";
    /// Algorithm parameters malformed.
    MalformedParameters = "malformed-parameters", en: "The algorithm parameters are malformed.", ru: "Параметры алгоритма повреждены.";
    /// Signature value malformed.
    MalformedSignature = "malformed-signature", en: "The signature value is malformed.", ru: "Значение подписи повреждено.";
    /// The signature does not verify.
    InvalidSignature = "invalid-signature", en: "The signature is invalid.", ru: "Подпись недействительна.";
    /// A certificate cannot be parsed.
    MalformedCertificate = "malformed-certificate", en: "A certificate is malformed.", ru: "Сертификат повреждён.";
    /// A CRL cannot be parsed.
    MalformedCrl = "malformed-crl", en: "A certificate revocation list is malformed.", ru: "Список отзыва повреждён.";
    /// No path to a trust anchor.
    Untrusted = "untrusted", en: "The certificate does not chain to a trusted (accredited) certification authority.", ru: "Сертификат не восходит к доверенному (аккредитованному) удостоверяющему центру.";
    /// A certificate signature in the path does not verify.
    CertificateSignatureInvalid = "certificate-signature-invalid", en: "A certificate in the chain has an invalid signature.", ru: "Подпись сертификата в цепочке недействительна.";
    /// A certificate has expired at the validation time.
    Expired = "expired", en: "A certificate has expired.", ru: "Срок действия сертификата истёк.";
    /// A certificate is not yet valid at the validation time.
    NotYetValid = "not-yet-valid", en: "A certificate is not yet valid.", ru: "Сертификат ещё не действует.";
    /// basicConstraints violated (non-CA issuing).
    BasicConstraints = "basic-constraints", en: "A certificate that is not a CA issued another certificate.", ru: "Сертификат, не являющийся сертификатом УЦ, выпустил другой сертификат.";
    /// pathLenConstraint exceeded.
    PathLength = "path-length", en: "The certificate chain is longer than a CA allows.", ru: "Цепочка сертификатов длиннее, чем разрешает УЦ.";
    /// keyUsage forbids the use.
    KeyUsage = "key-usage", en: "A certificate's key usage forbids this use.", ru: "Назначение ключа сертификата не допускает такого использования.";
    /// Name constraints violated.
    NameConstraints = "name-constraints", en: "A certificate violates its issuer's name constraints.", ru: "Сертификат нарушает ограничения имён издателя.";
    /// Certificate policy processing failed.
    Policy = "policy", en: "The certificate policies do not satisfy the required policy.", ru: "Политики сертификата не удовлетворяют требуемой политике.";
    /// An unknown critical extension.
    UnknownCriticalExtension = "unknown-critical-extension", en: "A certificate has an unknown critical extension.", ru: "Сертификат содержит неизвестное критическое расширение.";
    /// The certificate is revoked.
    Revoked = "revoked", en: "A certificate in the chain is revoked.", ru: "Сертификат в цепочке отозван.";
    /// Revocation status could not be determined.
    RevocationUnknown = "revocation-unknown", en: "The revocation status could not be determined (no valid, current CRL).", ru: "Не удалось проверить статус отзыва (нет действующего списка отзыва).";
    /// The profile requires GOST R 34.10-2012.
    NotGost = "not-gost", en: "Qualified certificates must use GOST R 34.10-2012.", ru: "Квалифицированный сертификат должен использовать ГОСТ Р 34.10-2012.";
    /// subjectSignTool missing.
    SubjectSignToolMissing = "subject-sign-tool-missing", en: "The certificate lacks subjectSignTool (not a qualified certificate).", ru: "В сертификате нет subjectSignTool (не квалифицированный сертификат).";
    /// issuerSignTool missing.
    IssuerSignToolMissing = "issuer-sign-tool-missing", en: "The certificate lacks issuerSignTool (not a qualified certificate).", ru: "В сертификате нет issuerSignTool (не квалифицированный сертификат).";
    /// No КС1–КА1 policy.
    QualifiedPolicyMissing = "qualified-policy-missing", en: "The certificate has no qualified signature tool class policy (1.2.643.100.113.x).", ru: "В сертификате нет политики класса средств ЭП (1.2.643.100.113.x).";
    /// SNILS missing.
    SnilsMissing = "snils-missing", en: "The certificate has no SNILS (not a natural person's certificate).", ru: "В сертификате нет СНИЛС (не сертификат физического лица).";
    /// SNILS checksum or format wrong.
    SnilsInvalid = "snils-invalid", en: "The certificate's SNILS is invalid.", ru: "СНИЛС в сертификате некорректен.";
    /// keyUsage lacks digitalSignature.
    DigitalSignatureNotAllowed = "digital-signature-not-allowed", en: "The certificate's key usage does not allow digital signatures.", ru: "Назначение ключа сертификата не допускает электронную подпись.";
    /// Revocation checking is required by the profile but was turned off.
    RevocationRequired = "revocation-required", en: "This profile requires a revocation check.", ru: "Этот профиль требует проверки статуса отзыва.";
    /// Trust store or file problems.
    Io = "io", en: "A file could not be read.", ru: "Не удалось прочитать файл.";
    /// The accredited-CA list is malformed.
    MalformedCaList = "malformed-ca-list", en: "The accredited CA list is malformed.", ru: "Список аккредитованных УЦ повреждён.";
    /// Resource limit (path too long, too many candidates).
    Limit = "limit", en: "Verification stopped at a resource limit.", ru: "Проверка остановлена: превышен предел ресурсов.";
}

/// A verification failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// Stable code.
    pub code: Code,
    /// Technical detail in English (which certificate, which field).
    pub detail: String,
}

impl VerifyError {
    /// An error with detail.
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        VerifyError {
            code,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.code.message_en())?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}

/// Shorthand.
pub type Result<T> = std::result::Result<T, VerifyError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_have_messages() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {}", c.as_str());
            assert!(!c.message_en().is_empty() && !c.message_ru().is_empty());
        }
    }
}
