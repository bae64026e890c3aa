//! Test and benchmark support: the server as a real process, a PostgreSQL cluster started on
//! loopback (stopped by PID), an HTTP client with a cookie and CSRF token, and a software
//! signer that builds envelopes exactly as the agent does (for load and for certificates that
//! are not on the SoftHSM token).
#![allow(dead_code)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tokenconfirm_agent::certinfo::CertInfo;
use tokenconfirm_agent::envelope::{self, Parts};
use tokenconfirm_agent::token::mechanism::DigestAlg;
use tokenconfirm_wire::challenge::Challenge;
use tokenconfirm_wire::origin::Origin;
use tokenconfirm_wire::statement::Statement;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The test PKI and SoftHSM token (`tests/fixtures/make-token.sh`), in `dir`.
pub struct Fixture {
    pub dir: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl Fixture {
    pub fn make(dir: &Path) -> Fixture {
        let out = Command::new("bash")
            .arg(repo_root().join("tests/fixtures/make-token.sh"))
            .arg(dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("run make-token.sh");
        assert!(out.status.success(), "make-token.sh failed");
        let env = std::fs::read_to_string(dir.join("env")).expect("fixture env");
        let vars = env
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Fixture {
            dir: dir.to_owned(),
            vars,
        }
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} missing from the fixture env"))
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        PathBuf::from(self.var("TOKENCONFIRM_TEST_PKI")).join(file)
    }
}

fn pem_to_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).expect("read PEM");
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    tokenconfirm_wire::b64::std_decode(&body).expect("PEM base64")
}

/// An EC P-256 key and its certificate (and chain), signing like the agent does.
pub struct SoftSigner {
    key: EcdsaKeyPair,
    cert: CertInfo,
    chain: Vec<CertInfo>,
    rng: SystemRandom,
}

impl SoftSigner {
    pub fn load(key_pem: &Path, cert_pem: &Path, chain: &[PathBuf]) -> SoftSigner {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pem_to_der(key_pem))
            .expect("PKCS#8 P-256 key");
        let cert = CertInfo::parse(pem_to_der(cert_pem)).expect("certificate");
        let chain = chain
            .iter()
            .map(|p| CertInfo::parse(pem_to_der(p)).expect("chain certificate"))
            .collect();
        SoftSigner {
            key,
            cert,
            chain,
            rng: SystemRandom::new(),
        }
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert.der
    }

    /// The statement for `challenge` as signed from `origin`.
    pub fn statement(&self, challenge: &Challenge, origin: &Origin) -> Vec<u8> {
        Statement::new(challenge.clone(), origin.clone(), &self.cert.der).to_canonical_bytes()
    }

    /// An envelope over arbitrary content.
    pub fn envelope_over(&self, content: &[u8]) -> Vec<u8> {
        let attrs = envelope::signed_attributes(
            content,
            &self.cert,
            DigestAlg::Sha256,
            time::OffsetDateTime::now_utc(),
        )
        .expect("attributes");
        let tbs = envelope::to_be_signed(&attrs).expect("tbs");
        let signature = self.key.sign(&self.rng, &tbs).expect("sign");
        envelope::assemble(Parts {
            content,
            signer: &self.cert,
            chain: &self.chain,
            signed_attrs: attrs,
            digest: DigestAlg::Sha256,
            signature_algorithm: spki::AlgorithmIdentifierOwned {
                oid: spki::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
                parameters: None,
            },
            signature: signature.as_ref().to_vec(),
        })
        .expect("assemble")
    }

    /// The envelope for `challenge` signed from its own origin (what the agent produces).
    pub fn envelope(&self, challenge: &Challenge) -> Vec<u8> {
        self.envelope_over(&self.statement(challenge, &challenge.origin))
    }
}

/// A running `tokenconfirm-server`.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub db: String,
    pub config: PathBuf,
}

