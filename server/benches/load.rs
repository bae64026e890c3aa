//! Load generator: durable confirmations per second and latency on loopback, SQLite and
//! PostgreSQL, with P-256 envelopes and 50 concurrent clients.
//!
//! `cargo bench -p tokenconfirm-server --bench load` runs the full measurement (N accounts,
//! default 15 000, `TOKENCONFIRM_LOAD_N` to change); under `cargo test --benches` it runs a
//! 200-account smoke pass so the bench cannot rot. Not a timed test: it reports, it does not
//! assert a speed.
//!
//! Setup (not timed): N standard accounts with sessions are seeded through the store; the
//! server starts; every account gets a challenge over HTTP and the envelope is signed in
//! software (as the agent would). Measured: each client POSTs its confirmations one after
//! another; the server verifies (signature, 2-level chain, CRLs, profile), checks and commits
//! each one durably before answering.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Client, Fixture, Postgres, Server, SoftSigner};
use tokenconfirm_server::model::{Level, Profile, SessionRecord};
use tokenconfirm_server::secrets::{random_token, token_digest};
use tokenconfirm_server::store::{NewAccount, Store};

const CLIENTS: usize = 50;

struct Prepared {
    token: String,
    csrf: String,
}

fn seed(db: &str, n: usize) -> Vec<Prepared> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = std::sync::Arc::new(Store::open(db).await.expect("open store"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let profile = Profile {
            surname: "Иванов".into(),
            first_name: "Иван".into(),
            patronymic: Some("Иванович".into()),
            birth_date: Some("1980-01-31".into()),
            snils: "11223344595".into(),
            passport_series: Some("4501".into()),
            passport_number: Some("123456".into()),
        };
        let hash = tokenconfirm_server::secrets::dummy_hash(Default::default());
        let accounts = (0..n)
            .map(|i| {
                (
                    NewAccount {
                        login: format!("load{i}@example.test"),
                        name: "Нагрузка".into(),
                        password_hash: hash.clone(),
                    },
                    Level::Standard,
                    Some(profile.clone()),
                )
            })
            .collect();
        let ids = store.seed_accounts(accounts, now).await.expect("seed");
        let mut tasks = Vec::new();
        let mut prepared = Vec::new();
        for id in ids {
            let token = random_token(32).expect("rng");
            let csrf = random_token(32).expect("rng");
            let record = SessionRecord {
                id: token_digest(&token),
                account_id: Some(id),
                csrf: csrf.clone(),
                expires_at: now + 3600,
            };
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.create_session(record, now).await
            }));
            prepared.push(Prepared { token, csrf });
        }
        for t in tasks {
            t.await.expect("join").expect("session");
        }
        prepared
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(backend: &str, db: &str, config: &std::path::Path, signer: &SoftSigner, n: usize) {
    let prepared = seed(db, n);
    let server = Server::start(config, db);
    let base = Client::new(&server.base);
    // Challenges and envelopes (setup; the issue rate is reported too).
    let started = Instant::now();
    let chunks: Vec<Vec<Prepared>> = {
        let mut chunks: Vec<Vec<Prepared>> = (0..CLIENTS).map(|_| Vec::new()).collect();
        for (i, p) in prepared.into_iter().enumerate() {
            chunks[i % CLIENTS].push(p);
        }
        chunks
    };
    let work: Vec<Vec<(Client, Vec<u8>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let base = &base;
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|p| {
                            let mut c = base.attached(&p.token, &p.csrf);
                            let (a, ch) = c.challenge("account-confirmation");
                            let ch =
                                ch.unwrap_or_else(|| panic!("challenge: {} {}", a.status, a.body));
                            let env = signer.envelope(&ch);
                            (c, env)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("challenge thread"))
            .collect()
    });
    let challenge_rate = n as f64 / started.elapsed().as_secs_f64();
    // Measured phase.
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|items| {
                let failures = &failures;
                s.spawn(move || {
                    let mut lat = Vec::with_capacity(items.len());
                    for (mut c, env) in items {
                        let t = Instant::now();
                        let a = c.confirm(&env);
                        lat.push(t.elapsed());
                        if a.status != 200 && failures.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("confirmation failed: {} {}", a.status, a.body);
                        }
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    });
    let wall = started.elapsed();
    latencies.sort();
    let failed = failures.load(Ordering::Relaxed);
    println!(
        "load/{backend}: {n} confirmations by {CLIENTS} clients in {:.2} s = {:.0} confirmations/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; failures {failed}; (challenges issued at {:.0}/s during setup)",
        wall.as_secs_f64(),
        (n - failed) as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        challenge_rate,
    );
    assert_eq!(failed, 0, "every confirmation must succeed");
    drop(server);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = if full {
        std::env::var("TOKENCONFIRM_LOAD_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(15_000)
    } else {
        200
    };
    let scratch = tempfile::Builder::new()
        .prefix("tokenconfirm-load")
        .tempdir()
        .expect("scratch");
    let fixture = Fixture::make(&scratch.path().join("fixture"));
    let signer = SoftSigner::load(
        &fixture.pki("user-ec.key"),
        &fixture.pki("user-ec.pem"),
        &[fixture.pki("intermediate.pem")],
    );
    let config = scratch.path().join("load.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"qualified-test\"\ntrust = [\"{}\"]\ncrls = [\"{}\", \"{}\"]\n[rate_limits]\nlogin_per_minute = 0\nregistration_per_minute = 0\nchallenges_per_minute = 0\nsessions_per_minute = 0\n",
            fixture.pki("root.pem").display(),
            fixture.pki("intermediate.crl.pem").display(),
            fixture.pki("root.crl.pem").display()
        ),
    )
    .expect("config");
    let sqlite = format!("sqlite:{}", scratch.path().join("load.db").display());
    run("sqlite", &sqlite, &config, &signer, n);
    match Postgres::start() {
        Ok(pg) => {
            let url = pg.create_db("load");
            run("postgres", &url, &config, &signer, n);
        }
        Err(e) => {
            eprintln!("load/postgres: not measured: {e}");
            if !full {
                std::process::exit(1);
            }
        }
    }
}
