//! The confirmation service over HTTP, against a real server process, on SQLite and on
//! PostgreSQL (a cluster this test starts on loopback and stops by PID). Every rule of a
//! confirmation, its failures, 50 parallel submissions of one statement, and a crash test.
//!
//! A custom harness (`harness = false`): one fixture, one PostgreSQL, cases in sequence (the
//! SoftHSM token must not be used concurrently). Prints a tally; exits non-zero on failure.

mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Client, Fixture, Postgres, Server, SoftSigner};
use tokenconfirm_wire::origin::Origin;

const SNILS: &str = "11223344595";
const OTHER_SNILS: &str = "12345678964";

struct Ctx {
    fixture: Fixture,
    scratch: PathBuf,
    backend: &'static str,
    // Dropped in this order: the server before the database it uses.
    server: Server,
    pg: Option<Postgres>,
    ivanov: SoftSigner,
    petrov_revoked: SoftSigner,
    stranger: SoftSigner,
    counter: AtomicUsize,
}

type Case = fn(&Ctx) -> Result<(), String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn expect(a: &support::Answer, status: u16, code: &str) -> Result<(), String> {
    check!(
        a.status == status && a.code() == code,
        "expected {status} {code:?}, got {} {}",
        a.status,
        a.body
    );
    Ok(())
}

