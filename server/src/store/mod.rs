//! Durable storage: SQLite (default, embedded) or PostgreSQL (several instances sharing one
//! database). Both implement the same operations with the same SQL where the dialects agree;
//! the confirmation itself is one transaction ([`Store::settle`]).

mod postgres;
mod schema;
mod sqlite;

use crate::error::ApiError;
use crate::model::{
    Account, AuditRecord, CertificateSummary, ChallengeRecord, Level, Profile, SessionRecord,
};

/// A storage failure (not a refused request).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not `sqlite:PATH` or `postgres://…`.
    #[error("database URL {0:?}: expected sqlite:PATH or postgres://…")]
    Url(String),
    /// The database cannot be reached or failed.
    #[error("database: {0}")]
    Backend(String),
    /// A stored value cannot be decoded (corruption or a newer schema).
    #[error("database holds an invalid value: {0}")]
    Corrupt(String),
    /// The database schema is newer than this program.
    #[error("database schema version {found} is newer than this program's {supported}")]
    SchemaTooNew {
        /// In the database.
        found: i64,
        /// Known here.
        supported: i64,
    },
    /// The store was shut down.
    #[error("database connection closed")]
    Closed,
}

/// A new account with a password.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Normalized login.
    pub login: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// What a successful confirmation or registration changes.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Raise the challenge's account to *confirmed*.
    Confirm {
        /// The certificate used.
        certificate: CertificateSummary,
    },
    /// Create a *confirmed* account from a certificate.
    Register {
        /// The account (login, name, password).
        account: NewAccount,
        /// The profile taken from the certificate (passport and birth date unknown: empty).
        profile: Box<Profile>,
        /// The certificate used.
        certificate: CertificateSummary,
    },
}

/// Decides, inside the transaction, whether a submission succeeds, given the stored challenge
/// (locked) and the account it was issued to (locked). Pure: no I/O.
pub type Decide =
    Box<dyn FnOnce(Option<&ChallengeRecord>, Option<&Account>) -> Result<Effect, ApiError> + Send>;

/// One confirmation or registration submission, settled in one transaction: the challenge is
/// consumed, the account raised or created, and an audit record appended — or, when `decide`
/// refuses, only the audit record is appended.
pub struct Settle {
    /// The nonce the statement names (`None` when the envelope was refused before its
    /// statement could be read).
    pub nonce: Option<String>,
    /// The session's account, recorded when the challenge names none.
    pub account_hint: Option<i64>,
    /// Unix seconds.
    pub now: i64,
    /// The decision.
    pub decide: Decide,
    /// The envelope as submitted.
    pub envelope: Vec<u8>,
    /// Verification result (JSON) for the audit record.
    pub verification: String,
}

/// The database.
pub enum Store {
    /// Embedded SQLite.
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL.
    Postgres(postgres::PgStore),
}

macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens (and creates or migrates) the database named by `url`: `sqlite:PATH`,
    /// `sqlite://PATH`, `postgres://…` or `postgresql://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::Url(url.to_owned()));
            }
            Ok(Store::Sqlite(
                sqlite::SqliteStore::open(path.as_ref()).await?,
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(postgres::PgStore::open(url).await?))
        } else {
            Err(StoreError::Url(url.to_owned()))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self.ping())
    }

    /// Creates a simplified account; `Ok(None)` when the login is taken.
    pub async fn create_account(
        &self,
        new: NewAccount,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        dispatch!(self.create_account(new, now))
    }

    /// The account with this login and its password hash.
    pub async fn account_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(Account, String)>, StoreError> {
        dispatch!(self.account_by_login(login))
    }

    /// The account with this id.
    pub async fn account(&self, id: i64) -> Result<Option<Account>, StoreError> {
        dispatch!(self.account(id))
    }

    /// Stores the profile and raises a simplified account to standard. Returns `Ok(None)` when
    /// the account is confirmed (its profile is fixed) or does not exist.
    pub async fn set_profile(
        &self,
        id: i64,
        profile: Profile,
    ) -> Result<Option<Account>, StoreError> {
        dispatch!(self.set_profile(id, profile))
    }

    /// Stores a new session.
    pub async fn create_session(&self, session: SessionRecord, now: i64) -> Result<(), StoreError> {
        dispatch!(self.create_session(session, now))
    }

    /// The unexpired session with this id (token digest).
    pub async fn session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        dispatch!(self.session(id, now))
    }

    /// Deletes a session.
    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        dispatch!(self.delete_session(id))
    }

    /// Stores an issued challenge.
    pub async fn insert_challenge(
        &self,
        record: ChallengeRecord,
        purpose: &str,
        issued_at: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self.insert_challenge(record, purpose, issued_at))
    }

    /// Challenges neither consumed nor expired at `now`.
    pub async fn outstanding_challenges(&self, now: i64) -> Result<i64, StoreError> {
        dispatch!(self.outstanding_challenges(now))
    }

    /// Settles a submission in one transaction (see [`Settle`]). The outer error is a storage
    /// failure (nothing changed); the inner one is the refusal that was recorded.
    pub async fn settle(&self, settle: Settle) -> Result<Result<Account, ApiError>, StoreError> {
        dispatch!(self.settle(settle))
    }

    /// Audit records in order, optionally of one account.
    pub async fn audit(&self, account: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self.audit(account))
    }

    /// Challenges that were consumed (their nonces).
    pub async fn consumed_nonces(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self.consumed_nonces())
    }

    /// Deletes expired sessions and challenges expired for more than a day.
    pub async fn sweep(&self, now: i64) -> Result<(), StoreError> {
        dispatch!(self.sweep(now))
    }

    /// Test and benchmark support: inserts accounts at a level with a profile in one
    /// transaction, returning their ids. Not reachable through the API.
    pub async fn seed_accounts(
        &self,
        accounts: Vec<(NewAccount, Level, Option<Profile>)>,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        dispatch!(self.seed_accounts(accounts, now))
    }
}

/// Builds an [`Account`] from the columns `id, login, name, level, profile, confirmed_at,
/// certificate`.
pub(crate) fn account_from(
    id: i64,
    login: String,
    name: String,
    level: String,
    profile: Option<String>,
    confirmed_at: Option<i64>,
    certificate: Option<String>,
) -> Result<Account, StoreError> {
    let level =
        Level::parse(&level).ok_or_else(|| StoreError::Corrupt(format!("level {level:?}")))?;
    let profile = profile
        .map(|p| serde_json::from_str::<Profile>(&p))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("profile: {e}")))?;
    let certificate = certificate
        .map(|c| serde_json::from_str::<CertificateSummary>(&c))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("certificate: {e}")))?;
    let confirmed_at = confirmed_at
        .map(|t| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                })
        })
        .transpose()?;
    Ok(Account {
        id,
        login,
        name,
        level,
        profile,
        confirmed_at,
        certificate,
    })
}

/// JSON text of a value the store writes (profiles, certificate summaries).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
