//! `tokenconfirm-verify`: verify a CMS signature or a certificate chain against trust anchors
//! (PEM/DER files, directories, the accredited-CA list), with CRLs and a profile. Prints one
//! JSON object; exit 0 valid, 1 invalid, 2 usage or I/O error.
#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use tokenconfirm_verify::error::{Code, VerifyError};
use tokenconfirm_verify::path::revocation::CrlSet;
use tokenconfirm_verify::path::{Cert, Settings, UnixTime};
use tokenconfirm_verify::profile::Profile;
use tokenconfirm_verify::trust::{self, TrustStore};
use tokenconfirm_verify::verify::{Context, Verified};

#[derive(Parser)]
#[command(
    name = "tokenconfirm-verify",
    version,
    about = "Verify tokenconfirm signatures and certificate chains"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Verify a CMS SignedData (DER, BER, PEM or base64).
    Cms {
        #[command(flatten)]
        common: Common,
        /// The signed content of a detached signature.
        #[arg(long, value_name = "FILE")]
        content: Option<PathBuf>,
        /// The signature.
        signature: PathBuf,
    },
    /// Validate a certificate's chain.
    Chain {
        #[command(flatten)]
        common: Common,
        /// The certificate.
        cert: PathBuf,
    },
}

#[derive(Args)]
struct Common {
    /// Trust anchors: a PEM/DER file or a directory (repeatable).
    #[arg(long, value_name = "PATH")]
    trust: Vec<PathBuf>,
    /// The Минцифры accredited-CA list (XML); certificates of active CAs become anchors.
    #[arg(long, value_name = "FILE")]
    tsl: Option<PathBuf>,
    /// Untrusted certificates for path building: file or directory (repeatable).
    #[arg(long, value_name = "PATH")]
    untrusted: Vec<PathBuf>,
    /// CRLs: file or directory (repeatable). Revocation is checked whenever CRLs are given.
    #[arg(long, value_name = "PATH")]
    crl: Vec<PathBuf>,
    /// Validation time (RFC 3339); default: now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// rfc5280, qualified or qualified-test.
    #[arg(long, default_value = "rfc5280")]
    profile: String,
    /// user-initial-policy-set member (repeatable; default anyPolicy).
    #[arg(long = "initial-policy", value_name = "OID")]
    initial_policy: Vec<String>,
    /// initial-explicit-policy.
    #[arg(long)]
    require_explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    #[arg(long)]
    inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit.
    #[arg(long)]
    inhibit_any_policy: bool,
    /// Do not check revocation (refused by profiles that require it).
    #[arg(long)]
    no_revocation: bool,
}

/// A failure before verification could start (usage or I/O): exit 2.
struct Usage(String);

fn read(path: &PathBuf) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("{}: {e}", path.display())))
}

fn usage_from(e: VerifyError) -> Usage {
    Usage(e.to_string())
}

struct Loaded {
    trust: TrustStore,
    untrusted: Vec<Cert>,
    crls: CrlSet,
    profile: Profile,
    settings: Settings,
    at: UnixTime,
    tsl_report: Option<Value>,
}

fn load(c: &Common) -> Result<Loaded, Usage> {
    let profile = Profile::parse(&c.profile)
        .ok_or_else(|| Usage(format!("unknown profile {:?}", c.profile)))?;
    let mut store = TrustStore::new();
    for p in &c.trust {
        store.add_path(p).map_err(usage_from)?;
    }
    let mut tsl_report = None;
    if let Some(p) = &c.tsl {
        let report = store.add_ca_list(&read(p)?).map_err(usage_from)?;
        tsl_report = Some(json!({
            "casTotal": report.cas_total, "casActive": report.cas_active,
            "certificatesLoaded": report.certificates_loaded,
            "skipped": report.skipped.iter().map(|s| json!({"registryNumber": s.registry_number, "name": s.name, "reason": s.reason})).collect::<Vec<_>>(),
        }));
    }
    if store.anchors.is_empty() {
        return Err(Usage(
            "no trust anchors: give --trust PATH or --tsl FILE".into(),
        ));
    }
    let mut untrusted = Vec::new();
    for p in &c.untrusted {
        untrusted.extend(
            trust::load_certificates(p)
                .map_err(usage_from)?
                .into_iter()
                .map(|(_, c)| c),
        );
    }
    let mut crl_ders = Vec::new();
    for p in &c.crl {
        crl_ders.extend(trust::load_crls(p).map_err(usage_from)?);
    }
    let crls = CrlSet::parse(&crl_ders).map_err(usage_from)?;
    let at = match &c.at {
        Some(text) => {
            let dt =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| Usage(format!("--at {text:?}: {e}")))?;
            UnixTime::from_datetime(dt)
        }
        None => UnixTime::from_datetime(time::OffsetDateTime::now_utc()),
    };
    let mut initial_policy_set = Vec::new();
    for oid in &c.initial_policy {
        let parsed = if oid == "anyPolicy" {
            Ok(tokenconfirm_verify::path::ANY_POLICY)
        } else {
            der::asn1::ObjectIdentifier::new(oid)
        };
        initial_policy_set
            .push(parsed.map_err(|e| Usage(format!("--initial-policy {oid:?}: {e}")))?);
    }
    let settings = Settings {
        initial_policy_set,
        explicit_policy: c.require_explicit_policy,
        policy_mapping_inhibit: c.inhibit_policy_mapping,
        any_policy_inhibit: c.inhibit_any_policy,
        revocation: !c.no_revocation && (!crls.is_empty() || profile.requires_revocation()),
        ..Settings::default()
    };
    if c.no_revocation && profile.requires_revocation() {
        return Err(Usage(format!(
            "profile {} requires a revocation check; --no-revocation is not allowed",
            profile.name()
        )));
    }
    Ok(Loaded {
        trust: store,
        untrusted,
        crls,
        profile,
        settings,
        at,
        tsl_report,
    })
}