/// A TOML configuration for a test server.
fn write_config(ctx_dir: &Path, fixture: &Fixture, name: &str, extra: &str) -> PathBuf {
    let path = ctx_dir.join(format!("{name}.toml"));
    let text = format!(
        r#"profile = "qualified-test"
trust = ["{root}"]
crls = ["{crl1}", "{crl2}"]
{extra}
[password_cost]
memory_kib = 256
iterations = 1
[rate_limits]
login_per_minute = 100000
registration_per_minute = 100000
challenges_per_minute = 100000
sessions_per_minute = 100000
"#,
        root = fixture.pki("root.pem").display(),
        crl1 = fixture.pki("intermediate.crl.pem").display(),
        crl2 = fixture.pki("root.crl.pem").display(),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

fn database_url(pg: Option<&Postgres>, scratch: &Path, name: &str) -> String {
    match pg {
        Some(pg) => pg.create_db(name),
        None => format!(
            "sqlite:{}",
            scratch
                .join(format!("{backend}-{name}.db", backend = "sqlite"))
                .display()
        ),
    }
}

impl Ctx {
    fn login(&self) -> String {
        format!(
            "user{}@example.test",
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn database(&self, name: &str) -> String {
        database_url(self.pg.as_ref(), &self.scratch, name)
    }

    /// A logged-in standard account with the given profile.
    fn standard(&self, surname: &str, snils: &str) -> Result<Client, String> {
        let mut c = Client::new(&self.server.base);
        let a = c.register(&self.login());
        check!(a.status == 201, "register: {} {}", a.status, a.body);
        let a = c.profile(surname, "Иван", "Иванович", snils);
        check!(
            a.status == 200 && a.body["level"] == "standard",
            "profile: {} {}",
            a.status,
            a.body
        );
        Ok(c)
    }

    /// A standard Иванов account with a challenge and the envelope over it.
    fn ready(&self) -> Result<(Client, Vec<u8>), String> {
        let mut c = self.standard("Иванов", SNILS)?;
        let (a, ch) = c.challenge("account-confirmation");
        let ch = ch.ok_or_else(|| format!("challenge: {} {}", a.status, a.body))?;
        Ok((c, self.ivanov.envelope(&ch)))
    }
}

// ------------------------------------------------------------------------------- cases

fn happy_path_with_the_agent_and_softhsm(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx.standard("Иванов", SNILS)?;
    let login = c.get("/api/v1/account").body["login"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let out = Command::new(
        env!("CARGO_BIN_EXE_tokenconfirm-server")
            .replace("tokenconfirm-server", "tokenconfirm-agent"),
    )
    .args(["--module", ctx.fixture.var("TOKENCONFIRM_TEST_MODULE")])
    .args(["confirm", "--server", &ctx.server.base, "--login", &login])
    .args([
        "--password-from-env",
        "TC_PW",
        "--pin-from-env",
        "TC_PIN",
        "--cert",
        "01",
    ])
    .env("SOFTHSM2_CONF", ctx.fixture.var("SOFTHSM2_CONF"))
    .env("TC_PW", "correct horse battery")
    .env("TC_PIN", ctx.fixture.var("TOKENCONFIRM_TEST_PIN"))
    .output()
    .map_err(|e| format!("run agent: {e}"))?;
    check!(
        out.status.success(),
        "agent confirm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    check!(answer["level"] == "confirmed", "agent output {answer}");
    let a = c.get("/api/v1/account");
    check!(
        a.body["level"] == "confirmed",
        "account after confirm: {}",
        a.body
    );
    check!(
        a.body["certificate"]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("Иванов")),
        "certificate summary {}",
        a.body
    );
    Ok(())
}

fn wrong_origin(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx.standard("Иванов", SNILS)?;
    let (_, ch) = c.challenge("account-confirmation");
    let ch = ch.ok_or("challenge")?;
    let evil = Origin::parse("https://evil.example").map_err(|e| e.to_string())?;
    // A relaying page: the genuine challenge signed from another origin.
    let env = ctx.ivanov.envelope_over(&ctx.ivanov.statement(&ch, &evil));
    expect(&c.confirm(&env), 403, "origin-mismatch")?;
    // The challenge's origin rewritten as well.
    let mut moved = ch.clone();
    moved.origin = evil.clone();
    expect(
        &c.confirm(&ctx.ivanov.envelope(&moved)),
        403,
        "origin-mismatch",
    )?;
    check!(
        c.get("/api/v1/account").body["level"] == "standard",
        "level changed"
    );
    // The genuine envelope still works: the refusals consumed nothing.
    let a = c.confirm(&ctx.ivanov.envelope(&ch));
    check!(
        a.status == 200,
        "genuine after refusals: {} {}",
        a.status,
        a.body
    );
    Ok(())
}

/// A citizen with a GOST qualified certificate (the only kind Russian CAs issue) confirms
/// through the agent CLI signing on the software GOST token, against a server whose trust
/// store is the GOST test CA (tests/fixtures/make-gost-pki.sh) under the `qualified` profile.
fn gost_citizen_confirms_with_the_agent_and_the_gost_token(ctx: &Ctx) -> Result<(), String> {
    let dir = ctx.scratch.join(format!("{}-gost", ctx.backend));
    let made = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/make-gost-pki.sh"))
        .arg(&dir)
        .status()
        .map_err(|e| format!("make-gost-pki.sh: {e}"))?;
    check!(
        made.success(),
        "make-gost-pki.sh failed (libengine-gost-openssl?)"
    );
    let token_conf = dir.join("gost-token.toml");
    std::fs::write(
        &token_conf,
        "[[token]]\nlabel = \"GOST\"\nserial = \"GS0001\"\nuser_pin = \"12345678\"\n\
         [[token.key]]\nid = \"01\"\nlabel = \"ivanov\"\ncertificate = \"user-512-A.pem\"\nprivate_key = \"user-512-A.key\"\n",
    )
    .map_err(|e| e.to_string())?;
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"qualified\"\ntrust = [\"{}\"]\ncrls = [\"{}\", \"{}\"]\n\
             [password_cost]\nmemory_kib = 256\niterations = 1\n",
            dir.join("root.pem").display(),
            dir.join("root.crl.pem").display(),
            dir.join("intermediate.crl.pem").display(),
        ),
    )
    .map_err(|e| e.to_string())?;
    let server = Server::start(&config, &ctx.database("gost"));
    let mut c = Client::new(&server.base);
    let login = ctx.login();
    check!(c.register(&login).status == 201, "register");
    check!(
        c.profile("Иванов", "Иван", "Иванович", SNILS).status == 200,
        "profile"
    );
    let module = tokenconfirm_gost_token::built::module()?;
    let out = Command::new(
        env!("CARGO_BIN_EXE_tokenconfirm-server")
            .replace("tokenconfirm-server", "tokenconfirm-agent"),
    )
    .arg("--module")
    .arg(&module)
    .args(["confirm", "--server", &server.base, "--login", &login])
    .args(["--password-from-env", "TC_PW", "--pin-from-env", "TC_PIN"])
    .env("TOKENCONFIRM_GOST_TOKEN_CONF", &token_conf)
    .env("TC_PW", "correct horse battery")
    .env("TC_PIN", "12345678")
    .output()
    .map_err(|e| format!("run agent: {e}"))?;
    check!(
        out.status.success(),
        "agent confirm (GOST) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = c.get("/api/v1/account");
    check!(
        a.body["level"] == "confirmed",
        "account after a GOST confirmation: {}",
        a.body
    );
    Ok(())
}

fn replayed_challenge(ctx: &Ctx) -> Result<(), String> {
    let (mut c, env) = ctx.ready()?;
    check!(c.confirm(&env).status == 200, "first");
    expect(&c.confirm(&env), 409, "challenge-consumed")
}

fn expired_challenge(ctx: &Ctx) -> Result<(), String> {
    let config = write_config(
        &ctx.scratch,
        &ctx.fixture,
        &format!("{}-ttl", ctx.backend),
        "challenge_ttl_seconds = 1",
    );
    let server = Server::start(&config, &ctx.database("expiry"));
    let mut c = Client::new(&server.base);
    check!(c.register(&ctx.login()).status == 201, "register");
    check!(
        c.profile("Иванов", "Иван", "Иванович", SNILS).status == 200,
        "profile"
    );
    let (_, ch) = c.challenge("account-confirmation");
    let ch = ch.ok_or("challenge")?;
    std::thread::sleep(Duration::from_millis(2100));
    expect(
        &c.confirm(&ctx.ivanov.envelope(&ch)),
        410,
        "challenge-expired",
    )?;
    check!(
        c.get("/api/v1/account").body["level"] == "standard",
        "level changed"
    );
    Ok(())
}

fn challenge_of_another_account(ctx: &Ctx) -> Result<(), String> {
    let (_a, env_for_a) = ctx.ready()?;
    let mut b = ctx.standard("Иванов", SNILS)?;
    expect(&b.confirm(&env_for_a), 404, "challenge-unknown")?;
    // Another session of the same account neither.
    Ok(())
}

fn snils_mismatch(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx.standard("Иванов", OTHER_SNILS)?;
    let (_, ch) = c.challenge("account-confirmation");
    let a = c.confirm(&ctx.ivanov.envelope(&ch.ok_or("challenge")?));
    expect(&a, 409, "identity-mismatch")?;
    check!(a.body["error"]["reason"] == "snils", "reason {}", a.body);
    check!(
        c.get("/api/v1/account").body["level"] == "standard",
        "level changed"
    );
    Ok(())
}

fn name_mismatch(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx.standard("Петров", SNILS)?;
    let (_, ch) = c.challenge("account-confirmation");
    let a = c.confirm(&ctx.ivanov.envelope(&ch.ok_or("challenge")?));
    expect(&a, 409, "identity-mismatch")?;
    check!(a.body["error"]["reason"] == "name", "reason {}", a.body);
    Ok(())
}

fn name_matches_after_normalization(ctx: &Ctx) -> Result<(), String> {
    let mut c = Client::new(&ctx.server.base);
    check!(c.register(&ctx.login()).status == 201, "register");
    check!(
        c.profile("  иВАНОВ ", "ИВАН", "иванович", "112-233-445 95")
            .status
            == 200,
        "profile"
    );
    let (_, ch) = c.challenge("account-confirmation");
    let a = c.confirm(&ctx.ivanov.envelope(&ch.ok_or("challenge")?));
    check!(
        a.status == 200,
        "normalized name refused: {} {}",
        a.status,
        a.body
    );
    Ok(())
}

fn account_not_standard(ctx: &Ctx) -> Result<(), String> {
    let mut c = Client::new(&ctx.server.base);
    check!(c.register(&ctx.login()).status == 201, "register");
    let (_, ch) = c.challenge("account-confirmation");
    expect(
        &c.confirm(&ctx.ivanov.envelope(&ch.ok_or("challenge")?)),
        409,
        "account-not-standard",
    )?;
    // A confirmed account cannot be confirmed again, nor its profile changed.
    let (mut c, env) = ctx.ready()?;
    check!(c.confirm(&env).status == 200, "confirm");
    let (_, ch) = c.challenge("account-confirmation");
    expect(
        &c.confirm(&ctx.ivanov.envelope(&ch.ok_or("challenge")?)),
        409,
        "account-not-standard",
    )?;
    expect(
        &c.profile("Иванов", "Иван", "Иванович", SNILS),
        409,
        "account-confirmed",
    )
}

fn untrusted_ca(ctx: &Ctx) -> Result<(), String> {
    let mut c = ctx.standard("Иванов", SNILS)?;
    let (_, ch) = c.challenge("account-confirmation");
    let a = c.confirm(&ctx.stranger.envelope(&ch.ok_or("challenge")?));
    expect(&a, 422, "certificate-invalid")?;
    check!(
        a.body["error"]["reason"] == "untrusted",
        "reason {}",
        a.body
    );
    Ok(())
}

fn revoked_certificate(ctx: &Ctx) -> Result<(), String> {
    let mut c = Client::new(&ctx.server.base);
    check!(c.register(&ctx.login()).status == 201, "register");
    check!(
        c.profile("Петров", "Петр", "Петрович", OTHER_SNILS).status == 200,
        "profile"
    );
    let (_, ch) = c.challenge("account-confirmation");
    expect(
        &c.confirm(&ctx.petrov_revoked.envelope(&ch.ok_or("challenge")?)),
        422,
        "certificate-revoked",
    )
}

fn malformed_envelopes(ctx: &Ctx) -> Result<(), String> {
    let (mut c, env) = ctx.ready()?;
    expect(
        &c.post(
            "/api/v1/confirmations",
            &json!({"envelope": "%%% not base64"}),
        ),
        400,
        "envelope-invalid",
    )?;
    expect(&c.confirm(b"\x30\x03\x02\x01\x01"), 400, "envelope-invalid")?;
    let mut tampered = env.clone();
    let n = tampered.len();
    tampered[n - 10] ^= 1;
    expect(&c.confirm(&tampered), 400, "envelope-invalid")?;
    // A signed envelope over something that is not a statement.
    expect(
        &c.confirm(&ctx.ivanov.envelope_over(b"{\"hello\":1}")),
        400,
        "envelope-invalid",
    )?;
    expect(
        &c.post(
            "/api/v1/confirmations",
            &json!({"envelope": "AAAA", "x": 1}),
        ),
        400,
        "invalid-request",
    )?;
    expect(
        &c.request(
            "POST",
            "/api/v1/confirmations",
            Some("application/json"),
            b"{\"envelope\":",
            true,
            &[],
        ),
        400,
        "invalid-request",
    )?;
    // Nothing consumed: the genuine envelope still confirms.
    check!(
        c.confirm(&env).status == 200,
        "genuine after malformed ones"
    );
    Ok(())
}

fn oversized_body(ctx: &Ctx) -> Result<(), String> {
    let (mut c, _) = ctx.ready()?;
    let big = format!("{{\"envelope\":\"{}\"}}", "A".repeat(300 * 1024));
    expect(
        &c.request(
            "POST",
            "/api/v1/confirmations",
            Some("application/json"),
            big.as_bytes(),
            true,
            &[],
        ),
        413,
        "body-too-large",
    )?;
    let big = format!("{{\"purpose\":\"{}\"}}", "a".repeat(20 * 1024));
    expect(
        &c.request(
            "POST",
            "/api/v1/challenges",
            Some("application/json"),
            big.as_bytes(),
            true,
            &[],
        ),
        413,
        "body-too-large",
    )
}

fn fifty_parallel_submissions_one_success(ctx: &Ctx) -> Result<(), String> {
    let (c, env) = ctx.ready()?;
    // On PostgreSQL, a second server instance (same public origin, as behind a load balancer)
    // shares the database and gets half the submissions.
    let second = if ctx.backend == "postgres" {
        let config = ctx.scratch.join("postgres-second.toml");
        let base = std::fs::read_to_string(&ctx.server.config).map_err(|e| e.to_string())?;
        std::fs::write(
            &config,
            format!("public_origin = \"{}\"\n{base}", ctx.server.base),
        )
        .map_err(|e| e.to_string())?;
        Some(Server::start(&config, &ctx.server.db))
    } else {
        None
    };
    let bases: Vec<String> = std::iter::once(ctx.server.base.clone())
        .chain(second.as_ref().map(|s| s.base.clone()))
        .collect();
    let barrier = std::sync::Barrier::new(50);
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let mut c = c.clone();
                c.base = bases[i % bases.len()].clone();
                let env = &env;
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let a = c.confirm(env);
                    (a.status, a.code().to_owned())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, "panic".into())))
            .collect()
    });
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    let consumed = statuses
        .iter()
        .filter(|(s, c)| *s == 409 && c == "challenge-consumed")
        .count();
    check!(
        ok == 1 && consumed == 49,
        "ok {ok}, consumed {consumed}: {statuses:?}"
    );
    Ok(())
}

