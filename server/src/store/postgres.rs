//! PostgreSQL back end: a connection pool; every confirmation is one transaction that locks
//! the challenge row (`FOR UPDATE`), so several server instances sharing the database consume
//! each challenge exactly once. Commits are durable with PostgreSQL's default
//! `synchronous_commit = on`. Connections are plain TCP or Unix sockets (use a private network
//! or a socket; TLS to the database is not built in).

use super::schema::{self, sql};
use super::{account_from, to_json, Effect, NewAccount, Settle, StoreError};
use crate::error::{ApiCode, ApiError};
use crate::model::{Account, AuditRecord, ChallengeRecord, Level, Profile, SessionRecord};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::str::FromStr;
use tokio_postgres::{NoTls, Row};

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn account_row(r: &Row) -> Result<Account, StoreError> {
    account_from(
        r.try_get(0).map_err(backend)?,
        r.try_get(1).map_err(backend)?,
        r.try_get(2).map_err(backend)?,
        r.try_get(3).map_err(backend)?,
        r.try_get(4).map_err(backend)?,
        r.try_get(5).map_err(backend)?,
        r.try_get(6).map_err(backend)?,
    )
}

async fn account_by_id(c: &impl GenericClient, id: i64) -> Result<Option<Account>, StoreError> {
    let stmt = c
        .prepare_cached(sql::ACCOUNT_BY_ID)
        .await
        .map_err(backend)?;
    c.query_opt(&stmt, &[&id])
        .await
        .map_err(backend)?
        .map(|r| account_row(&r))
        .transpose()
}

async fn insert_account(
    c: &impl GenericClient,
    new: &NewAccount,
    level: Level,
    profile: Option<&Profile>,
    confirmed: Option<(i64, String)>,
    now: i64,
) -> Result<Option<Account>, StoreError> {
    let profile_json = profile.map(to_json).transpose()?;
    let snils = profile.map(|p| p.snils.clone());
    let (confirmed_at, certificate) = confirmed.unzip();
    let stmt = c
        .prepare_cached(sql::INSERT_ACCOUNT)
        .await
        .map_err(backend)?;
    let row = c
        .query_opt(
            &stmt,
            &[
                &new.login,
                &new.name,
                &new.password_hash,
                &level.as_str(),
                &profile_json,
                &snils,
                &confirmed_at,
                &certificate,
                &now,
            ],
        )
        .await
        .map_err(backend)?;
    match row {
        Some(r) => account_by_id(c, r.try_get(0).map_err(backend)?).await,
        None => Ok(None),
    }
}