fn describe(cert: &Cert) -> Value {
    let tbs = cert.cert.tbs_certificate();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let time = |t: &x509_cert::time::Time| {
        time::OffsetDateTime::from_unix_timestamp(UnixTime::of_x509(t).0)
            .ok()
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    json!({
        "subject": tbs.subject().to_string(),
        "issuer": tbs.issuer().to_string(),
        "serialNumber": hex(tbs.serial_number().as_bytes()),
        "notBefore": time(&tbs.validity().not_before),
        "notAfter": time(&tbs.validity().not_after),
        "sha256": hex(&cert.fingerprint),
    })
}

fn success(v: &Verified, loaded: &Loaded) -> Value {
    let signer = &v.path.chain[0];
    let mut signer_json = describe(signer);
    if let (Value::Object(map), Ok(Value::Object(id))) =
        (&mut signer_json, serde_json::to_value(&v.identity))
    {
        map.extend(id);
    }
    let anchor = v.path.chain.last().and_then(|a| loaded.trust.info_for(a));
    json!({
        "valid": true,
        "code": "ok",
        "message": "valid",
        "profile": loaded.profile.name(),
        "signer": signer_json,
        "chain": v.path.chain.iter().map(describe).collect::<Vec<_>>(),
        "trustAnchor": anchor,
        "policies": v.path.policies.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        "revocationChecked": v.path.revocation_checked,
        "signingTime": v.signing_time.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "content": if v.content.is_empty() { Value::Null } else { Value::String(String::from_utf8_lossy(&v.content).into_owned()) },
        "accreditedCaList": loaded.tsl_report,
    })
}

fn failure(e: &VerifyError) -> Value {
    json!({"valid": false, "code": e.code.as_str(), "message": e.code.message_en(), "messageRu": e.code.message_ru(), "detail": e.detail})
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (common, input, content, is_cms) = match &cli.command {
        Cmd::Cms {
            common,
            content,
            signature,
        } => (common, signature, content.as_ref(), true),
        Cmd::Chain { common, cert } => (common, cert, None, false),
    };
    let loaded = match load(common) {
        Ok(l) => l,
        Err(Usage(message)) => {
            println!(
                "{}",
                json!({"valid": false, "code": "usage", "message": message})
            );
            return ExitCode::from(2);
        }
    };
    let ctx = Context {
        trust: &loaded.trust,
        untrusted: &loaded.untrusted,
        crls: &loaded.crls,
        profile: loaded.profile,
        settings: &loaded.settings,
        cache: None,
    };
    let outcome = (|| -> Result<Result<Verified, VerifyError>, Usage> {
        let bytes = read(input)?;
        if is_cms {
            let detached = content.map(read).transpose()?;
            Ok(ctx.verify_cms(&bytes, detached.as_deref(), loaded.at))
        } else {
            Ok(ctx.verify_certificate(&bytes, loaded.at))
        }
    })();
    match outcome {
        Ok(Ok(v)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&success(&v, &loaded)).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&failure(&e)).unwrap_or_default()
            );
            if e.code == Code::Io {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
        Err(Usage(message)) => {
            println!(
                "{}",
                json!({"valid": false, "code": "usage", "message": message})
            );
            ExitCode::from(2)
        }
    }
}