fn csrf_content_type_and_cookies(ctx: &Ctx) -> Result<(), String> {
    let mut c = Client::new(&ctx.server.base);
    let a = c.register(&ctx.login());
    let cookie = a.set_cookie.clone().unwrap_or_default();
    check!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && !cookie.contains("Secure"),
        "cookie {cookie}"
    );
    let body = json!({"purpose": "account-confirmation"}).to_string();
    let p = "/api/v1/challenges";
    expect(
        &c.request(
            "POST",
            p,
            Some("application/json"),
            body.as_bytes(),
            false,
            &[],
        ),
        403,
        "csrf-failed",
    )?;
    expect(
        &c.request("POST", p, Some("text/plain"), body.as_bytes(), true, &[]),
        415,
        "unsupported-media-type",
    )?;
    expect(
        &c.request("POST", p, None, body.as_bytes(), true, &[]),
        415,
        "unsupported-media-type",
    )?;
    expect(
        &c.request(
            "POST",
            p,
            Some("application/json"),
            body.as_bytes(),
            true,
            &[("Origin", "https://evil.example")],
        ),
        403,
        "csrf-failed",
    )?;
    expect(
        &c.request(
            "POST",
            p,
            Some("application/json"),
            body.as_bytes(),
            true,
            &[("Sec-Fetch-Site", "cross-site")],
        ),
        403,
        "csrf-failed",
    )?;
    let origin = ctx.server.base.clone();
    let a = c.request(
        "POST",
        p,
        Some("application/json"),
        body.as_bytes(),
        true,
        &[
            ("Origin", origin.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
        ],
    );
    check!(
        a.status == 201,
        "same-origin request refused: {} {}",
        a.status,
        a.body
    );
    // Logged out: the old cookie no longer works.
    let old = c.clone();
    check!(
        c.request(
            "DELETE",
            "/api/v1/session",
            Some("application/json"),
            b"",
            true,
            &[]
        )
        .status
            == 204,
        "logout"
    );
    let mut old = old;
    expect(&old.get("/api/v1/account"), 401, "unauthenticated")?;
    Ok(())
}

