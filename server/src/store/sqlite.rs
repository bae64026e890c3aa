//! SQLite back end: WAL, `synchronous=FULL` (a commit is on disk before it is acknowledged),
//! one writer thread that commits the writes waiting for it together (group commit, each in
//! its own savepoint so one failure never affects another), and a pool of reader connections.

use super::schema::{self, sql};
use super::{account_from, to_json, Effect, NewAccount, Settle, StoreError};
use crate::error::{ApiCode, ApiError};
use crate::model::{Account, AuditRecord, ChallengeRecord, Level, Profile, SessionRecord};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

type Reply = Box<dyn FnOnce(Option<StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// Most writes committed together.
const MAX_BATCH: usize = 256;

/// The SQLite store.
pub struct SqliteStore {
    jobs: Mutex<mpsc::Sender<Job>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(backend)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(backend)?;
    let current: i64 = tx
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let supported = schema::SQLITE.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, step) in schema::SQLITE.iter().enumerate().skip(current as usize) {
        tx.execute_batch(step).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [i as i64 + 1],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn writer(conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite: cannot begin a transaction");
            // Dropping the jobs tells their callers the store failed.
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                tracing::error!(error = %e, "sqlite: savepoint");
                continue;
            }
            let (ok, reply) = job(&conn);
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            let failed = conn.execute_batch(end).err().map(backend);
            replies.push((reply, failed));
        }
        let commit = conn.execute_batch("COMMIT").err().map(backend);
        if commit.is_some() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for (reply, failed) in replies {
            reply(commit.clone().or(failed));
        }
    }
    // All senders gone: close cleanly (checkpoint happens on close).
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
    drop(conn);
}

