//! `tokenconfirm-agent`: native-messaging host (when a browser starts it) and integrator CLI.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tokenconfirm_agent::backend::TokenBackend;
use tokenconfirm_agent::config::{self, Config, PinPromptKind};
use tokenconfirm_agent::error::AgentError;
use tokenconfirm_agent::install::{self, Browser, ExtensionIds, Locations, Scope};
use tokenconfirm_agent::native::{self, host};
use tokenconfirm_agent::pin::{EnvPin, NoPin, PinSource, PinentryPin, TerminalPin};
use tokenconfirm_agent::sign::SignRequest;
use tokenconfirm_agent::{doctor, envelope};
use tokenconfirm_wire::challenge::Challenge;
use tokenconfirm_wire::error::ErrorCode;
use tokenconfirm_wire::native::{CertificateList, Lang};
use tokenconfirm_wire::origin::Origin;

/// Sign tokenconfirm confirmation statements with a qualified e-signature on a PKCS#11 token.
///
/// Started by a browser (its first argument is `chrome-extension://…/`, or Firefox's manifest
/// path and add-on id) it speaks native messaging on stdin/stdout instead.
#[derive(Parser)]
#[command(name = "tokenconfirm-agent", version)]
struct Cli {
    /// Configuration file (default: $TOKENCONFIRM_CONFIG, then the XDG config dir's tokenconfirm/agent.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Use only this PKCS#11 module (repeatable); replaces configured and discovered modules.
    #[arg(long = "module", global = true, value_name = "PATH")]
    modules: Vec<PathBuf>,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List modules, tokens and signing certificates.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Sign a challenge: writes a CMS SignedData (CAdES-BES) envelope.
    Sign {
        /// The challenge JSON issued by the server.
        #[arg(long, value_name = "FILE")]
        challenge: PathBuf,
        /// The origin of the site the confirmation is for (must equal the challenge's).
        #[arg(long, value_name = "URL")]
        origin: String,
        /// Certificate: id (or a unique prefix of 6+ characters), CKA_ID in hex, or label.
        #[arg(long = "cert", value_name = "ID")]
        cert: Option<String>,
        /// Read the PIN from this environment variable (automation).
        #[arg(long, value_name = "VAR")]
        pin_from_env: Option<String>,
        /// Write the envelope here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Write base64 instead of DER.
        #[arg(long)]
        base64: bool,
        /// Language of prompts: ru or en.
        #[arg(long, default_value = "ru", value_parser = parse_lang)]
        lang: Lang,
    },
    /// Confirm a portal account (or register one) with the e-signature, without a browser:
    /// log in, get a challenge, sign it on the token, submit it.
    Confirm {
        /// The portal's address, e.g. http://127.0.0.1:8080 (its origin is what gets signed).
        #[arg(long, value_name = "URL")]
        server: String,
        /// Login (e-mail or phone) of the account.
        #[arg(long)]
        login: String,
        /// Read the account password from this environment variable (default: ask on the terminal).
        #[arg(long, value_name = "VAR")]
        password_from_env: Option<String>,
        /// Register a new confirmed account from the certificate instead of confirming one.
        #[arg(long)]
        register: bool,
        /// Certificate: id (or a unique prefix of 6+ characters), CKA_ID in hex, or label.
        #[arg(long = "cert", value_name = "ID")]
        cert: Option<String>,
        /// Read the PIN from this environment variable (automation).
        #[arg(long, value_name = "VAR")]
        pin_from_env: Option<String>,
        /// Language of prompts: ru or en.
        #[arg(long, default_value = "ru", value_parser = parse_lang)]
        lang: Lang,
    },
    /// PC/SC readers and the cards in them (product and module when the ATR is known).
    /// Exit status 0 when at least one reader is there, 1 otherwise.
    Readers {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Wait up to this many seconds for a reader or card to come or go first.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Check the installation and say what is missing.
    Doctor {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Look for the browser manifests under this directory (as written by `install --root`).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Register the agent with browsers: write the native-messaging host manifests
    /// (`ru.tokenconfirm.agent.json`; on Windows, registry keys naming them).
    Install(InstallArgs),
    /// Remove the host manifests written by `install` (other files are left alone).
    Uninstall(UninstallArgs),
}

/// Where manifests go: for this user (default) or every user, which browsers, under which root.
#[derive(clap::Args)]
struct Target {
    /// For the current user only (default; no privileges needed).
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// System-wide, for every user (needs root; on Windows an administrator).
    #[arg(long)]
    system: bool,
    /// Only this browser (repeatable): chrome, chromium, edge, brave, vivaldi, yandex, firefox.
    /// Default: all of them.
    #[arg(long = "browser", value_name = "NAME", value_parser = parse_browser)]
    browsers: Vec<Browser>,
    /// Place every manifest location under this directory (packaging, tests).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(clap::Args)]
struct InstallArgs {
    #[command(flatten)]
    target: Target,
    /// Allow this extension (repeatable): a Chromium id (32 letters a-p) or a Firefox add-on
    /// id; replaces the built-in id of that browser family.
    #[arg(long = "extension-id", value_name = "ID")]
    extension_ids: Vec<String>,
    /// The agent the browsers start (absolute). Default: this program.
    #[arg(long, value_name = "PATH")]
    agent_path: Option<PathBuf>,
}

#[derive(clap::Args)]
struct UninstallArgs {
    #[command(flatten)]
    target: Target,
}

fn parse_browser(s: &str) -> Result<Browser, String> {
    Browser::parse(s).map_err(|e| e.detail)
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    match s {
        "ru" => Ok(Lang::Ru),
        "en" => Ok(Lang::En),
        _ => Err("expected ru or en".into()),
    }
}

fn init_logging(config: &Config, verbose: u8, default: &str) {
    let directive = match verbose {
        0 => std::env::var("TOKENCONFIRM_LOG")
            .ok()
            .or_else(|| config.log_level.clone())
            .unwrap_or_else(|| default.into()),
        1 => "info".into(),
        _ => "debug".into(),
    };
    // cryptoki reports every vendor mechanism it cannot name as an error; that is noise here.
    let directive = if directive.contains("cryptoki") {
        directive
    } else {
        format!("{directive},cryptoki=off")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directive)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let file = config.log_file.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    // Logs never go to stdout: that is the protocol channel in host mode and data in the CLI.
    let _ = match file {
        Some(f) => builder.with_ansi(false).with_writer(Arc::new(f)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if native::launched_by_browser(&args) {
        return run_host();
    }
    let cli = Cli::parse();
    // Registering with browsers needs no configuration (and works with a broken one).
    let command = match cli.command {
        Cmd::Install(args) => return install_command(&args),
        Cmd::Uninstall(args) => return uninstall_command(&args),
        command => command,
    };
    let (config, config_path) = match config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => return fail(&e),
    };
    init_logging(&config, cli.verbose, "warn");
    let backend = TokenBackend {
        config,
        command_line_modules: cli.modules,
    };
    let result = match command {
        Cmd::List { json } => list(&backend, json),
        Cmd::Sign {
            challenge,
            origin,
            cert,
            pin_from_env,
            out,
            base64,
            lang,
        } => sign(
            &backend,
            &challenge,
            &origin,
            cert,
            pin_from_env,
            out.as_deref(),
            base64,
            lang,
        ),
        Cmd::Confirm {
            server,
            login,
            password_from_env,
            register,
            cert,
            pin_from_env,
            lang,
        } => confirm(
            &backend,
            &ConfirmArgs {
                server,
                login,
                password_from_env,
                register,
                cert,
                pin_from_env,
                lang,
            },
        ),
        Cmd::Readers { json, wait } => Ok(readers(json, wait)),
        Cmd::Doctor { json, root } => {
            let findings = doctor::run(&backend, config_path.as_deref(), root.as_deref());
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&findings).unwrap_or_default()
                );
            } else {
                print!("{}", doctor::render(&findings));
            }
            Ok(if findings.iter().all(|f| f.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        // Dispatched above, before the configuration is loaded.
        Cmd::Install(_) | Cmd::Uninstall(_) => Ok(ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|e| fail(&e))
}

fn selection(target: &Target) -> Result<install::Selection, AgentError> {
    Ok(install::Selection {
        locations: Locations::current(target.root.clone())?,
        scope: if target.system {
            Scope::System
        } else {
            Scope::User
        },
        browsers: target.browsers.clone(),
    })
}

fn install_plan(args: &InstallArgs) -> Result<install::Plan, AgentError> {
    let agent_path = match &args.agent_path {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| {
                AgentError::new(
                    ErrorCode::Io,
                    format!("cannot find this program's path ({e}): use --agent-path"),
                )
            })?,
    };
    install::check_agent_path(&agent_path)?;
    Ok(install::Plan {
        selection: selection(&args.target)?,
        agent_path,
        extension_ids: ExtensionIds::from_args(&args.extension_ids)?,
    })
}

/// `install`: one line per manifest on stdout; exit 2 if anything failed.
fn install_command(args: &InstallArgs) -> ExitCode {
    let plan = match install_plan(args) {
        Ok(plan) => plan,
        Err(e) => return fail_plain(&e),
    };
    if plan.selection.locations.root.is_none() && !plan.agent_path.is_file() {
        eprintln!(
            "warning: {} does not exist (yet); the browsers will fail to start it until it does",
            plan.agent_path.display()
        );
    }
    match install::install(&plan) {
        Ok(report) => print_report(&report),
        Err(e) => fail_plain(&e),
    }
}

/// `uninstall`: one line per manifest on stdout; exit 2 if anything failed.
fn uninstall_command(args: &UninstallArgs) -> ExitCode {
    match selection(&args.target).and_then(|s| install::uninstall(&s)) {
        Ok(report) => print_report(&report),
        Err(e) => fail_plain(&e),
    }
}

/// Reports an install/uninstall failure: the detail says it all (the error code's generic
/// text is about other things, e.g. the configuration file).
fn fail_plain(e: &AgentError) -> ExitCode {
    eprintln!("tokenconfirm-agent: {}", e.detail);
    ExitCode::from(e.exit_code())
}

fn print_report(report: &install::Report) -> ExitCode {
    for action in &report.actions {
        println!("{action}");
    }
    for e in &report.errors {
        fail_plain(e);
    }
    if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn fail(e: &AgentError) -> ExitCode {
    eprintln!("tokenconfirm-agent: {e}");
    eprintln!("  {}", e.code.message_ru());
    if let Some(details) = &e.details {
        eprintln!("  details: {details}");
    }
    ExitCode::from(e.exit_code())
}

/// Native-messaging mode: stdin/stdout carry frames, everything else goes to stderr or the log.
fn run_host() -> ExitCode {
    let loaded = config::load(None);
    let config = loaded.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
    init_logging(&config, 0, "warn");
    let backend: Arc<dyn host::Backend> = match loaded {
        Ok((config, _)) => Arc::new(TokenBackend {
            config,
            command_line_modules: Vec::new(),
        }),
        Err(e) => {
            tracing::error!("{e}");
            Arc::new(BrokenConfig(e))
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokenconfirm-agent: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let exit = runtime.block_on(host::serve(
        tokio::io::stdin(),
        tokio::io::stdout(),
        backend,
    ));
    // Blocking workers (a PIN dialog, a token call) may still run after a cancel; do not wait.
    runtime.shutdown_background();
    ExitCode::from(exit.exit_code() as u8)
}

/// Answers every token command with the configuration error, so the extension can show it.
struct BrokenConfig(AgentError);

impl host::Backend for BrokenConfig {
    fn list_certificates(&self) -> tokenconfirm_agent::error::Result<CertificateList> {
        Err(self.0.clone())
    }
    fn sign(
        &self,
        _: tokenconfirm_wire::native::SignParams,
        _: &dyn Fn() -> bool,
    ) -> tokenconfirm_agent::error::Result<tokenconfirm_wire::native::SignResult> {
        Err(self.0.clone())
    }
}

fn list(backend: &TokenBackend, json: bool) -> Result<ExitCode, AgentError> {
    let readers = tokenconfirm_agent::readers::list();
    let inv = backend.inventory();
    let hints = tokenconfirm_agent::hints::hints(&readers, &inv.loaded_modules());
    if json {
        let modules: Vec<serde_json::Value> = inv
            .modules
            .iter()
            .map(|m| {
                serde_json::json!({
                    "path": m.candidate.path,
                    "source": m.candidate.source,
                    "loaded": m.status.is_ok(),
                    "description": m.status.as_ref().ok(),
                    "error": m.status.as_ref().err().map(|e| serde_json::json!({"code": e.code, "detail": e.detail})),
                    "tokens": m.tokens.iter().map(|t| &t.token).collect::<Vec<_>>(),
                })
            })
            .collect();
        let certificates: Vec<_> = inv.certificates.iter().map(|c| c.describe()).collect();
        let out = serde_json::json!({
            "modules": modules,
            "certificates": certificates,
            "problems": inv.problems,
            "hints": hints,
            "readers": readers,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    if inv.modules.is_empty() {
        println!("No PKCS#11 module configured or found. Run `tokenconfirm-agent doctor`.");
    }
    for m in &inv.modules {
        match &m.status {
            Ok(desc) => println!(
                "module {} ({}): {desc}",
                m.candidate.path.display(),
                m.candidate.source
            ),
            Err(e) => println!(
                "module {} ({}): FAILED — {}",
                m.candidate.path.display(),
                m.candidate.source,
                e.detail
            ),
        }
        for t in &m.tokens {
            println!(
                "  token {:?}: {} certificate(s){}",
                t.token.label,
                t.certificates,
                if t.token.pin_pad { ", PIN pad" } else { "" }
            );
        }
    }
    for h in &hints {
        println!(
            "card in reader {:?}: {} — its driver ({}) is not installed",
            h.reader,
            h.product,
            h.modules.join(" or ")
        );
        println!("  {}\n  {}", h.install_en, h.install_ru);
    }
    for c in inv.certificates.iter().map(|c| c.describe()) {
        println!();
        println!("certificate {}", c.id);
        println!(
            "  holder:  {}",
            c.common_name.as_deref().unwrap_or(&c.subject)
        );
        if let Some(snils) = &c.snils {
            println!("  SNILS:   {snils}");
        }
        if let Some(inn) = &c.inn {
            println!("  INN:     {inn}");
        }
        println!(
            "  issuer:  {}",
            c.issuer_common_name.as_deref().unwrap_or(&c.issuer)
        );
        println!("  valid:   {} – {}", c.not_before, c.not_after);
        println!(
            "  key:     {} (CKA_ID {}) on token {:?}",
            c.key_type, c.key_id, c.token.label
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn sign(
    backend: &TokenBackend,
    challenge_path: &Path,
    origin: &str,
    cert: Option<String>,
    pin_from_env: Option<String>,
    out: Option<&Path>,
    base64: bool,
    lang: Lang,
) -> Result<ExitCode, AgentError> {
    let bytes = std::fs::read(challenge_path).map_err(|e| {
        AgentError::new(ErrorCode::Io, format!("{}: {e}", challenge_path.display()))
    })?;
    let challenge = Challenge::from_json(&bytes).map_err(|e| {
        AgentError::new(
            ErrorCode::InvalidChallenge,
            format!("{}: {e}", challenge_path.display()),
        )
    })?;
    let origin = Origin::parse(origin)
        .map_err(|e| AgentError::new(ErrorCode::OriginNotAllowed, e.to_string()))?;
    if out.is_none() && !base64 && std::io::stdout().is_terminal() {
        return Err(AgentError::new(
            ErrorCode::Io,
            "refusing to write binary DER to a terminal: use --out FILE or --base64",
        ));
    }
    let pins = pin_source(backend, pin_from_env);
    if let Err(e) =
        tokenconfirm_agent::sign::check_fresh(&challenge, time::OffsetDateTime::now_utc())
    {
        eprintln!(
            "warning: {} — signing anyway for testing; a server will refuse it",
            e.detail
        );
    }
    let req = SignRequest {
        challenge,
        origin,
        certificate: cert,
        lang,
    };
    let signed = backend.sign_with(&req, pins.as_ref(), &|| false)?;
    let data = if base64 {
        let mut text = tokenconfirm_wire::b64::std_encode(&signed.envelope).into_bytes();
        text.push(b'\n');
        text
    } else {
        signed.envelope.clone()
    };
    let write_err = |e: std::io::Error| AgentError::new(ErrorCode::Io, e.to_string());
    match out {
        Some(path) => std::fs::write(path, &data).map_err(write_err)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&data)
                .and_then(|_| stdout.flush())
                .map_err(write_err)?;
        }
    }
    debug_assert_eq!(
        envelope::encapsulated_content(&signed.envelope).as_deref(),
        Some(signed.statement.as_slice())
    );
    eprintln!("signed with certificate {}", signed.certificate_id);
    eprintln!("statement: {}", String::from_utf8_lossy(&signed.statement));
    let shown = out
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "ENVELOPE".into());
    let inform = if base64 {
        "-inform PEM (wrap the base64 in BEGIN/END CMS lines) or decode it first"
    } else {
        "-inform DER"
    };
    eprintln!("verify with OpenSSL: openssl cms -verify {inform} -in {shown} -CAfile ROOT_CA.pem -purpose any -out statement.json");
    Ok(ExitCode::SUCCESS)
}

/// Where the CLI takes the PIN from: the named variable, the terminal, pinentry, or nowhere
/// (PIN-pad tokens).
fn pin_source(backend: &TokenBackend, pin_from_env: Option<String>) -> Box<dyn PinSource> {
    match pin_from_env {
        Some(var) => Box::new(EnvPin(var)),
        None if std::io::stdin().is_terminal() => Box::new(TerminalPin),
        None if backend.config.pin_prompt == PinPromptKind::Pinentry => Box::new(PinentryPin {
            program: backend.config.pinentry_program.clone(),
        }),
        None => Box::new(NoPin),
    }
}

struct ConfirmArgs {
    server: String,
    login: String,
    password_from_env: Option<String>,
    register: bool,
    cert: Option<String>,
    pin_from_env: Option<String>,
    lang: Lang,
}

fn account_password(var: Option<&str>) -> Result<secrecy::SecretString, AgentError> {
    let text = match var {
        Some(var) => std::env::var(var).map_err(|_| {
            AgentError::new(
                ErrorCode::Io,
                format!("environment variable {var} is not set"),
            )
        })?,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password("Пароль учётной записи / account password: ")
                .map_err(|e| AgentError::new(ErrorCode::Io, e.to_string()))?
        }
        None => {
            return Err(AgentError::new(
                ErrorCode::Io,
                "no terminal to ask the account password on: use --password-from-env VAR",
            ))
        }
    };
    Ok(secrecy::SecretString::from(text))
}

/// `confirm`: the whole portal flow. Prints the portal's final answer (JSON) on stdout.
fn confirm(backend: &TokenBackend, args: &ConfirmArgs) -> Result<ExitCode, AgentError> {
    use tokenconfirm_agent::portal::PortalClient;
    use tokenconfirm_wire::challenge::Purpose;
    let origin = Origin::of_url(&args.server).map_err(|e| {
        AgentError::new(ErrorCode::OriginNotAllowed, format!("{}: {e}", args.server))
    })?;
    let password = account_password(args.password_from_env.as_deref())?;
    let mut portal = PortalClient::connect(origin.as_str())?;
    let purpose = if args.register {
        Purpose::AccountRegistration
    } else {
        portal.login(&args.login, &password)?;
        Purpose::AccountConfirmation
    };
    let challenge = portal.challenge(purpose)?;
    eprintln!(
        "challenge for {} ({}), valid until {}",
        challenge.account,
        purpose.as_str(),
        challenge.expires_at
    );
    let pins = pin_source(backend, args.pin_from_env.clone());
    let req = SignRequest {
        challenge,
        origin,
        certificate: args.cert.clone(),
        lang: args.lang,
    };
    let signed = backend.sign_with(&req, pins.as_ref(), &|| false)?;
    eprintln!("signed with certificate {}", signed.certificate_id);
    let answer = if args.register {
        portal.register(&signed.envelope, &args.login, &password)?
    } else {
        portal.confirm(&signed.envelope)?
    };
    println!("{answer}");
    eprintln!(
        "account level: {}",
        answer["account"]["level"].as_str().unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}

/// `readers`: the PC/SC view, or the state that explains why there is none.
fn readers(json: bool, wait: Option<u64>) -> ExitCode {
    use tokenconfirm_agent::readers;
    let snapshot = match wait {
        Some(seconds) => readers::wait(std::time::Duration::from_secs(seconds)),
        None => readers::list(),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&snapshot).unwrap_or_default()
        );
    } else {
        if let (Some(en), Some(ru)) = (&snapshot.message_en, &snapshot.message_ru) {
            println!("{ru}\n{en}");
        }
        for r in &snapshot.readers {
            println!(
                "{}: {}{}",
                r.name,
                readers::card_name(r.card),
                if r.pin_pad { ", PIN pad" } else { "" }
            );
            if let Some(atr) = &r.atr {
                println!("  ATR {atr}");
            }
            if let Some(product) = &r.product {
                println!("  {product} — PKCS#11: {}", r.modules.join(", "));
            }
        }
    }
    if snapshot.readers.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