fn login_and_rate_limits(ctx: &Ctx) -> Result<(), String> {
    let config = ctx.scratch.join(format!("{}-limits.toml", ctx.backend));
    let base = std::fs::read_to_string(&ctx.server.config).map_err(|e| e.to_string())?;
    let limited = base.replace("login_per_minute = 100000", "login_per_minute = 5");
    std::fs::write(&config, limited).map_err(|e| e.to_string())?;
    let server = Server::start(&config, &ctx.database("limits"));
    let mut c = Client::new(&server.base);
    let login = ctx.login();
    check!(c.register(&login).status == 201, "register");
    let mut fresh = Client::new(&server.base);
    let good = fresh.post(
        "/api/v1/session",
        &json!({"login": login, "password": "correct horse battery"}),
    );
    check!(
        good.status == 200 && good.body["account"]["login"] == login.as_str(),
        "login: {} {}",
        good.status,
        good.body
    );
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let mut x = Client::new(&server.base);
        statuses.push(
            x.post(
                "/api/v1/session",
                &json!({"login": login, "password": "wrong password!"}),
            )
            .status,
        );
    }
    check!(
        statuses[..4] == [401, 401, 401, 401] && statuses[4..] == [429, 429],
        "statuses {statuses:?}"
    );
    Ok(())
}