impl PgStore {
    /// Connects and applies migrations (serialized across instances by an advisory lock).
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let config = tokio_postgres::Config::from_str(url).map_err(backend)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(backend)?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock(7400131)", &[])
            .await
            .map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await
            .map_err(backend)?;
        let current: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0)::BIGINT FROM schema_version",
                &[],
            )
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        let supported = schema::POSTGRES.len() as i64;
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        for (i, step) in schema::POSTGRES.iter().enumerate().skip(current as usize) {
            tx.batch_execute(step).await.map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(i as i64 + 1)],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(backend)
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(backend)
    }

    pub(super) async fn create_account(
        &self,
        new: NewAccount,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        let c = self.client().await?;
        insert_account(&c, &new, Level::Simplified, None, None, now).await
    }

    pub(super) async fn account_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(Account, String)>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(sql::ACCOUNT_BY_LOGIN)
            .await
            .map_err(backend)?;
        match c.query_opt(&stmt, &[&login]).await.map_err(backend)? {
            Some(r) => Ok(Some((account_row(&r)?, r.try_get(7).map_err(backend)?))),
            None => Ok(None),
        }
    }

    pub(super) async fn account(&self, id: i64) -> Result<Option<Account>, StoreError> {
        let c = self.client().await?;
        account_by_id(&c, id).await
    }

    pub(super) async fn set_profile(
        &self,
        id: i64,
        profile: Profile,
    ) -> Result<Option<Account>, StoreError> {
        let c = self.client().await?;
        let json = to_json(&profile)?;
        let stmt = c.prepare_cached(sql::SET_PROFILE).await.map_err(backend)?;
        let n = c
            .execute(&stmt, &[&json, &profile.snils, &id])
            .await
            .map_err(backend)?;
        if n == 0 {
            return Ok(None);
        }
        account_by_id(&c, id).await
    }

    pub(super) async fn create_session(
        &self,
        s: SessionRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(sql::INSERT_SESSION)
            .await
            .map_err(backend)?;
        c.execute(&stmt, &[&s.id, &s.account_id, &s.csrf, &now, &s.expires_at])
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn session(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql::SESSION).await.map_err(backend)?;
        c.query_opt(&stmt, &[&id, &now])
            .await
            .map_err(backend)?
            .map(|r| {
                Ok(SessionRecord {
                    id: r.try_get(0).map_err(backend)?,
                    account_id: r.try_get(1).map_err(backend)?,
                    csrf: r.try_get(2).map_err(backend)?,
                    expires_at: r.try_get(3).map_err(backend)?,
                })
            })
            .transpose()
    }

    pub(super) async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(sql::DELETE_SESSION, &[&id])
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn insert_challenge(
        &self,
        r: ChallengeRecord,
        purpose: &str,
        issued_at: i64,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(sql::INSERT_CHALLENGE)
            .await
            .map_err(backend)?;
        c.execute(
            &stmt,
            &[
                &r.nonce,
                &r.session,
                &r.account_id,
                &purpose,
                &r.challenge_json,
                &issued_at,
                &r.expires_at,
            ],
        )
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn outstanding_challenges(&self, now: i64) -> Result<i64, StoreError> {
        let c = self.client().await?;
        c.query_one(sql::OUTSTANDING, &[&now])
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)
    }

    pub(super) async fn settle(&self, s: Settle) -> Result<Result<Account, ApiError>, StoreError> {
        let mut c = self.client().await?;
        let mut tx = c.transaction().await.map_err(backend)?;
        let lock = format!("{} FOR UPDATE", sql::CHALLENGE);
        let record = tx
            .query_opt(&lock, &[&s.nonce])
            .await
            .map_err(backend)?
            .map(|r| {
                Ok::<_, StoreError>(ChallengeRecord {
                    nonce: r.try_get(0).map_err(backend)?,
                    session: r.try_get(1).map_err(backend)?,
                    account_id: r.try_get(2).map_err(backend)?,
                    challenge_json: r.try_get(3).map_err(backend)?,
                    expires_at: r.try_get(4).map_err(backend)?,
                    consumed_at: r.try_get(5).map_err(backend)?,
                })
            })
            .transpose()?;
        let account = match record.as_ref().and_then(|r| r.account_id) {
            Some(id) => {
                let q = format!("{} FOR UPDATE", sql::ACCOUNT_BY_ID);
                tx.query_opt(&q, &[&id])
                    .await
                    .map_err(backend)?
                    .map(|r| account_row(&r))
                    .transpose()?
            }
            None => None,
        };
        let decision = (s.decide)(record.as_ref(), account.as_ref());
        let outcome = match decision {
            Err(e) => Err(e),
            Ok(effect) => {
                let savepoint = tx.savepoint("effect").await.map_err(backend)?;
                let result = apply(
                    &savepoint,
                    s.nonce.as_deref().unwrap_or(""),
                    s.now,
                    effect,
                    account.as_ref(),
                )
                .await?;
                if result.is_ok() {
                    savepoint.commit().await.map_err(backend)?;
                } else {
                    savepoint.rollback().await.map_err(backend)?;
                }
                result
            }
        };
        let audit_account = match &outcome {
            Ok(a) => Some(a.id),
            Err(_) => account.as_ref().map(|a| a.id).or(s.account_hint),
        };
        let code = match &outcome {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        let stmt = tx
            .prepare_cached(sql::INSERT_AUDIT)
            .await
            .map_err(backend)?;
        tx.execute(
            &stmt,
            &[
                &s.now,
                &audit_account,
                &s.nonce,
                &code,
                &s.verification,
                &s.envelope,
            ],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    pub(super) async fn audit(&self, account: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
        let c = self.client().await?;
        let rows = match account {
            Some(a) => c.query(sql::AUDIT_OF, &[&a]).await,
            None => c.query(sql::AUDIT_ALL, &[]).await,
        }
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get(0).map_err(backend)?,
                    at: r.try_get(1).map_err(backend)?,
                    account_id: r.try_get(2).map_err(backend)?,
                    nonce: r.try_get(3).map_err(backend)?,
                    outcome: r.try_get(4).map_err(backend)?,
                    result: r.try_get(5).map_err(backend)?,
                    envelope: r.try_get(6).map_err(backend)?,
                })
            })
            .collect()
    }

    pub(super) async fn consumed_nonces(&self) -> Result<Vec<String>, StoreError> {
        let c = self.client().await?;
        c.query(sql::CONSUMED, &[])
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.try_get(0).map_err(backend))
            .collect()
    }

    pub(super) async fn sweep(&self, now: i64) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(sql::SWEEP_SESSIONS, &[&now])
            .await
            .map_err(backend)?;
        c.execute(sql::SWEEP_CHALLENGES, &[&(now - 86_400)])
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn seed_accounts(
        &self,
        accounts: Vec<(NewAccount, Level, Option<Profile>)>,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let mut ids = Vec::with_capacity(accounts.len());
        for (new, level, profile) in &accounts {
            let a = insert_account(&tx, new, *level, profile.as_ref(), None, now)
                .await?
                .ok_or_else(|| StoreError::Backend(format!("login {} taken", new.login)))?;
            ids.push(a.id);
        }
        tx.commit().await.map_err(backend)?;
        Ok(ids)
    }
}