impl SqliteStore {
    /// Opens or creates the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let mut conn = connect(&p)?;
            migrate(&mut conn)?;
            Ok::<_, StoreError>(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))??;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(SqliteStore {
            jobs: Mutex::new(tx),
            readers: Arc::new(Mutex::new(Vec::new())),
            path,
        })
    }

    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |failed| {
                let _ = tx.send(match failed {
                    Some(e) => Err(e),
                    None => result,
                });
            });
            (ok, reply)
        });
        self.jobs
            .lock()
            .map_err(|_| StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match pooled {
                Some(c) => c,
                None => connect(&path)?,
            };
            let result = f(&conn);
            if let Ok(mut r) = readers.lock() {
                r.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
            .await
    }

    pub(super) async fn create_account(
        &self,
        new: NewAccount,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        self.write(move |c| insert_account(c, &new, Level::Simplified, None, None, now))
            .await
    }

    pub(super) async fn account_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(Account, String)>, StoreError> {
        let login = login.to_owned();
        self.read(move |c| {
            c.prepare_cached(sql::ACCOUNT_BY_LOGIN)
                .map_err(backend)?
                .query_row([login], |r| {
                    Ok((
                        (
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ),
                        r.get::<_, String>(7)?,
                    ))
                })
                .optional()
                .map_err(backend)?
                .map(|((a, b, cc, d, e, f, g), hash)| {
                    Ok((account_from(a, b, cc, d, e, f, g)?, hash))
                })
                .transpose()
        })
        .await
    }

    pub(super) async fn account(&self, id: i64) -> Result<Option<Account>, StoreError> {
        self.read(move |c| account_by_id(c, id)).await
    }

    pub(super) async fn set_profile(
        &self,
        id: i64,
        profile: Profile,
    ) -> Result<Option<Account>, StoreError> {
        self.write(move |c| {
            let json = to_json(&profile)?;
            let n = c
                .prepare_cached(sql::SET_PROFILE)
                .map_err(backend)?
                .execute(params![json, profile.snils, id])
                .map_err(backend)?;
            if n == 0 {
                return Ok(None);
            }
            account_by_id(c, id)
        })
        .await
    }

    pub(super) async fn create_session(
        &self,
        s: SessionRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            c.prepare_cached(sql::INSERT_SESSION)
                .map_err(backend)?
                .execute(params![s.id, s.account_id, s.csrf, now, s.expires_at])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn session(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(sql::SESSION)
                .map_err(backend)?
                .query_row(params![id, now], |r| {
                    Ok(SessionRecord {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                        csrf: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                })
                .optional()
                .map_err(backend)
        })
        .await
    }

    pub(super) async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            c.prepare_cached(sql::DELETE_SESSION)
                .map_err(backend)?
                .execute([id])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn insert_challenge(
        &self,
        r: ChallengeRecord,
        purpose: &str,
        issued_at: i64,
    ) -> Result<(), StoreError> {
        let purpose = purpose.to_owned();
        self.write(move |c| {
            c.prepare_cached(sql::INSERT_CHALLENGE)
                .map_err(backend)?
                .execute(params![
                    r.nonce,
                    r.session,
                    r.account_id,
                    purpose,
                    r.challenge_json,
                    issued_at,
                    r.expires_at
                ])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn outstanding_challenges(&self, now: i64) -> Result<i64, StoreError> {
        self.read(move |c| {
            c.prepare_cached(sql::OUTSTANDING)
                .map_err(backend)?
                .query_row([now], |r| r.get(0))
                .map_err(backend)
        })
        .await
    }

    pub(super) async fn settle(&self, s: Settle) -> Result<Result<Account, ApiError>, StoreError> {
        self.write(move |c| settle(c, s)).await
    }

    pub(super) async fn audit(&self, account: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
        self.read(move |c| {
            let map = |r: &rusqlite::Row<'_>| {
                Ok(AuditRecord {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    account_id: r.get(2)?,
                    nonce: r.get(3)?,
                    outcome: r.get(4)?,
                    result: r.get(5)?,
                    envelope: r.get(6)?,
                })
            };
            let rows = match account {
                Some(a) => c
                    .prepare(sql::AUDIT_OF)
                    .and_then(|mut s| s.query_map([a], map)?.collect::<Result<Vec<_>, _>>()),
                None => c
                    .prepare(sql::AUDIT_ALL)
                    .and_then(|mut s| s.query_map([], map)?.collect::<Result<Vec<_>, _>>()),
            };
            rows.map_err(backend)
        })
        .await
    }

    pub(super) async fn consumed_nonces(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            c.prepare(sql::CONSUMED)
                .and_then(|mut s| {
                    s.query_map([], |r| r.get(0))?
                        .collect::<Result<Vec<String>, _>>()
                })
                .map_err(backend)
        })
        .await
    }

    pub(super) async fn sweep(&self, now: i64) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(sql::SWEEP_SESSIONS, [now]).map_err(backend)?;
            c.execute(sql::SWEEP_CHALLENGES, [now - 86_400])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn seed_accounts(
        &self,
        accounts: Vec<(NewAccount, Level, Option<Profile>)>,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.write(move |c| {
            let mut ids = Vec::with_capacity(accounts.len());
            for (new, level, profile) in &accounts {
                let account = insert_account(c, new, *level, profile.as_ref(), None, now)?
                    .ok_or_else(|| StoreError::Backend(format!("login {} taken", new.login)))?;
                ids.push(account.id);
            }
            Ok(ids)
        })
        .await
    }
}

fn account_by_id(c: &Connection, id: i64) -> Result<Option<Account>, StoreError> {
    c.prepare_cached(sql::ACCOUNT_BY_ID)
        .map_err(backend)?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()
        .map_err(backend)?
        .map(|(a, b, cc, d, e, f, g)| account_from(a, b, cc, d, e, f, g))
        .transpose()
}

fn insert_account(
    c: &Connection,
    new: &NewAccount,
    level: Level,
    profile: Option<&Profile>,
    confirmed: Option<(i64, String)>,
    now: i64,
) -> Result<Option<Account>, StoreError> {
    let profile_json = profile.map(to_json).transpose()?;
    let snils = profile.map(|p| p.snils.clone());
    let (confirmed_at, certificate) = confirmed.unzip();
    let id: Option<i64> = c
        .prepare_cached(sql::INSERT_ACCOUNT)
        .map_err(backend)?
        .query_row(
            params![
                new.login,
                new.name,
                new.password_hash,
                level.as_str(),
                profile_json,
                snils,
                confirmed_at,
                certificate,
                now
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    match id {
        Some(id) => account_by_id(c, id),
        None => Ok(None),
    }
}

fn settle(c: &Connection, s: Settle) -> Result<Result<Account, ApiError>, StoreError> {
    let record = c
        .prepare_cached(sql::CHALLENGE)
        .map_err(backend)?
        .query_row([&s.nonce], |r| {
            Ok(ChallengeRecord {
                nonce: r.get(0)?,
                session: r.get(1)?,
                account_id: r.get(2)?,
                challenge_json: r.get(3)?,
                expires_at: r.get(4)?,
                consumed_at: r.get(5)?,
            })
        })
        .optional()
        .map_err(backend)?;
    let account = match record.as_ref().and_then(|r| r.account_id) {
        Some(id) => account_by_id(c, id)?,
        None => None,
    };
    let decision = (s.decide)(record.as_ref(), account.as_ref());
    let mut audit_account = account.as_ref().map(|a| a.id).or(s.account_hint);
    let outcome = apply(
        c,
        s.nonce.as_deref().unwrap_or(""),
        s.now,
        decision,
        account.as_ref(),
    )?;
    if let Ok(a) = &outcome {
        audit_account = Some(a.id);
    }
    let outcome_code = match &outcome {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    c.prepare_cached(sql::INSERT_AUDIT)
        .map_err(backend)?
        .execute(params![
            s.now,
            audit_account,
            s.nonce,
            outcome_code,
            s.verification,
            s.envelope
        ])
        .map_err(backend)?;
    Ok(outcome)
}

/// Applies an accepted decision (consume, then raise or create) inside a savepoint of its own
/// so that a late refusal (challenge consumed meanwhile, login taken) leaves nothing behind
/// but the audit record.
fn apply(
    c: &Connection,
    nonce: &str,
    now: i64,
    decision: Result<Effect, ApiError>,
    account: Option<&Account>,
) -> Result<Result<Account, ApiError>, StoreError> {
    let effect = match decision {
        Ok(effect) => effect,
        Err(e) => return Ok(Err(e)),
    };
    c.execute_batch("SAVEPOINT effect").map_err(backend)?;
    let result = (|| {
        let consumed = c
            .prepare_cached(sql::CONSUME)
            .map_err(backend)?
            .execute(params![now, nonce])
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
                    .prepare_cached(sql::CONFIRM_ACCOUNT)
                    .map_err(backend)?
                    .execute(params![now, to_json(&certificate)?, account.id])
                    .map_err(backend)?;
                if n != 1 {
                    return Ok(Err(ApiError::new(ApiCode::AccountNotStandard)));
                }
                account_by_id(c, account.id)?
                    .ok_or_else(|| StoreError::Corrupt("confirmed account vanished".into()))
                    .map(Ok)
            }
            Effect::Register {
                account: new,
                profile,
                certificate,
            } => {
                let existing: i64 = c
                    .prepare_cached(sql::CONFIRMED_SNILS)
                    .map_err(backend)?
                    .query_row([&profile.snils], |r| r.get(0))
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
                )? {
                    Some(a) => Ok(Ok(a)),
                    None => Ok(Err(ApiError::new(ApiCode::LoginTaken))),
                }
            }
        }
    })();
    let end = match &result {
        Ok(Ok(_)) => "RELEASE effect",
        _ => "ROLLBACK TO effect; RELEASE effect",
    };
    c.execute_batch(end).map_err(backend)?;
    result
}