fn registration_with_the_esignature(ctx: &Ctx) -> Result<(), String> {
    // Its own database: the shared one already has confirmed accounts with Иванов's SNILS.
    let server = Server::start(&ctx.server.config, &ctx.database("registration"));
    let mut c = Client::new(&server.base);
    let (a, ch) = c.challenge("account-registration");
    let ch = ch.ok_or_else(|| format!("challenge {}", a.body))?;
    let env = tokenconfirm_wire::b64::std_encode(&ctx.ivanov.envelope(&ch));
    let login = ctx.login();
    let a = c.post(
        "/api/v1/registrations",
        &json!({"envelope": env, "login": login, "password": "correct horse battery"}),
    );
    check!(
        a.status == 201 && a.body["account"]["level"] == "confirmed",
        "registration: {} {}",
        a.status,
        a.body
    );
    check!(
        a.body["account"]["profile"]["snils"] == SNILS,
        "profile {}",
        a.body
    );
    check!(
        c.get("/api/v1/account").body["login"] == login.as_str(),
        "logged in after registration"
    );
    // A registration challenge needs an anonymous session; a second one for the same SNILS fails.
    expect(
        &c.challenge("account-registration").0,
        409,
        "already-authenticated",
    )?;
    let mut d = Client::new(&server.base);
    let (_, ch) = d.challenge("account-registration");
    let env = tokenconfirm_wire::b64::std_encode(&ctx.ivanov.envelope(&ch.ok_or("challenge")?));
    let a = d.post(
        "/api/v1/registrations",
        &json!({"envelope": env, "login": ctx.login(), "password": "correct horse battery"}),
    );
    expect(&a, 409, "snils-registered")?;
    // A confirmation challenge cannot be used to register.
    let (mut e, env) = ctx.ready()?;
    let mut anon = Client::new(&ctx.server.base);
    let b64 = tokenconfirm_wire::b64::std_encode(&env);
    expect(
        &anon.post(
            "/api/v1/registrations",
            &json!({"envelope": b64, "login": ctx.login(), "password": "correct horse battery"}),
        ),
        404,
        "challenge-unknown",
    )?;
    check!(
        e.confirm(&env).status == 200,
        "the confirmation challenge was left intact"
    );
    Ok(())
}

