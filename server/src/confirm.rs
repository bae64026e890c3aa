//! The rules of a confirmation (and of a registration with an e-signature), as pure functions:
//! the envelope's statement against this portal's origin, then — inside the store's
//! transaction — the stored challenge, the account and the identity.

use crate::error::{ApiCode, ApiError};
use crate::model::{Account, CertificateSummary, ChallengeRecord, Level, Profile};
use crate::store::{Decide, Effect, NewAccount};
use tokenconfirm_verify::identity::Identity;
use tokenconfirm_wire::challenge::{Challenge, Purpose};
use tokenconfirm_wire::origin::Origin;
use tokenconfirm_wire::statement::Statement;

/// The statement of a verified envelope, checked against this portal: strictly parsed, both
/// origins equal to ours, naming the certificate that signed it, for the endpoint's purpose.
pub fn check_statement(
    content: &[u8],
    signer_der: &[u8],
    origin: &Origin,
    purpose: Purpose,
) -> Result<Statement, ApiError> {
    let statement = Statement::from_signed_bytes(content)
        .map_err(|e| ApiError::with(ApiCode::EnvelopeInvalid, format!("statement: {e}")))?;
    if !statement.names_certificate(signer_der) {
        return Err(ApiError::with(
            ApiCode::EnvelopeInvalid,
            "statement: signerCertificateSha256 does not name the signer",
        ));
    }
    if &statement.origin != origin || &statement.challenge.origin != origin {
        return Err(ApiError::with(
            ApiCode::OriginMismatch,
            format!("signed for {}", statement.origin.as_str()),
        ));
    }
    if statement.challenge.purpose != purpose {
        return Err(ApiError::with(ApiCode::ChallengeUnknown, "purpose"));
    }
    Ok(statement)
}

/// Who is submitting: the session (token digest) and its account, if logged in.
#[derive(Debug, Clone)]
pub struct Submitter {
    /// Session id (token digest).
    pub session: String,
    /// Logged-in account.
    pub account: Option<i64>,
}

/// The checks every submission makes on the stored challenge: known to this session (and
/// account) with exactly the signed values, unexpired at `now`, not consumed.
fn check_challenge(
    record: Option<&ChallengeRecord>,
    signed: &Challenge,
    by: &Submitter,
    now: i64,
) -> Result<(), ApiError> {
    let unknown = || ApiError::new(ApiCode::ChallengeUnknown);
    let record = record.ok_or_else(unknown)?;
    if record.session != by.session || record.account_id != by.account {
        return Err(unknown());
    }
    let stored: Challenge = serde_json::from_str(&record.challenge_json).map_err(|_| unknown())?;
    if &stored != signed {
        return Err(unknown());
    }
    if now >= record.expires_at {
        return Err(ApiError::new(ApiCode::ChallengeExpired));
    }
    if record.consumed_at.is_some() {
        return Err(ApiError::new(ApiCode::ChallengeConsumed));
    }
    Ok(())
}

/// The decision for `POST /confirmations`: the challenge checks, then the account is
/// *standard*, then the certificate's SNILS and name match its profile.
pub fn decide_confirmation(
    signed: Challenge,
    by: Submitter,
    identity: Identity,
    certificate: CertificateSummary,
    now: i64,
) -> Decide {
    Box::new(move |record, account| {
        check_challenge(record, &signed, &by, now)?;
        let account: &Account = account.ok_or_else(|| ApiError::new(ApiCode::ChallengeUnknown))?;
        if account.level != Level::Standard {
            return Err(ApiError::with(
                ApiCode::AccountNotStandard,
                account.level.as_str(),
            ));
        }
        let profile = account
            .profile
            .as_ref()
            .ok_or_else(|| ApiError::new(ApiCode::AccountNotStandard))?;
        if !identity.matches(
            &profile.snils,
            &profile.surname,
            &profile.first_name,
            profile.patronymic.as_deref(),
        ) {
            let snils_same = identity.snils.as_deref() == Some(profile.snils.as_str());
            return Err(ApiError::with(
                ApiCode::IdentityMismatch,
                if snils_same { "name" } else { "snils" },
            ));
        }
        Ok(Effect::Confirm { certificate })
    })
}

/// The profile a registration with an e-signature takes from the certificate: SNILS and the
/// full name (birth date and passport are not in certificates).
pub fn profile_from(identity: &Identity) -> Result<Profile, ApiError> {
    let missing =
        |what: &str| ApiError::with(ApiCode::CertificateInvalid, format!("{what} missing"));
    Ok(Profile {
        surname: identity.surname.clone().ok_or_else(|| missing("surname"))?,
        first_name: identity
            .first_name
            .clone()
            .ok_or_else(|| missing("givenName"))?,
        patronymic: identity.patronymic.clone(),
        birth_date: None,
        snils: identity.snils.clone().ok_or_else(|| missing("SNILS"))?,
        passport_series: None,
        passport_number: None,
    })
}

