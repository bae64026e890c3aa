//! `tokenconfirm-server`: the reference confirmation service.
//!
//! ```text
//! tokenconfirm-server serve [--listen ADDR] [--database URL] [--config FILE] [--public-origin ORIGIN]
//!                           [--profile qualified|qualified-test] [--trust PATH]... [--crl PATH]...
//!                           [--untrusted PATH]... [--log-format text|json]
//! tokenconfirm-server audit [--database URL] [--config FILE] [--account ID]
//! ```
//! Every flag has an environment variable (`TOKENCONFIRM_LISTEN`, …). On start `serve` prints
//! one line `listening on http://ADDR` on stdout; logs go to stderr.

#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokenconfirm_server::config::{Config, FileConfig, LogFormat, Overrides};
use tokenconfirm_server::http::{self, App};
use tokenconfirm_server::store::Store;
use tokenconfirm_server::verifier::Verifier;

#[derive(Parser)]
#[command(
    name = "tokenconfirm-server",
    version,
    about = "tokenconfirm confirmation service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Print the audit records (JSON lines, without the envelope bytes).
    Audit(AuditArgs),
}

#[derive(Args)]
struct Common {
    /// Configuration file (TOML).
    #[arg(long, env = "TOKENCONFIRM_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite:PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, env = "TOKENCONFIRM_DATABASE")]
    database: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on.
    #[arg(long, env = "TOKENCONFIRM_LISTEN")]
    listen: Option<SocketAddr>,
    /// The origin citizens reach the portal at (signatures must name it).
    #[arg(long, env = "TOKENCONFIRM_PUBLIC_ORIGIN")]
    public_origin: Option<String>,
    /// Certificate profile: qualified (production) or qualified-test.
    #[arg(long, env = "TOKENCONFIRM_PROFILE")]
    profile: Option<String>,
    /// Trust anchors (file or directory), added to the config file's.
    #[arg(long, env = "TOKENCONFIRM_TRUST", value_delimiter = ',')]
    trust: Vec<PathBuf>,
    /// CRLs (file or directory), added to the config file's.
    #[arg(long = "crl", env = "TOKENCONFIRM_CRLS", value_delimiter = ',')]
    crls: Vec<PathBuf>,
    /// Intermediate certificates, added to the config file's.
    #[arg(long, env = "TOKENCONFIRM_UNTRUSTED", value_delimiter = ',')]
    untrusted: Vec<PathBuf>,
    /// Log format: text or json.
    #[arg(long, env = "TOKENCONFIRM_LOG_FORMAT")]
    log_format: Option<String>,
}

#[derive(Args)]
struct AuditArgs {
    #[command(flatten)]
    common: Common,
    /// Only this account's records.
    #[arg(long)]
    account: Option<i64>,
}

fn file_config(path: &Option<PathBuf>) -> Result<FileConfig, String> {
    match path {
        Some(p) => FileConfig::read(p).map_err(|e| e.to_string()),
        None => Ok(FileConfig::default()),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOKENCONFIRM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let file = file_config(&args.common.config)?;
    let mut config = Config::resolve(
        file,
        Overrides {
            listen: args.listen,
            database: args.common.database,
            public_origin: args.public_origin,
            profile: args.profile,
            log_format: args.log_format,
            trust: args.trust,
            crls: args.crls,
            untrusted: args.untrusted,
        },
    )
    .map_err(|e| e.to_string())?;
    init_logging(config.log_format);
    let (verifier, loaded) = Verifier::load(&config).map_err(|e| format!("trust material: {e}"))?;
    tracing::info!(
        anchors = loaded.anchors,
        intermediates = loaded.untrusted,
        crls = loaded.crls,
        profile = config.profile.name(),
        "trust material loaded"
    );
    let store = Store::open(&config.database)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(database = store.kind(), "database ready");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    config.bound_to(local).map_err(|e| e.to_string())?;
    let origin = config.public_origin.clone();
    let state = Arc::new(App::new(config, store, verifier));
    let sweeper = state.clone();
    let sweep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = sweeper.store.sweep(sweeper.now().unix_timestamp()).await {
                tracing::warn!(error = %e, "sweep failed");
            }
        }
    });
    println!("listening on http://{local}");
    tracing::info!(listen = %local, public_origin = origin.as_str(), "serving");
    let served = http::serve(listener, state, shutdown_signal()).await;
    sweep.abort();
    served.map_err(|e| e.to_string())
}

async fn audit(args: AuditArgs) -> Result<(), String> {
    let file = file_config(&args.common.config)?;
    let url = args
        .common
        .database
        .or(file.database)
        .unwrap_or_else(|| "sqlite:tokenconfirm.db".to_owned());
    let store = Store::open(&url).await.map_err(|e| e.to_string())?;
    for record in store.audit(args.account).await.map_err(|e| e.to_string())? {
        let line = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        println!("{line}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tokenconfirm-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Audit(args) => audit(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokenconfirm-server: {e}");
            ExitCode::from(1)
        }
    }
}