fn operations_endpoints(ctx: &Ctx) -> Result<(), String> {
    let mut c = Client::new(&ctx.server.base);
    check!(c.get("/healthz").status == 200, "healthz");
    check!(c.get("/readyz").status == 200, "readyz");
    let m = c.get("/metrics");
    let text = m.body.as_str().unwrap_or("");
    for series in [
        "tokenconfirm_confirmations_total{kind=\"confirmation\",outcome=\"ok\"}",
        "tokenconfirm_confirmations_total{kind=\"confirmation\",outcome=\"challenge-consumed\"}",
        "tokenconfirm_verification_seconds_bucket{le=\"+Inf\"}",
        "tokenconfirm_challenges_outstanding",
        "tokenconfirm_http_requests_total{route=\"/api/v1/confirmations\",status=\"200\"}",
    ] {
        check!(text.contains(series), "metrics lack {series}");
    }
    let page = c.get("/");
    check!(
        page.status == 200 && page.body.as_str().is_some_and(|s| s.contains("portal.js")),
        "portal page"
    );
    expect(&c.get("/api/v1/nothing"), 404, "not-found")
}

fn audit_is_complete_and_append_only(ctx: &Ctx) -> Result<(), String> {
    let (mut c, env) = ctx.ready()?;
    check!(c.confirm(&env).status == 200, "confirm");
    expect(&c.confirm(&env), 409, "challenge-consumed")?;
    let id: i64 = c.get("/api/v1/account").body["id"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let records = audit(&ctx.server.db, Some(id))?;
    let outcomes: Vec<&str> = records
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    check!(
        outcomes == ["ok", "challenge-consumed"],
        "audit outcomes {outcomes:?}"
    );
    check!(
        records[0]["result"]
            .as_str()
            .is_some_and(|r| r.contains("\"valid\":true")),
        "audit result {}",
        records[0]
    );
    // Append-only: the database itself refuses to change a record.
    let refused = match ctx.backend {
        "sqlite" => Command::new("sh")
            .arg("-c")
            .arg(format!("command -v sqlite3 >/dev/null || exit 42; sqlite3 '{}' 'UPDATE audit SET outcome = 1'", ctx.server.db.trim_start_matches("sqlite:")))
            .output(),
        _ => Command::new("psql").args([ctx.server.db.as_str(), "-c", "DELETE FROM audit"]).output(),
    }
    .map_err(|e| e.to_string())?;
    let code = refused.status.code();
    if code != Some(42) {
        let err = String::from_utf8_lossy(&refused.stderr);
        check!(
            !refused.status.success() && err.contains("append-only"),
            "audit change not refused: {err}"
        );
    }
    Ok(())
}

/// Audit records through `tokenconfirm-server audit` (JSON lines).
fn audit(db: &str, account: Option<i64>) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-server"));
    cmd.args(["audit", "--database", db]);
    if let Some(a) = account {
        cmd.args(["--account", &a.to_string()]);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    check!(
        out.status.success(),
        "audit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
        .collect()
}

fn graceful_shutdown_finishes_requests(ctx: &Ctx) -> Result<(), String> {
    let config = ctx.scratch.join(format!("{}-slow.toml", ctx.backend));
    let base = std::fs::read_to_string(&ctx.server.config).map_err(|e| e.to_string())?;
    // Default argon2 cost: a login takes long enough to be in flight when SIGTERM arrives.
    let slow = base.replace(
        "memory_kib = 256\niterations = 1",
        "memory_kib = 65536\niterations = 4",
    );
    std::fs::write(&config, slow).map_err(|e| e.to_string())?;
    let mut server = Server::start(&config, &ctx.database("graceful"));
    let mut c = Client::new(&server.base);
    let login = ctx.login();
    check!(c.register(&login).status == 201, "register");
    let mut d = Client::new(&server.base);
    let started = Instant::now();
    let (answer, took) = std::thread::scope(|s| {
        let h = s.spawn(move || {
            d.post(
                "/api/v1/session",
                &json!({"login": login, "password": "correct horse battery"}),
            )
        });
        std::thread::sleep(Duration::from_millis(30));
        let clean = server.terminate();
        (h.join().map(|a| (a.status, clean)), started.elapsed())
    });
    let (status, clean) = answer.map_err(|_| "client panicked".to_string())?;
    check!(
        status == 200,
        "in-flight login got {status} (took {took:?})"
    );
    check!(clean, "server did not exit cleanly on SIGTERM");
    Ok(())
}

fn crash_keeps_every_acknowledged_confirmation(ctx: &Ctx) -> Result<(), String> {
    let db = ctx.database("crash");
    let mut server = Server::start(&ctx.server.config, &db);
    // Prepare standard accounts, each with a challenge and its envelope.
    let mut ready = Vec::new();
    for _ in 0..160 {
        let mut c = Client::new(&server.base);
        check!(c.register(&ctx.login()).status == 201, "register");
        check!(
            c.profile("Иванов", "Иван", "Иванович", SNILS).status == 200,
            "profile"
        );
        let (_, ch) = c.challenge("account-confirmation");
        let env = ctx.ivanov.envelope(&ch.ok_or("challenge")?);
        ready.push((c, env));
    }
    let acked = std::sync::Mutex::new(Vec::new());
    let count = AtomicUsize::new(0);
    let chunks: Vec<Vec<(Client, Vec<u8>)>> = {
        let mut chunks: Vec<Vec<_>> = (0..4).map(|_| Vec::new()).collect();
        for (i, item) in ready.into_iter().enumerate() {
            chunks[i % 4].push(item);
        }
        chunks
    };
    std::thread::scope(|s| {
        for chunk in chunks {
            let acked = &acked;
            let count = &count;
            s.spawn(move || {
                for (mut c, env) in chunk {
                    let a = c.confirm(&env);
                    if a.status == 0 {
                        break; // connection refused: the server is gone
                    }
                    if a.status == 200 {
                        if let Ok(mut v) = acked.lock() {
                            v.push(c.clone());
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while count.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        server.kill9();
    });
    let acked = acked.into_inner().map_err(|_| "poisoned")?;
    check!(
        acked.len() >= 40,
        "only {} acknowledged before the kill",
        acked.len()
    );
    check!(
        acked.len() < 160,
        "the kill came after every confirmation: nothing was in flight"
    );
    // Restart on the same database: every acknowledged confirmation is there.
    let server = Server::start(&ctx.server.config, &db);
    for c in &acked {
        let mut c = c.clone();
        c.base = server.base.clone();
        let a = c.get("/api/v1/account");
        check!(
            a.body["level"] == "confirmed",
            "acknowledged confirmation lost: {} {}",
            a.status,
            a.body
        );
    }
    drop(server);
    let records = audit(&db, None)?;
    let ok: Vec<&str> = records
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .filter_map(|r| r["nonce"].as_str())
        .collect();
    let unique: std::collections::HashSet<&str> = ok.iter().copied().collect();
    check!(unique.len() == ok.len(), "a challenge was consumed twice");
    check!(
        ok.len() >= acked.len(),
        "{} ok records < {} acknowledged",
        ok.len(),
        acked.len()
    );
    println!(
        "    crash test ({}): {} acknowledged before kill -9, {} committed, 0 lost, 0 double",
        ctx.backend,
        acked.len(),
        ok.len()
    );
    Ok(())
}

const CASES: &[(&str, Case)] = &[
    (
        "happy path: agent CLI + SoftHSM → confirmed",
        happy_path_with_the_agent_and_softhsm,
    ),
    (
        "GOST: agent CLI + software GOST token (512-bit, qualified profile) → confirmed",
        gost_citizen_confirms_with_the_agent_and_the_gost_token,
    ),
    ("wrong origin", wrong_origin),
    ("replayed challenge", replayed_challenge),
    ("expired challenge", expired_challenge),
    ("challenge of another account", challenge_of_another_account),
    ("SNILS mismatch", snils_mismatch),
    ("name mismatch", name_mismatch),
    (
        "name matches after normalization",
        name_matches_after_normalization,
    ),
    ("account not standard", account_not_standard),
    ("untrusted CA", untrusted_ca),
    ("revoked certificate (CRL)", revoked_certificate),
    ("malformed envelopes", malformed_envelopes),
    ("oversized body", oversized_body),
    (
        "50 parallel submissions of one statement → one success",
        fifty_parallel_submissions_one_success,
    ),
    (
        "CSRF, content type, cookies, logout",
        csrf_content_type_and_cookies,
    ),
    ("login and rate limits", login_and_rate_limits),
    (
        "registration with the e-signature",
        registration_with_the_esignature,
    ),
    ("operations endpoints", operations_endpoints),
    (
        "audit complete and append-only",
        audit_is_complete_and_append_only,
    ),
    (
        "graceful shutdown finishes requests",
        graceful_shutdown_finishes_requests,
    ),
    (
        "crash test: kill -9 during confirmations",
        crash_keeps_every_acknowledged_confirmation,
    ),
];

/// A self-signed "CA" nobody trusts, and a user certificate with Иванов's subject under it.
fn make_stranger(dir: &Path, fixture: &Fixture) -> SoftSigner {
    let script = format!(
        r#"set -e
cd '{dir}'
openssl ecparam -name prime256v1 -genkey -noout -out ca.ec
openssl pkcs8 -topk8 -nocrypt -in ca.ec -out ca.key
openssl req -x509 -new -key ca.key -subj '/CN=Stranger CA' -days 30 -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl ecparam -name prime256v1 -genkey -noout -out user.ec
openssl pkcs8 -topk8 -nocrypt -in user.ec -out user.key
openssl x509 -in '{user}' -noout -subject -nameopt RFC2253 >/dev/null
openssl req -new -key user.key -subj '/CN=Иванов Иван Иванович/SN=Иванов/GN=Иван Иванович/SNILS=11223344595' -utf8 -out user.csr 2>/dev/null || \
openssl req -new -key user.key -subj '/CN=Иванов Иван Иванович/SN=Иванов/GN=Иван Иванович' -utf8 -out user.csr
openssl x509 -req -in user.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 30 -out user.pem \
  -extfile <(printf 'keyUsage=critical,digitalSignature,nonRepudiation\n')
"#,
        dir = dir.display(),
        user = fixture.pki("user-ec.pem").display()
    );
    std::fs::create_dir_all(dir).expect("stranger dir");
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "stranger CA: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    SoftSigner::load(
        &dir.join("user.key"),
        &dir.join("user.pem"),
        &[dir.join("ca.pem")],
    )
}

fn main() {
    let scratch = tempfile::Builder::new()
        .prefix("tokenconfirm-http")
        .tempdir()
        .expect("scratch dir");
    let fixture = Fixture::make(&scratch.path().join("fixture"));
    let ivanov = || {
        SoftSigner::load(
            &fixture.pki("user-ec.key"),
            &fixture.pki("user-ec.pem"),
            &[fixture.pki("intermediate.pem")],
        )
    };
    let petrov = || {
        SoftSigner::load(
            &fixture.pki("user-revoked.key"),
            &fixture.pki("user-revoked.pem"),
            &[fixture.pki("intermediate.pem")],
        )
    };
    let stranger_dir = scratch.path().join("stranger");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut passed = 0;
    let mut failed = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let pg = if backend == "postgres" {
            match Postgres::start() {
                Ok(pg) => Some(pg),
                Err(e) => {
                    println!("postgres: cannot start PostgreSQL: {e}");
                    failed.push(format!("postgres: setup: {e}"));
                    continue;
                }
            }
        } else {
            None
        };
        let config = write_config(scratch.path(), &fixture, backend, "");
        let server = Server::start(&config, &database_url(pg.as_ref(), scratch.path(), "main"));
        let ctx = Ctx {
            fixture: Fixture {
                dir: fixture.dir.clone(),
                vars: fixture.vars.clone(),
            },
            scratch: scratch.path().to_owned(),
            backend,
            server,
            pg,
            ivanov: ivanov(),
            petrov_revoked: petrov(),
            stranger: make_stranger(&stranger_dir.join(backend), &fixture),
            counter: AtomicUsize::new(0),
        };
        for (name, case) in CASES {
            if filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let started = Instant::now();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&ctx)))
                .unwrap_or_else(|_| Err("panicked".into()));
            match result {
                Ok(()) => {
                    passed += 1;
                    println!(
                        "test {backend}: {name} ... ok ({} ms)",
                        started.elapsed().as_millis()
                    );
                }
                Err(e) => {
                    println!("test {backend}: {name} ... FAILED: {e}");
                    failed.push(format!("{backend}: {name}: {e}"));
                }
            }
        }
        // Server, then PostgreSQL, stopped by PID (Drop).
        drop(ctx);
    }
    println!();
    println!("http suite: {passed} passed, {} failed", failed.len());
    println!(
        "test result: {}. {passed} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    if !failed.is_empty() {
        for f in &failed {
            println!("  FAILED {f}");
        }
        std::process::exit(1);
    }
}