/// The decision for `POST /registrations`: the challenge checks (an anonymous session's), then
/// a confirmed account is created from the certificate's identity.
pub fn decide_registration(
    signed: Challenge,
    by: Submitter,
    account: NewAccount,
    profile: Profile,
    certificate: CertificateSummary,
    now: i64,
) -> Decide {
    Box::new(move |record, _| {
        check_challenge(record, &signed, &by, now)?;
        Ok(Effect::Register {
            account,
            profile: Box::new(profile),
            certificate,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenconfirm_wire::challenge::Timestamp;

    fn challenge(nonce: &str) -> Challenge {
        let at = |s| Timestamp::parse(s).unwrap();
        Challenge {
            version: 1,
            nonce: nonce.into(),
            origin: Origin::parse("https://portal.example").unwrap(),
            account: "ivan@example.ru".into(),
            purpose: Purpose::AccountConfirmation,
            issued_at: at("2026-11-22T09:00:00Z"),
            expires_at: at("2026-11-22T09:05:00Z"),
        }
    }

    fn record(c: &Challenge) -> ChallengeRecord {
        ChallengeRecord {
            nonce: c.nonce.clone(),
            session: "s1".into(),
            account_id: Some(7),
            challenge_json: serde_json::to_string(c).unwrap(),
            expires_at: c.expires_at.datetime().unix_timestamp(),
            consumed_at: None,
        }
    }

    fn account(level: Level, snils: &str, surname: &str) -> Account {
        Account {
            id: 7,
            login: "ivan@example.ru".into(),
            name: "Иван".into(),
            level,
            profile: Some(Profile {
                surname: surname.into(),
                first_name: "Иван".into(),
                patronymic: Some("Иванович".into()),
                birth_date: Some("1980-01-01".into()),
                snils: snils.into(),
                passport_series: Some("4501".into()),
                passport_number: Some("123456".into()),
            }),
            confirmed_at: None,
            certificate: None,
        }
    }

    fn identity() -> Identity {
        Identity {
            snils: Some("11223344595".into()),
            surname: Some("ИВАНОВ".into()),
            first_name: Some("Иван".into()),
            patronymic: Some("Иванович".into()),
            ..Identity::default()
        }
    }

    fn cert() -> CertificateSummary {
        CertificateSummary {
            subject: "CN=x".into(),
            issuer: "CN=y".into(),
            serial: "01".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
        }
    }

    fn run(
        rec: Option<ChallengeRecord>,
        acct: Option<Account>,
        by: Submitter,
        now: i64,
    ) -> Result<Effect, ApiError> {
        let c = challenge("mF3kQyq6l0Zl1c0iCk5e0v2Xh7mY9Hn4Q3tT8pLwR2s");
        decide_confirmation(c, by, identity(), cert(), now)(rec.as_ref(), acct.as_ref())
    }

    #[test]
    fn confirmation_rules_in_order() {
        let c = challenge("mF3kQyq6l0Zl1c0iCk5e0v2Xh7mY9Hn4Q3tT8pLwR2s");
        let by = Submitter {
            session: "s1".into(),
            account: Some(7),
        };
        let now = c.issued_at.datetime().unix_timestamp() + 10;
        let ok = account(Level::Standard, "11223344595", "Иванов");
        let code = |r: Result<Effect, ApiError>| r.err().map(|e| e.code);
        assert_eq!(
            code(run(Some(record(&c)), Some(ok.clone()), by.clone(), now)),
            None
        );
        assert_eq!(
            code(run(None, Some(ok.clone()), by.clone(), now)),
            Some(ApiCode::ChallengeUnknown)
        );
        let other = Submitter {
            session: "s2".into(),
            account: Some(7),
        };
        assert_eq!(
            code(run(Some(record(&c)), Some(ok.clone()), other, now)),
            Some(ApiCode::ChallengeUnknown)
        );
        let mut changed = record(&c);
        changed.challenge_json =
            serde_json::to_string(&challenge("nF3kQyq6l0Zl1c0iCk5e0v2Xh7mY9Hn4Q3tT8pLwR2s"))
                .unwrap();
        assert_eq!(
            code(run(Some(changed), Some(ok.clone()), by.clone(), now)),
            Some(ApiCode::ChallengeUnknown)
        );
        let expiry = c.expires_at.datetime().unix_timestamp();
        assert_eq!(
            code(run(Some(record(&c)), Some(ok.clone()), by.clone(), expiry)),
            Some(ApiCode::ChallengeExpired)
        );
        let mut used = record(&c);
        used.consumed_at = Some(now);
        assert_eq!(
            code(run(Some(used), Some(ok.clone()), by.clone(), now)),
            Some(ApiCode::ChallengeConsumed)
        );
        let simple = account(Level::Simplified, "11223344595", "Иванов");
        assert_eq!(
            code(run(Some(record(&c)), Some(simple), by.clone(), now)),
            Some(ApiCode::AccountNotStandard)
        );
        let wrong_snils = account(Level::Standard, "12345678964", "Иванов");
        assert_eq!(
            code(run(Some(record(&c)), Some(wrong_snils), by.clone(), now)),
            Some(ApiCode::IdentityMismatch)
        );
        let wrong_name = account(Level::Standard, "11223344595", "Петров");
        let e = run(Some(record(&c)), Some(wrong_name), by.clone(), now).unwrap_err();
        assert_eq!(
            (e.code, e.reason.as_deref()),
            (ApiCode::IdentityMismatch, Some("name"))
        );
        let yo = account(Level::Standard, "11223344595", "ивАнов");
        assert_eq!(code(run(Some(record(&c)), Some(yo), by, now)), None);
    }
}