async fn apply(
    c: &impl GenericClient,
    nonce: &str,
    now: i64,
    effect: Effect,
    account: Option<&Account>,
) -> Result<Result<Account, ApiError>, StoreError> {
    let consumed = c
        .execute(sql::CONSUME, &[&now, &nonce])
        .await
        .map_err(backend)?;
    if consumed != 1 {
        return Ok(Err(ApiError::new(ApiCode::ChallengeConsumed)));
    }
    match effect {
        Effect::Confirm { certificate } => {
            let Some(account) = account else {
                return Ok(Err(ApiError::new(ApiCode::ChallengeUnknown)));
            };
            let n = c
                .execute(
                    sql::CONFIRM_ACCOUNT,
                    &[&now, &to_json(&certificate)?, &account.id],
                )
                .await
                .map_err(backend)?;
            if n != 1 {
                return Ok(Err(ApiError::new(ApiCode::AccountNotStandard)));
            }
            account_by_id(c, account.id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("confirmed account vanished".into()))
                .map(Ok)
        }
        Effect::Register {
            account: new,
            profile,
            certificate,
        } => {
            let existing: i64 = c
                .query_one(sql::CONFIRMED_SNILS, &[&profile.snils])
                .await
                .map_err(backend)?
                .try_get(0)
                .map_err(backend)?;
            if existing > 0 {
                return Ok(Err(ApiError::new(ApiCode::SnilsRegistered)));
            }
            let cert = to_json(&certificate)?;
            match insert_account(
                c,
                &new,
                Level::Confirmed,
                Some(&profile),
                Some((now, cert)),
                now,
            )
            .await?
            {
                Some(a) => Ok(Ok(a)),
                None => Ok(Err(ApiError::new(ApiCode::LoginTaken))),
            }
        }
    }
}