impl Server {
    /// Starts the server with `config` (TOML file) and `db`; waits for its listening line.
    pub fn start(config: &Path, db: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenconfirm-server"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                db,
                "--config",
            ])
            .arg(config)
            .env("TOKENCONFIRM_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tokenconfirm-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server {
            child: Some(child),
            base: addr,
            db: db.to_owned(),
            config: config.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGTERM, then waits; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().map(|s| s.success()).unwrap_or(false)
    }

    /// SIGKILL (a crash), then reaps.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A throw-away PostgreSQL cluster on loopback, stopped by PID on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    pid: u32,
    pub port: u16,
    run_as_postgres: bool,
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Postgres {
    pub fn start() -> Result<Postgres, String> {
        let initdb = pg_bin("initdb").ok_or(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (install: scripts/deps.sh, package postgresql)",
        )?;
        let pg_ctl = pg_bin("pg_ctl").ok_or("pg_ctl not found")?;
        let dir = tempfile::Builder::new()
            .prefix("tokenconfirm-pg")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let run = |program: &Path| {
            if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            } else {
                Command::new(program)
            }
        };
        if root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err("chown to postgres failed".into());
            }
        }
        let out = run(&initdb)
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("initdb: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let port = free_port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            data.display()
        );
        let out = run(&pg_ctl)
            .args(["-D"])
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(data.join("log"))
            .args(["-w", "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            let log = std::fs::read_to_string(data.join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed: {log}"));
        }
        let pidfile =
            std::fs::read_to_string(data.join("postmaster.pid")).map_err(|e| e.to_string())?;
        let pid = pidfile
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or("postmaster.pid unreadable")?;
        Ok(Postgres {
            dir,
            pid,
            port,
            run_as_postgres: root,
        })
    }

    /// Creates a database and returns its URL.
    pub fn create_db(&self, name: &str) -> String {
        let status = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-q",
                "-c",
            ])
            .arg(format!("CREATE DATABASE {name}"))
            .stdout(Stdio::null())
            .status()
            .expect("psql");
        assert!(status.success(), "CREATE DATABASE {name}");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Fast shutdown of the postmaster we started, by its PID; wait until it is gone.
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status();
        for _ in 0..200 {
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.run_as_postgres;
    }
}

/// An HTTP client holding one session cookie and its CSRF token.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookie: Option<String>,
    pub csrf: String,
}

/// One answer: status, JSON body (or Null), the Set-Cookie header if any.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub set_cookie: Option<String>,
}

impl Answer {
    /// The error code of a refusal.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Client {
    /// A client with a fresh anonymous session.
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut c = Client {
            base: base.to_owned(),
            agent,
            cookie: None,
            csrf: String::new(),
        };
        let a = c.get("/api/v1/session");
        assert_eq!(a.status, 200, "GET session: {}", a.body);
        c.take(&a);
        c
    }

    /// Another client on the same connection pool, holding the given session.
    pub fn attached(&self, token: &str, csrf: &str) -> Client {
        Client {
            base: self.base.clone(),
            agent: self.agent.clone(),
            cookie: Some(format!("tc_session={token}")),
            csrf: csrf.to_owned(),
        }
    }

    fn take(&mut self, a: &Answer) {
        if let Some(t) = a.body.get("csrfToken").and_then(Value::as_str) {
            self.csrf = t.to_owned();
        }
    }

    /// Any request; `content_type` None sends none; `csrf` false omits the token.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
        csrf: bool,
        extra: &[(&str, &str)],
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        if csrf {
            req = req.header("X-CSRF-Token", &self.csrf);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = req.body(body.to_vec()).expect("request");
        let mut resp = match self.agent.run(req) {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    status: 0,
                    body: Value::String(e.to_string()),
                    set_cookie: None,
                }
            }
        };
        let set_cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(sc) = &set_cookie {
            let pair = sc.split(';').next().unwrap_or("").trim().to_owned();
            self.cookie = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(10 << 20)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let a = Answer {
            status,
            body,
            set_cookie,
        };
        self.take(&a);
        a
    }

    pub fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, None, b"", false, &[])
    }

    pub fn post(&mut self, path: &str, body: &Value) -> Answer {
        self.request(
            "POST",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
            true,
            &[],
        )
    }

    pub fn put(&mut self, path: &str, body: &Value) -> Answer {
        self.request(
            "PUT",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
            true,
            &[],
        )
    }

    /// Registers `login` with a password and logs in.
    pub fn register(&mut self, login: &str) -> Answer {
        self.post(
            "/api/v1/accounts",
            &serde_json::json!({"name": "Тест", "login": login, "password": "correct horse battery"}),
        )
    }

    /// Fills the profile.
    pub fn profile(&mut self, surname: &str, first: &str, patronymic: &str, snils: &str) -> Answer {
        self.put(
            "/api/v1/account/profile",
            &serde_json::json!({"surname": surname, "firstName": first, "patronymic": patronymic,
                "birthDate": "1980-01-31", "snils": snils, "passportSeries": "4501", "passportNumber": "123456"}),
        )
    }

    /// Asks for a challenge.
    pub fn challenge(&mut self, purpose: &str) -> (Answer, Option<Challenge>) {
        let a = self.post(
            "/api/v1/challenges",
            &serde_json::json!({"purpose": purpose}),
        );
        let c = serde_json::to_vec(&a.body)
            .ok()
            .and_then(|b| Challenge::from_json(&b).ok());
        (a, c)
    }

    /// Submits an envelope.
    pub fn confirm(&mut self, envelope: &[u8]) -> Answer {
        self.post(
            "/api/v1/confirmations",
            &serde_json::json!({"envelope": tokenconfirm_wire::b64::std_encode(envelope)}),
        )
    }
}
