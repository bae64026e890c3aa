//! RFC 5280 name constraints (§4.2.1.10) and their path processing (§6.1.2 (b),(c),
//! §6.1.3 (b),(c), §6.1.4 (g)).
//!
//! Supported name forms: directoryName (the subject DN, and directoryName entries of
//! subjectAltName), rfc822Name (subjectAltName entries and the legacy emailAddress
//! attributes of the subject DN), dNSName, uniformResourceIdentifier (host part) and
//! iPAddress. The other forms (otherName, ediPartyName, registeredID; x400Address is not
//! decodable by `x509-cert` at all) are refused whenever a constraint of that form meets a
//! name of that form ("fail closed", as §4.2.1.10 allows for critical name constraints).
//!
//! Permitted subtrees are kept as a list of sets per name form, one set per CA that
//! constrained that form; a name must lie in some subtree of *every* set. This is exactly
//! membership in the intersection the RFC describes, without computing intersections.
//! Excluded subtrees are a plain union.
//!
//! Names that cannot be interpreted (a mailbox with two `@`, a dNSName with empty labels,
//! a URI without a host, an iPAddress of the wrong length) violate the constraints whenever
//! any constraint of their form is in force: they cannot be shown to lie inside the
//! permitted space, nor outside the excluded one.

use der::asn1::ObjectIdentifier as Oid;
use der::{Tag, Tagged};
use unicode_normalization::UnicodeNormalization;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{NameConstraints, SubjectAltName};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::error::{Code, VerifyError};

/// emailAddress (PKCS #9), the legacy place for a mailbox in the subject DN.
const EMAIL_ADDRESS: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");

/// At most this many name-against-subtree comparisons per certificate (the same budget as
/// Go's `crypto/x509`). Beyond it [`NameConstraintsState::check`] fails with
/// [`Code::Limit`] rather than doing quadratic work on hostile input.
pub const MAX_COMPARISONS: usize = 250_000;

/// The GeneralName forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OtherName,
    Rfc822,
    Dns,
    Directory,
    EdiParty,
    Uri,
    Ip,
    RegisteredId,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::OtherName,
        Kind::Rfc822,
        Kind::Dns,
        Kind::Directory,
        Kind::EdiParty,
        Kind::Uri,
        Kind::Ip,
        Kind::RegisteredId,
    ];

    fn of(name: &GeneralName) -> Kind {
        match name {
            GeneralName::OtherName(_) => Kind::OtherName,
            GeneralName::Rfc822Name(_) => Kind::Rfc822,
            GeneralName::DnsName(_) => Kind::Dns,
            GeneralName::DirectoryName(_) => Kind::Directory,
            GeneralName::EdiPartyName(_) => Kind::EdiParty,
            GeneralName::UniformResourceIdentifier(_) => Kind::Uri,
            GeneralName::IpAddress(_) => Kind::Ip,
            GeneralName::RegisteredId(_) => Kind::RegisteredId,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::OtherName => "otherName",
            Kind::Rfc822 => "rfc822Name",
            Kind::Dns => "dNSName",
            Kind::Directory => "directoryName",
            Kind::EdiParty => "ediPartyName",
            Kind::Uri => "uniformResourceIdentifier",
            Kind::Ip => "iPAddress",
            Kind::RegisteredId => "registeredID",
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::OtherName => 0,
            Kind::Rfc822 => 1,
            Kind::Dns => 2,
            Kind::Directory => 3,
            Kind::EdiParty => 4,
            Kind::Uri => 5,
            Kind::Ip => 6,
            Kind::RegisteredId => 7,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Distinguished names (RFC 5280 §7.1)
// ---------------------------------------------------------------------------------------

/// An attribute value prepared for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AttrValue {
    /// A string value after RFC 4518-style preparation (mapping, NFKC, case folding,
    /// insignificant-space handling). String types do not matter.
    Text(String),
    /// Anything else (or an undecodable string): compared by tag and bytes.
    Raw(Tag, Vec<u8>),
}

type Rdn = Vec<(Oid, AttrValue)>;
type Dn = Vec<Rdn>;

/// The text of a directory string value, if it is one and decodes.
fn attr_text(value: &der::asn1::Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString
        | Tag::GeneralString => bytes
            .is_ascii()
            .then(|| String::from_utf8_lossy(bytes).into_owned()),
        // T.61 in practice carries Latin-1 (as OpenSSL and others read it).
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let chunks = bytes.chunks_exact(2);
            if !chunks.remainder().is_empty() {
                return None;
            }
            let units: Vec<u16> = chunks
                .map(|c| match c {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => 0xFFFF,
                })
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// RFC 4518 §2.2 mapping (approximated): characters mapped to nothing are dropped,
/// control and separator characters become a space.
fn map_char(c: char) -> Option<char> {
    match c {
        '\u{AD}' | '\u{1806}' | '\u{34F}' | '\u{180B}'..='\u{180D}' | '\u{FE00}'..='\u{FE0F}' => {
            None
        }
        '\u{FFFC}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' => None,
        '\u{2060}'..='\u{2064}' | '\u{FEFF}' => None,
        '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | '\u{85}' => Some(' '),
        c if c.is_control() => None,
        c if c.is_whitespace() => Some(' '),
        c => Some(c),
    }
}

/// Prepares a string attribute value for comparison (RFC 5280 §7.1 / RFC 4518): map,
/// case fold, NFKC, then trim and collapse internal whitespace.
fn prepare(text: &str) -> String {
    let mapped: String = text
        .chars()
        .filter_map(map_char)
        .flat_map(char::to_lowercase)
        .collect();
    let normalized: String = mapped.nfkc().flat_map(char::to_lowercase).collect();
    normalized.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn attr_value(value: &der::asn1::Any) -> AttrValue {
    match attr_text(value) {
        Some(text) => AttrValue::Text(prepare(&text)),
        None => AttrValue::Raw(value.tag(), value.value().to_vec()),
    }
}

fn dn_of(name: &Name) -> Dn {
    name.iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| (atv.oid, attr_value(&atv.value)))
                .collect()
        })
        .collect()
}

/// RDNs match when they hold the same set of attribute type/value pairs.
fn rdn_eq(a: &Rdn, b: &Rdn) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|y| a.contains(y))
}

/// `name` lies in the subtree `base`: `base` is a prefix of `name`, RDN by RDN.
fn dn_within(name: &Dn, base: &Dn) -> bool {
    base.len() <= name.len() && base.iter().zip(name).all(|(b, n)| rdn_eq(b, n))
}

// ---------------------------------------------------------------------------------------
// Host names, mailboxes, URIs, addresses
// ---------------------------------------------------------------------------------------

/// A syntactically valid host name (letters, digits, `-`, `_`; non-empty labels of at most
/// 63 characters; at most 253 characters), already lower-cased and without a trailing dot.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Lower-cases a host and drops one trailing dot (the absolute form).
fn fold_host(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => lower,
    }
}

/// `host` is a proper subdomain of `domain` (at least one more label).
fn is_strict_subdomain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .and_then(|prefix| prefix.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty())
}

/// How a host constraint matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// Empty constraint: every host.
    Any,
    /// Exactly this host.
    Exact(String),
    /// Proper subdomains of this domain only (leading-dot form).
    Subdomains(String),
    /// This host and all its subdomains (dNSName form).
    ExactOrSubdomains(String),
}

fn host_within(host: &str, rule: &HostRule) -> bool {
    match rule {
        HostRule::Any => true,
        HostRule::Exact(d) => host == d,
        HostRule::Subdomains(d) => is_strict_subdomain(host, d),
        HostRule::ExactOrSubdomains(d) => host == d || is_strict_subdomain(host, d),
    }
}

/// Parses a host constraint: "" (any), ".domain" (subdomains), "domain" (`plain`).
fn host_rule(text: &str, plain: fn(String) -> HostRule) -> Option<HostRule> {
    if text.is_empty() {
        return Some(HostRule::Any);
    }
    let folded = fold_host(text);
    match folded.strip_prefix('.') {
        Some(rest) => valid_host(rest).then(|| HostRule::Subdomains(rest.to_owned())),
        None => valid_host(&folded).then(|| plain(folded)),
    }
}

/// A dNSName from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DnsName {
    /// The whole name, lower-cased, e.g. `*.example.com` or `www.example.com`.
    full: String,
    /// For `*.rest`, the `rest`.
    wildcard_base: Option<String>,
}

fn parse_dns_name(text: &str) -> Option<DnsName> {
    let folded = fold_host(text);
    match folded.strip_prefix("*.") {
        Some(rest) => valid_host(rest).then(|| DnsName {
            wildcard_base: Some(rest.to_owned()),
            full: folded.clone(),
        }),
        None => valid_host(&folded).then_some(DnsName {
            full: folded,
            wildcard_base: None,
        }),
    }
}

/// Every host the (possibly wildcard) name can stand for lies in the subtree.
fn dns_within(name: &DnsName, rule: &HostRule) -> bool {
    host_within(&name.full, rule)
}

/// Some host the (possibly wildcard) name can stand for lies in the subtree. A wildcard
/// `*.rest` stands for every `label.rest`, so it meets the subtree `one.rest`.
fn dns_intersects(name: &DnsName, rule: &HostRule) -> bool {
    if dns_within(name, rule) {
        return true;
    }
    match (&name.wildcard_base, rule) {
        (Some(base), HostRule::ExactOrSubdomains(d) | HostRule::Exact(d)) => d
            .split_once('.')
            .is_some_and(|(label, parent)| !label.is_empty() && parent == base),
        _ => false,
    }
}

/// A mailbox `local@host`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mailbox {
    /// The local part exactly as written (case-sensitive).
    local: String,
    /// The host, lower-cased.
    host: String,
}

fn atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
}

/// Parses an RFC 5321 mailbox: a dot-atom or quoted-string local part, `@`, a host name.
fn parse_mailbox(text: &str) -> Option<Mailbox> {
    let (local, host) = if let Some(quoted) = text.strip_prefix('"') {
        // Find the closing quote, honouring backslash escapes.
        let mut escaped = false;
        let mut close = None;
        for (i, c) in quoted.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    close = Some(i);
                    break;
                }
                c if c.is_control() => return None,
                _ => {}
            }
        }
        let close = close?;
        let inner = quoted.get(..close)?;
        let rest = quoted.get(close + 1..)?;
        (format!("\"{inner}\""), rest.strip_prefix('@')?)
    } else {
        let (local, host) = text.split_once('@')?;
        if local.is_empty()
            || !local.chars().all(atext)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return None;
        }
        (local.to_owned(), host)
    };
    let host = fold_host(host);
    valid_host(&host).then_some(Mailbox { local, host })
}

/// An rfc822Name constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EmailRule {
    /// One particular mailbox.
    Mailbox(Mailbox),
    /// Mailboxes on a host, or on subdomains of a domain, or anywhere.
    Host(HostRule),
}

fn email_rule(text: &str) -> Option<EmailRule> {
    if text.contains('@') {
        parse_mailbox(text).map(EmailRule::Mailbox)
    } else {
        host_rule(text, HostRule::Exact).map(EmailRule::Host)
    }
}

fn email_within(name: &Mailbox, rule: &EmailRule) -> bool {
    match rule {
        EmailRule::Mailbox(m) => name.local == m.local && name.host == m.host,
        EmailRule::Host(h) => host_within(&name.host, h),
    }
}

/// The host of a URI (`scheme://[userinfo@]host[:port]...`), lower-cased. `None` when
/// there is no authority, the host is empty or an IP literal, or the syntax is off.
fn uri_host(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let after = rest.strip_prefix("//")?;
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.starts_with('[') {
        return None;
    }
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => host_port,
    };
    let host = fold_host(host);
    valid_host(&host).then_some(host)
}

/// Address and mask of an iPAddress constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IpRule {
    addr: Vec<u8>,
    mask: Vec<u8>,
}

/// Parses an iPAddress constraint: 8 (IPv4) or 32 (IPv6) octets, address then a
/// contiguous (CIDR) mask.
fn ip_rule(bytes: &[u8]) -> Option<IpRule> {
    if bytes.len() != 8 && bytes.len() != 32 {
        return None;
    }
    let (addr, mask) = bytes.split_at(bytes.len() / 2);
    let mut seen_zero = false;
    for byte in mask {
        for bit in (0..8).rev() {
            let one = byte & (1 << bit) != 0;
            if one && seen_zero {
                return None;
            }
            seen_zero |= !one;
        }
    }
    Some(IpRule {
        addr: addr.to_vec(),
        mask: mask.to_vec(),
    })
}

fn ip_within(addr: &[u8], rule: &IpRule) -> bool {
    addr.len() == rule.addr.len()
        && addr
            .iter()
            .zip(&rule.addr)
            .zip(&rule.mask)
            .all(|((a, b), m)| a & m == b & m)
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join("."),
        16 => bytes
            .chunks(2)
            .map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .collect::<Vec<_>>()
            .join(":"),
        8 | 32 => {
            let (addr, mask) = bytes.split_at(bytes.len() / 2);
            format!("{}/{}", format_ip(addr), format_ip(mask))
        }
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// A human-readable rendering of a GeneralName for error details.
fn describe(name: &GeneralName) -> String {
    let kind = Kind::of(name).label();
    match name {
        GeneralName::OtherName(o) => format!("{kind} {}", o.type_id),
        GeneralName::Rfc822Name(s)
        | GeneralName::DnsName(s)
        | GeneralName::UniformResourceIdentifier(s) => format!("{kind} \"{}\"", s.as_str()),
        GeneralName::DirectoryName(n) => format!("{kind} \"{n}\""),
        GeneralName::EdiPartyName(_) => kind.to_owned(),
        GeneralName::IpAddress(o) => format!("{kind} {}", format_ip(o.as_bytes())),
        GeneralName::RegisteredId(oid) => format!("{kind} {oid}"),
    }
}

// ---------------------------------------------------------------------------------------
// Subtrees and certificate names
// ---------------------------------------------------------------------------------------

/// A parsed subtree base.
#[derive(Debug, Clone)]
enum Rule {
    Directory(Dn),
    Rfc822(EmailRule),
    Dns(HostRule),
    Uri(HostRule),
    Ip(IpRule),
    Unsupported(Kind),
}

impl Rule {
    fn kind(&self) -> Kind {
        match self {
            Rule::Directory(_) => Kind::Directory,
            Rule::Rfc822(_) => Kind::Rfc822,
            Rule::Dns(_) => Kind::Dns,
            Rule::Uri(_) => Kind::Uri,
            Rule::Ip(_) => Kind::Ip,
            Rule::Unsupported(kind) => *kind,
        }
    }
}

/// One subtree: its rule and a rendering for error details.
#[derive(Debug, Clone)]
struct Subtree {
    rule: Rule,
    text: String,
}

fn malformed(detail: impl Into<String>) -> VerifyError {
    VerifyError::new(Code::MalformedCertificate, detail)
}

fn violation(detail: impl Into<String>) -> VerifyError {
    VerifyError::new(Code::NameConstraints, detail)
}

fn parse_subtree(subtree: &GeneralSubtree) -> Result<Subtree, VerifyError> {
    let text = describe(&subtree.base);
    if subtree.minimum != 0 || subtree.maximum.is_some() {
        return Err(malformed(format!(
            "name constraint {text}: minimum must be 0 and maximum absent (RFC 5280 4.2.1.10)"
        )));
    }
    let bad = || malformed(format!("name constraint {text} is malformed"));
    let rule = match &subtree.base {
        GeneralName::DirectoryName(name) => Rule::Directory(dn_of(name)),
        GeneralName::Rfc822Name(s) => Rule::Rfc822(email_rule(s.as_str()).ok_or_else(bad)?),
        GeneralName::DnsName(s) => {
            // A dNSName constraint is a host name (RFC 5280 §4.2.1.10); the leading-dot form
            // belongs to URI and rfc822Name constraints only (x509-limbo agrees).
            let text = s.as_str();
            if text.starts_with('.') {
                return Err(bad());
            }
            Rule::Dns(host_rule(text, HostRule::ExactOrSubdomains).ok_or_else(bad)?)
        }
        GeneralName::UniformResourceIdentifier(s) => {
            Rule::Uri(host_rule(s.as_str(), HostRule::Exact).ok_or_else(bad)?)
        }
        GeneralName::IpAddress(o) => Rule::Ip(ip_rule(o.as_bytes()).ok_or_else(bad)?),
        other => Rule::Unsupported(Kind::of(other)),
    };
    Ok(Subtree { rule, text })
}

/// A name of the certificate, interpreted. `None` payloads are names that could not be
/// interpreted (malformed).
#[derive(Debug, Clone)]
enum Value {
    Directory(Dn),
    Rfc822(Option<Mailbox>),
    Dns(Option<DnsName>),
    Uri(Option<String>),
    Ip(Option<Vec<u8>>),
    Unsupported(Kind),
}

impl Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Directory(_) => Kind::Directory,
            Value::Rfc822(_) => Kind::Rfc822,
            Value::Dns(_) => Kind::Dns,
            Value::Uri(_) => Kind::Uri,
            Value::Ip(_) => Kind::Ip,
            Value::Unsupported(kind) => *kind,
        }
    }

    fn is_malformed(&self) -> bool {
        matches!(
            self,
            Value::Rfc822(None) | Value::Dns(None) | Value::Uri(None) | Value::Ip(None)
        )
    }
}

/// A certificate name to check, with a rendering for error details.
#[derive(Debug, Clone)]
struct CertName {
    value: Value,
    text: String,
}

fn cert_name(name: &GeneralName) -> CertName {
    let value = match name {
        GeneralName::DirectoryName(n) => Value::Directory(dn_of(n)),
        GeneralName::Rfc822Name(s) => Value::Rfc822(parse_mailbox(s.as_str())),
        GeneralName::DnsName(s) => Value::Dns(parse_dns_name(s.as_str())),
        GeneralName::UniformResourceIdentifier(s) => Value::Uri(uri_host(s.as_str())),
        GeneralName::IpAddress(o) => {
            let bytes = o.as_bytes();
            Value::Ip(matches!(bytes.len(), 4 | 16).then(|| bytes.to_vec()))
        }
        other => Value::Unsupported(Kind::of(other)),
    };
    CertName {
        value,
        text: describe(name),
    }
}

/// Every subtree of the name's own form contains the name entirely (permitted check).
fn within(value: &Value, rule: &Rule) -> bool {
    match (value, rule) {
        (Value::Directory(n), Rule::Directory(b)) => dn_within(n, b),
        (Value::Rfc822(Some(m)), Rule::Rfc822(r)) => email_within(m, r),
        (Value::Dns(Some(d)), Rule::Dns(r)) => dns_within(d, r),
        (Value::Uri(Some(h)), Rule::Uri(r)) => host_within(h, r),
        (Value::Ip(Some(a)), Rule::Ip(r)) => ip_within(a, r),
        _ => false,
    }
}

/// The name and the subtree share at least one name (excluded check). Differs from
/// [`within`] only for wildcard dNSNames.
fn intersects(value: &Value, rule: &Rule) -> bool {
    match (value, rule) {
        (Value::Dns(Some(d)), Rule::Dns(r)) => dns_intersects(d, r),
        _ => within(value, rule),
    }
}

/// The names §6.1.3 (b),(c) checks: the subject DN (unless empty), its emailAddress
/// attributes as rfc822Names, and every subjectAltName entry.
fn names_of(cert: &Certificate) -> Result<Vec<CertName>, VerifyError> {
    let tbs = cert.tbs_certificate();
    let subject = tbs.subject();
    let mut names = Vec::new();
    if !subject.is_empty() {
        names.push(CertName {
            value: Value::Directory(dn_of(subject)),
            text: format!("subject \"{subject}\""),
        });
    }
    for atv in subject.iter().filter(|atv| atv.oid == EMAIL_ADDRESS) {
        let text = attr_text(&atv.value);
        names.push(CertName {
            value: Value::Rfc822(text.as_deref().and_then(parse_mailbox)),
            text: format!(
                "subject emailAddress \"{}\"",
                text.as_deref().unwrap_or("<undecodable>")
            ),
        });
    }
    let san = tbs
        .get_extension::<SubjectAltName>()
        .map_err(|e| malformed(format!("subjectAltName extension: {e}")))?;
    if let Some((_, san)) = san {
        names.extend(san.0.iter().map(cert_name));
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

/// The permitted subtrees of one name form set by one CA.
#[derive(Debug, Clone)]
struct PermittedSet {
    kind: Kind,
    subtrees: Vec<Subtree>,
}

/// Accumulated permitted/excluded subtrees along a path (§6.1.2 (b),(c)).
///
/// `permitted` holds, per name form, one set per CA that constrained that form; a form with
/// no set is unconstrained, and a name of a constrained form must lie in some subtree of
/// every set of its form (the intersection). `excluded` is the union of all excluded
/// subtrees.
#[derive(Debug, Clone, Default)]
pub struct NameConstraintsState {
    permitted: Vec<PermittedSet>,
    excluded: Vec<Subtree>,
}

impl NameConstraintsState {
    /// The initial state: every name permitted, nothing excluded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no constraint at all has been accumulated.
    pub fn is_unconstrained(&self) -> bool {
        self.permitted.is_empty() && self.excluded.is_empty()
    }

    /// §6.1.3 (b),(c): checks the subject DN, the emailAddress attributes of the subject DN
    /// (as rfc822 names), and every subjectAltName entry of `cert` against the state.
    /// `skip` = true for self-issued certificates that are not the final one (they are
    /// exempt, §6.1.3(b)).
    ///
    /// Errors: [`Code::NameConstraints`] for a violation, [`Code::MalformedCertificate`] for
    /// an undecodable subjectAltName, [`Code::Limit`] beyond [`MAX_COMPARISONS`].
    pub fn check(&self, cert: &Certificate, skip: bool) -> Result<(), VerifyError> {
        if skip || self.is_unconstrained() {
            return Ok(());
        }
        let names = names_of(cert)?;
        self.check_names(&names)
    }

    fn check_names(&self, names: &[CertName]) -> Result<(), VerifyError> {
        if self.is_unconstrained() {
            return Ok(());
        }
        let mut per_kind = [0usize; Kind::ALL.len()];
        for set in &self.permitted {
            if let Some(n) = per_kind.get_mut(set.kind.index()) {
                *n = n.saturating_add(set.subtrees.len());
            }
        }
        for subtree in &self.excluded {
            if let Some(n) = per_kind.get_mut(subtree.rule.kind().index()) {
                *n = n.saturating_add(1);
            }
        }
        let cost = names.iter().fold(0usize, |acc, name| {
            acc.saturating_add(
                per_kind
                    .get(name.value.kind().index())
                    .copied()
                    .unwrap_or_default(),
            )
        });
        if cost > MAX_COMPARISONS {
            return Err(VerifyError::new(
                Code::Limit,
                format!(
                    "name constraints: {} names against the constraints would need {cost} comparisons (limit {MAX_COMPARISONS})",
                    names.len()
                ),
            ));
        }
        names.iter().try_for_each(|name| self.check_name(name))
    }

    fn check_name(&self, name: &CertName) -> Result<(), VerifyError> {
        let kind = name.value.kind();
        let mut permitted = self.permitted.iter().filter(|s| s.kind == kind).peekable();
        let mut excluded = self
            .excluded
            .iter()
            .filter(|s| s.rule.kind() == kind)
            .peekable();
        if permitted.peek().is_none() && excluded.peek().is_none() {
            return Ok(());
        }
        if matches!(name.value, Value::Unsupported(_)) {
            return Err(violation(format!(
                "{}: unsupported name type {} is constrained by an issuer",
                name.text,
                kind.label()
            )));
        }
        if name.value.is_malformed() {
            return Err(violation(format!(
                "{} is malformed and cannot be checked against the {} constraints",
                name.text,
                kind.label()
            )));
        }
        for set in permitted {
            if !set.subtrees.iter().any(|s| within(&name.value, &s.rule)) {
                const SHOWN: usize = 5;
                let mut bases: Vec<&str> = set
                    .subtrees
                    .iter()
                    .take(SHOWN)
                    .map(|s| s.text.as_str())
                    .collect();
                let more = set.subtrees.len().saturating_sub(SHOWN);
                let more = format!("… {more} more");
                if set.subtrees.len() > SHOWN {
                    bases.push(&more);
                }
                return Err(violation(format!(
                    "{} is not within the permitted subtrees [{}]",
                    name.text,
                    bases.join(", ")
                )));
            }
        }
        if let Some(hit) = excluded.find(|s| intersects(&name.value, &s.rule)) {
            return Err(violation(format!(
                "{} is within the excluded subtree {}",
                name.text, hit.text
            )));
        }
        Ok(())
    }

    /// §6.1.4 (g): intersects permitted subtrees with the certificate's permitted subtrees
    /// (per name type) and unions the excluded ones.
    ///
    /// Errors ([`Code::MalformedCertificate`], state left unchanged): a subtree with
    /// minimum ≠ 0 or a maximum, a malformed dNSName/rfc822Name/URI constraint (e.g. a
    /// wildcard, two `@`), an iPAddress constraint that is not 8 or 32 octets in CIDR form.
    pub fn update(&mut self, constraints: &NameConstraints) -> Result<(), VerifyError> {
        let parse = |subtrees: &Option<Vec<GeneralSubtree>>| {
            subtrees
                .iter()
                .flatten()
                .map(parse_subtree)
                .collect::<Result<Vec<_>, _>>()
        };
        let permitted = parse(&constraints.permitted_subtrees)?;
        let excluded = parse(&constraints.excluded_subtrees)?;
        for kind in Kind::ALL {
            let subtrees: Vec<Subtree> = permitted
                .iter()
                .filter(|s| s.rule.kind() == kind)
                .cloned()
                .collect();
            if !subtrees.is_empty() {
                self.permitted.push(PermittedSet { kind, subtrees });
            }
        }
        self.excluded.extend(excluded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{Any, Ia5String, OctetString};
    use der::{Decode, DecodePem, Encode};
    use std::path::PathBuf;
    use std::str::FromStr;
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::ext::pkix::name::OtherName;
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    /// §7.1 equality of two DNs (the module's own comparison).
    fn names_equal(a: &Name, b: &Name) -> bool {
        let (a, b) = (dn_of(a), dn_of(b));
        a.len() == b.len() && dn_within(&a, &b)
    }

    fn is_self_issued(cert: &Certificate) -> bool {
        let tbs = cert.tbs_certificate();
        names_equal(tbs.issuer(), tbs.subject())
    }

    /// Decodes the certificate's nameConstraints extension, if any (a decoding error, or the
    /// extension appearing twice, is [`Code::MalformedCertificate`]).
    fn decode_name_constraints(cert: &Certificate) -> Result<Option<NameConstraints>, VerifyError> {
        cert.tbs_certificate()
            .get_extension::<NameConstraints>()
            .map(|found| found.map(|(_, nc)| nc))
            .map_err(|e| malformed(format!("nameConstraints extension: {e}")))
    }

    const CN: Oid = Oid::new_unwrap("2.5.4.3");
    const OU: Oid = Oid::new_unwrap("2.5.4.11");
    const O: Oid = Oid::new_unwrap("2.5.4.10");
    const C: Oid = Oid::new_unwrap("2.5.4.6");

    fn ia5(s: &str) -> Ia5String {
        Ia5String::new(s).unwrap()
    }
    fn dns(s: &str) -> GeneralName {
        GeneralName::DnsName(ia5(s))
    }
    fn email(s: &str) -> GeneralName {
        GeneralName::Rfc822Name(ia5(s))
    }
    fn uri(s: &str) -> GeneralName {
        GeneralName::UniformResourceIdentifier(ia5(s))
    }
    fn ip(bytes: &[u8]) -> GeneralName {
        GeneralName::IpAddress(OctetString::new(bytes).unwrap())
    }
    fn dir(s: &str) -> GeneralName {
        GeneralName::DirectoryName(Name::from_str(s).unwrap())
    }
    fn other_name() -> GeneralName {
        GeneralName::OtherName(OtherName {
            type_id: Oid::new_unwrap("1.3.6.1.4.1.311.20.2.3"),
            value: Any::encode_from(&ia5("user@example.com")).unwrap(),
        })
    }
    fn rid() -> GeneralName {
        GeneralName::RegisteredId(Oid::new_unwrap("1.2.3.4"))
    }

    /// A Name from RDNs of (oid, tag, text), in DER order (most significant first).
    fn raw_name(rdns: &[&[(Oid, Tag, &[u8])]]) -> Name {
        let mut seq = RdnSequence::default();
        for rdn in rdns {
            let atvs: Vec<AttributeTypeAndValue> = rdn
                .iter()
                .map(|(oid, tag, bytes)| AttributeTypeAndValue {
                    oid: *oid,
                    value: Any::new(*tag, bytes.to_vec()).unwrap(),
                })
                .collect();
            seq.push(RelativeDistinguishedName::try_from(atvs).unwrap());
        }
        Name::from_der(&seq.to_der().unwrap()).unwrap()
    }

    fn subtree(base: GeneralName) -> GeneralSubtree {
        GeneralSubtree {
            base,
            minimum: 0,
            maximum: None,
        }
    }
    fn nc(permitted: Vec<GeneralName>, excluded: Vec<GeneralName>) -> NameConstraints {
        let wrap = |v: Vec<GeneralName>| {
            (!v.is_empty()).then(|| v.into_iter().map(subtree).collect::<Vec<_>>())
        };
        NameConstraints {
            permitted_subtrees: wrap(permitted),
            excluded_subtrees: wrap(excluded),
        }
    }
    fn state(constraints: &[NameConstraints]) -> NameConstraintsState {
        let mut s = NameConstraintsState::new();
        for c in constraints {
            s.update(c).unwrap();
        }
        s
    }
    /// Checks bare GeneralNames (as if they were the SAN of a certificate with empty subject).
    fn ok(s: &NameConstraintsState, names: &[GeneralName]) -> bool {
        let names: Vec<CertName> = names.iter().map(cert_name).collect();
        match s.check_names(&names) {
            Ok(()) => true,
            Err(e) => {
                assert_eq!(e.code, Code::NameConstraints, "{e}");
                false
            }
        }
    }
    fn permits(permitted: GeneralName, name: GeneralName) -> bool {
        ok(&state(&[nc(vec![permitted], vec![])]), &[name])
    }
    fn excludes(excluded: GeneralName, name: GeneralName) -> bool {
        !ok(&state(&[nc(vec![], vec![excluded])]), &[name])
    }
    fn update_err(c: NameConstraints) -> VerifyError {
        NameConstraintsState::new().update(&c).unwrap_err()
    }

    // --- preparation / DN ---------------------------------------------------------------

    #[test]
    fn string_preparation() {
        assert_eq!(
            prepare("  Test   Certificates\t2011 "),
            "test certificates 2011"
        );
        assert_eq!(prepare("ООО  «Ромашка»"), "ооо «ромашка»");
        assert_eq!(prepare("ＡＢＣ"), "abc", "NFKC folds full-width letters");
        assert_eq!(prepare("soft\u{AD}hyphen"), "softhyphen");
        assert_eq!(prepare("a\u{200B}b"), "ab");
    }

    #[test]
    fn dn_comparison_ignores_case_space_and_string_type() {
        let a = raw_name(&[
            &[(C, Tag::PrintableString, b"US")],
            &[(O, Tag::PrintableString, b"Test  Certificates 2011")],
        ]);
        let b = raw_name(&[
            &[(C, Tag::Utf8String, b"us")],
            &[(O, Tag::Utf8String, b" test certificates 2011 ")],
        ]);
        let bmp: Vec<u8> = "TEST CERTIFICATES 2011"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let c = raw_name(&[
            &[(C, Tag::TeletexString, b"US")],
            &[(O, Tag::BmpString, &bmp)],
        ]);
        assert!(names_equal(&a, &b));
        assert!(names_equal(&a, &c));
        let d = raw_name(&[
            &[(C, Tag::PrintableString, b"US")],
            &[(O, Tag::PrintableString, b"Test Certificates 2012")],
        ]);
        assert!(!names_equal(&a, &d));
        // Same text under another attribute type is a different name.
        let e = raw_name(&[
            &[(C, Tag::PrintableString, b"US")],
            &[(OU, Tag::PrintableString, b"Test Certificates 2011")],
        ]);
        assert!(!names_equal(&a, &e));
        // Non-string values compare by bytes.
        let f = raw_name(&[&[(CN, Tag::OctetString, b"\x01\x02")]]);
        let g = raw_name(&[&[(CN, Tag::OctetString, b"\x01\x02")]]);
        let h = raw_name(&[&[(CN, Tag::OctetString, b"\x01\x03")]]);
        assert!(names_equal(&f, &g));
        assert!(!names_equal(&f, &h));
    }

    #[test]
    fn dn_subtrees_are_rdn_prefixes() {
        let base = dir("OU=permittedSubtree1,O=Test Certificates 2011,C=US");
        assert!(permits(
            base.clone(),
            dir("CN=ee,OU=permittedSubtree1,O=Test Certificates 2011,C=US")
        ));
        assert!(permits(
            base.clone(),
            dir("OU=PermittedSubtree1,O=test certificates 2011,C=us")
        ));
        assert!(!permits(
            base.clone(),
            dir("CN=ee,OU=permittedSubtree2,O=Test Certificates 2011,C=US")
        ));
        assert!(
            !permits(base.clone(), dir("O=Test Certificates 2011,C=US")),
            "shorter than the base"
        );
        // Not a prefix: the same RDNs in another position.
        assert!(!permits(
            base.clone(),
            dir("OU=permittedSubtree1,C=US,O=Test Certificates 2011")
        ));
        // The empty DN as base permits every DN.
        assert!(permits(
            GeneralName::DirectoryName(Name::default()),
            dir("CN=x")
        ));
        assert!(excludes(
            dir("O=Test Certificates 2011,C=US"),
            dir("CN=x,O=TEST CERTIFICATES 2011,C=US")
        ));
        assert!(!excludes(dir("CN=foo"), dir("CN=not-foo")));
        // Multi-valued RDN: set equality, order independent.
        assert!(permits(dir("CN=a+OU=b,C=US"), dir("CN=x,OU=b+CN=a,C=US")));
        assert!(!permits(dir("CN=a+OU=b,C=US"), dir("CN=x,CN=a,C=US")));
    }

    // --- dNSName ------------------------------------------------------------------------

    #[test]
    fn dns_matching() {
        assert!(permits(dns("example.com"), dns("example.com")));
        assert!(permits(dns("example.com"), dns("foo.bar.example.com")));
        assert!(permits(dns("Example.COM"), dns("WWW.example.com")));
        assert!(permits(dns("example.com"), dns("www.example.com.")));
        assert!(!permits(dns("example.com"), dns("badexample.com")));
        assert!(!permits(dns("example.com"), dns("not-example.com")));
        assert!(!permits(dns("example.com"), dns("example.com.evil")));
        assert!(!permits(dns("foo.example.com"), dns("example.com")));
        // The leading-dot form is not a host name: the constraint itself is malformed.
        let mut state = NameConstraintsState::new();
        assert!(state
            .update(&nc(vec![dns(".example.com")], vec![]))
            .is_err());
        // The empty constraint matches everything.
        assert!(permits(dns(""), dns("anything.test")));
        assert!(excludes(dns(""), dns("anything.test")));
        assert!(excludes(
            dns("invalidcertificates.gov"),
            dns("INVALIDCERTIFICATES.gov")
        ));
        assert!(excludes(
            dns("invalidcertificates.gov"),
            dns("a.invalidcertificates.gov")
        ));
        assert!(!excludes(
            dns("invalidcertificates.gov"),
            dns("myinvalidcertificates.gov")
        ));
    }

    #[test]
    fn dns_wildcards() {
        // Permitted: the wildcard must lie wholly inside.
        assert!(permits(dns("foo.com"), dns("*.foo.com")));
        assert!(!permits(dns("foo.example.com"), dns("*.example.com")));
        // Excluded: any overlap is a violation.
        assert!(excludes(dns("bar.example.com"), dns("*.example.com")));
        assert!(excludes(dns("example.com"), dns("*.example.com")));
        assert!(!excludes(dns("a.bar.example.com"), dns("*.example.com")));
        assert!(!excludes(dns("other.com"), dns("*.example.com")));
        // Partial-label wildcards are not interpretable.
        assert!(!permits(dns("example.com"), dns("f*.example.com")));
    }

    #[test]
    fn malformed_dns_names_fail_when_constrained() {
        assert!(!permits(dns("example.com"), dns(".example.com")));
        assert!(!permits(dns("example.com"), dns("a..example.com")));
        assert!(!permits(dns("example.com"), dns("")));
        assert!(excludes(dns("other.com"), dns("bad name.example.com")));
        // Unconstrained form: not our business.
        assert!(permits(ip(&[192, 0, 2, 0, 255, 255, 255, 0]), dns("..")));
    }

    #[test]
    fn malformed_dns_constraints() {
        for bad in ["*.example.com", "exa mple.com", "a..b", ".", "example.com/"] {
            let e = update_err(nc(vec![dns(bad)], vec![]));
            assert_eq!(e.code, Code::MalformedCertificate, "{bad}");
        }
    }

    // --- rfc822Name ---------------------------------------------------------------------

    #[test]
    fn rfc822_matching() {
        // Host form: exactly that host.
        assert!(permits(
            email("testcertificates.gov"),
            email("a@testcertificates.gov")
        ));
        assert!(permits(
            email("testcertificates.gov"),
            email("a@TestCertificates.GOV")
        ));
        assert!(!permits(
            email("testcertificates.gov"),
            email("a@mailserver.testcertificates.gov")
        ));
        // Domain form: any subdomain host, not the domain itself.
        assert!(permits(
            email(".testcertificates.gov"),
            email("a@mailserver.testcertificates.gov")
        ));
        assert!(!permits(
            email(".testcertificates.gov"),
            email("a@testcertificates.gov")
        ));
        assert!(!permits(
            email(".testcertificates.gov"),
            email("a@xtestcertificates.gov")
        ));
        // Mailbox form: only that mailbox (host case-insensitive, local part exact).
        assert!(permits(email("foo@example.com"), email("foo@EXAMPLE.com")));
        assert!(!permits(email("foo@example.com"), email("Foo@example.com")));
        assert!(!permits(email("foo@example.com"), email("bar@example.com")));
        // Asterisks are literal.
        assert!(permits(email("*@example.com"), email("*@example.com")));
        assert!(!permits(email("*@example.com"), email("user@example.com")));
        assert!(!permits(email("*@example.com"), email("*@sub.example.com")));
        assert!(permits(email("**@example.com"), email("**@example.com")));
        assert!(!permits(email("**@example.com"), email("*@example.com")));
        assert!(permits(
            email("user*@example.com"),
            email("user*@example.com")
        ));
        // Quoted local parts.
        assert!(permits(email("example.com"), email("\"a@b\"@example.com")));
        assert!(!permits(email("example.com"), email("\"a@b\"@evil.com")));
        assert!(excludes(
            email("testcertificates.gov"),
            email("x@testcertificates.gov")
        ));
        assert!(!excludes(
            email("testcertificates.gov"),
            email("x@mailserver.testcertificates.gov")
        ));
    }

    #[test]
    fn malformed_mailboxes() {
        assert!(!permits(
            email("example.com"),
            email("invalid@address@example.com")
        ));
        assert!(!permits(
            email("example.com"),
            email("no-at-sign.example.com")
        ));
        assert!(!permits(email("example.com"), email("@example.com")));
        assert!(!permits(email("example.com"), email("a@")));
        assert!(!permits(email("example.com"), email("a b@example.com")));
        assert!(excludes(email("other.com"), email("x@y@example.com")));
        let e = update_err(nc(vec![email("invalid@invalid@example.com")], vec![]));
        assert_eq!(e.code, Code::MalformedCertificate);
        let e = update_err(nc(vec![], vec![email("a@")]));
        assert_eq!(e.code, Code::MalformedCertificate);
    }

    #[test]
    fn subject_email_address_is_checked_as_rfc822() {
        let s = state(&[nc(vec![email("testcertificates.gov")], vec![])]);
        let subject = raw_name(&[
            &[(C, Tag::PrintableString, b"US")],
            &[(
                EMAIL_ADDRESS,
                Tag::Ia5String,
                b"Test29EE@invalidcertificates.gov",
            )],
        ]);
        let names = vec![CertName {
            value: Value::Rfc822(
                subject
                    .iter()
                    .find(|a| a.oid == EMAIL_ADDRESS)
                    .and_then(|a| attr_text(&a.value))
                    .as_deref()
                    .and_then(parse_mailbox),
            ),
            text: "subject emailAddress".into(),
        }];
        assert!(s.check_names(&names).is_err());
    }

    // --- URI ----------------------------------------------------------------------------

    #[test]
    fn uri_hosts() {
        assert_eq!(
            uri_host("http://testserver.testcertificates.gov/index.html").as_deref(),
            Some("testserver.testcertificates.gov")
        );
        assert_eq!(
            uri_host("ftp://user:pw@Invalidcertificates.gov:21/test37/").as_deref(),
            Some("invalidcertificates.gov")
        );
        assert_eq!(
            uri_host("https://example.com?q").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            uri_host("https://example.com#f").as_deref(),
            Some("example.com")
        );
        assert_eq!(uri_host("urn:isbn:123"), None);
        assert_eq!(uri_host("mailto:a@example.com"), None);
        assert_eq!(uri_host("file:///etc/passwd"), None);
        assert_eq!(uri_host("http://[::1]/"), None);
        assert_eq!(uri_host("http://example.com:port/"), None);
        assert_eq!(uri_host("//example.com/"), None);
    }

    #[test]
    fn uri_matching() {
        let sub = uri(".testcertificates.gov");
        assert!(permits(
            sub.clone(),
            uri("http://testserver.testcertificates.gov/index.html")
        ));
        assert!(!permits(
            sub.clone(),
            uri("http://testcertificates.gov/invalid.html")
        ));
        assert!(!permits(sub.clone(), uri("urn:example")));
        let exact = uri("testcertificates.gov");
        assert!(permits(exact.clone(), uri("http://TestCertificates.gov/")));
        assert!(!permits(
            exact.clone(),
            uri("http://www.testcertificates.gov/")
        ));
        assert!(excludes(
            uri("invalidcertificates.gov"),
            uri("ftp://invalidcertificates.gov:21/test37/")
        ));
        assert!(!excludes(
            uri("invalidcertificates.gov"),
            uri("http://testserver.invalidcertificates.gov/index.html")
        ));
        // A URI without a host cannot be shown to be outside an excluded subtree either.
        assert!(excludes(uri("invalidcertificates.gov"), uri("urn:x")));
        let e = update_err(nc(vec![uri("http://example.com/")], vec![]));
        assert_eq!(e.code, Code::MalformedCertificate);
    }

    // --- iPAddress ----------------------------------------------------------------------

    #[test]
    fn ip_matching() {
        let v4 = ip(&[192, 0, 2, 0, 255, 255, 255, 0]);
        assert!(permits(v4.clone(), ip(&[192, 0, 2, 1])));
        assert!(!permits(v4.clone(), ip(&[192, 0, 3, 1])));
        assert!(excludes(v4.clone(), ip(&[192, 0, 2, 200])));
        // Other family does not match.
        let v6_name = ip(&[0; 16]);
        assert!(!permits(v4.clone(), v6_name.clone()));
        assert!(!excludes(v4.clone(), v6_name));
        let mut loopback = [0u8; 32];
        loopback[15] = 1;
        loopback[16..].fill(0xFF);
        let mut one = [0u8; 16];
        one[15] = 1;
        assert!(permits(ip(&loopback), ip(&one)));
        assert!(excludes(ip(&loopback), ip(&one)));
        assert!(!permits(ip(&loopback), ip(&[0; 16])));
        // A SAN that is a range, not an address.
        assert!(!permits(v4.clone(), ip(&[192, 0, 2, 0, 255, 255, 255, 0])));
        // Zero mask matches the whole family.
        assert!(permits(ip(&[0; 8]), ip(&[8, 8, 8, 8])));
    }

    #[test]
    fn malformed_ip_constraints() {
        for bad in [
            &[127, 0, 0, 1][..],
            &[0; 16][..],
            &[192, 0, 2, 0, 255, 0, 255, 0][..],
            &[10, 0, 0, 0, 255, 255, 255][..],
        ] {
            let e = update_err(nc(vec![], vec![ip(bad)]));
            assert_eq!(e.code, Code::MalformedCertificate, "{bad:?}");
        }
    }

    // --- unsupported forms, min/max -----------------------------------------------------

    #[test]
    fn unsupported_forms_fail_closed_only_when_both_present() {
        let s = state(&[nc(vec![dns("example.com")], vec![other_name()])]);
        assert!(!ok(&s, &[dns("example.com"), other_name()]));
        assert!(ok(&s, &[dns("example.com")]));
        let s = state(&[nc(vec![rid()], vec![])]);
        assert!(!ok(&s, &[rid()]));
        assert!(ok(&s, &[other_name(), dns("x.test")]));
        // An unsupported name without constraints of its form is fine.
        let s = state(&[nc(vec![dns("example.com")], vec![])]);
        assert!(ok(&s, &[other_name(), rid(), dns("a.example.com")]));
    }

    #[test]
    fn minimum_and_maximum_are_malformed() {
        let mut c = nc(vec![dns("example.com")], vec![]);
        if let Some(p) = c.permitted_subtrees.as_mut().and_then(|v| v.first_mut()) {
            p.minimum = 1;
        }
        assert_eq!(update_err(c).code, Code::MalformedCertificate);
        let mut c = nc(vec![], vec![dns("example.com")]);
        if let Some(p) = c.excluded_subtrees.as_mut().and_then(|v| v.first_mut()) {
            p.maximum = Some(0);
        }
        assert_eq!(update_err(c).code, Code::MalformedCertificate);
    }

    #[test]
    fn failed_update_leaves_state_unchanged() {
        let mut s = state(&[nc(vec![dns("example.com")], vec![])]);
        let bad = nc(vec![dns("other.com")], vec![ip(&[1, 2, 3, 4])]);
        assert!(s.update(&bad).is_err());
        assert!(ok(&s, &[dns("www.example.com")]));
    }

    // --- accumulation -------------------------------------------------------------------

    #[test]
    fn permitted_sets_intersect_along_the_path() {
        // Narrows: {foo, bar} then {bar} -> only bar.
        let s = state(&[
            nc(vec![dns("foo.example.com"), dns("bar.example.com")], vec![]),
            nc(vec![dns("bar.example.com")], vec![]),
        ]);
        assert!(!ok(&s, &[dns("foo.example.com")]));
        assert!(ok(&s, &[dns("bar.example.com")]));
        // Widening is not possible: {bar} then {foo, bar}.
        let s = state(&[
            nc(vec![dns("bar.example.com")], vec![]),
            nc(vec![dns("foo.example.com"), dns("bar.example.com")], vec![]),
        ]);
        assert!(!ok(&s, &[dns("foo.example.com")]));
        assert!(ok(&s, &[dns("x.bar.example.com")]));
        // Disjoint sets: the intersection is empty, no dNSName allowed at all...
        let s = state(&[
            nc(vec![dns("a.test")], vec![]),
            nc(vec![dns("b.test")], vec![]),
        ]);
        assert!(!ok(&s, &[dns("a.test")]));
        assert!(!ok(&s, &[dns("b.test")]));
        // ...but other forms are unaffected, as are certificates without dNSNames.
        assert!(ok(&s, &[email("x@y.test"), ip(&[1, 2, 3, 4])]));
        assert!(ok(&s, &[]));
        // Nested: subtree of a subtree.
        let s = state(&[
            nc(vec![dns("example.com")], vec![]),
            nc(vec![dns("sub.example.com")], vec![]),
        ]);
        assert!(ok(&s, &[dns("a.sub.example.com")]));
        assert!(!ok(&s, &[dns("other.example.com")]));
    }

    #[test]
    fn excluded_subtrees_accumulate_and_win() {
        let s = state(&[
            nc(vec![], vec![dns("a.test")]),
            nc(vec![dns("test")], vec![dns("b.test")]),
        ]);
        assert!(!ok(&s, &[dns("x.a.test")]));
        assert!(!ok(&s, &[dns("b.test")]));
        assert!(ok(&s, &[dns("c.test")]));
        // Excluded beats permitted.
        let s = state(&[nc(vec![dns("example.com")], vec![dns("example.com")])]);
        assert!(!ok(&s, &[dns("example.com")]));
        // One bad name among good ones is enough.
        let s = state(&[nc(vec![], vec![dns("not-allowed.example.com")])]);
        assert!(!ok(
            &s,
            &[dns("example.com"), dns("not-allowed.example.com")]
        ));
    }

    #[test]
    fn constraints_of_other_forms_do_not_apply() {
        assert!(permits(
            ip(&[192, 0, 2, 0, 255, 255, 255, 0]),
            dns("example.com")
        ));
        assert!(!excludes(
            ip(&[192, 0, 2, 0, 255, 255, 255, 0]),
            dns("example.com")
        ));
        assert!(permits(dns("example.com"), dir("CN=anything")));
        assert!(permits(dir("CN=foo"), email("a@b.test")));
    }

    #[test]
    fn violation_details_list_a_few_bases() {
        let bases: Vec<GeneralName> = (0..7).map(|i| dns(&format!("t{i}.test"))).collect();
        let s = state(&[nc(bases, vec![])]);
        let e = s.check_names(&[cert_name(&dns("x.example"))]).unwrap_err();
        assert_eq!(e.code, Code::NameConstraints);
        assert!(e.detail.contains("dNSName \"x.example\""), "{e}");
        assert!(
            e.detail.contains("t4.test") && !e.detail.contains("t5.test"),
            "{e}"
        );
        assert!(e.detail.contains("… 2 more"), "{e}");
    }

    #[test]
    fn comparison_budget() {
        let many: Vec<GeneralName> = (0..600).map(|i| dns(&format!("t{i}.test"))).collect();
        let s = state(&[nc(many.clone(), many.clone())]);
        let names: Vec<CertName> = many.iter().map(cert_name).collect();
        let e = s.check_names(&names).unwrap_err();
        assert_eq!(e.code, Code::Limit);
        // Names of other forms cost nothing.
        let names = vec![cert_name(&ip(&[1, 2, 3, 4])); 1000];
        assert!(s.check_names(&names).is_ok());
    }

    // --- whole certificates -------------------------------------------------------------

    fn pkits_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("TOKENCONFIRM_PKITS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/pkits")
            });
        if dir.join("pkits_expected.json").is_file() {
            Some(dir)
        } else {
            println!("skipping: PKITS not found at {}", dir.display());
            None
        }
    }

    fn pkits_cert(dir: &std::path::Path, name: &str) -> Certificate {
        let bytes = std::fs::read(dir.join("certs").join(format!("{name}.crt"))).unwrap();
        Certificate::from_der(&bytes).unwrap()
    }

    /// Runs name-constraint processing over a chain (trust anchor excluded, EE last):
    /// check each certificate, then take in its constraints. Returns the first error.
    fn run_chain(chain: &[Certificate]) -> Result<(), VerifyError> {
        let mut s = NameConstraintsState::new();
        for (i, cert) in chain.iter().enumerate() {
            let last = i + 1 == chain.len();
            s.check(cert, is_self_issued(cert) && !last)?;
            if !last {
                take_constraints(&mut s, cert)?;
            }
        }
        Ok(())
    }

    fn take_constraints(
        s: &mut NameConstraintsState,
        cert: &Certificate,
    ) -> Result<(), VerifyError> {
        match decode_name_constraints(cert)? {
            Some(c) => s.update(&c),
            None => Ok(()),
        }
    }

    #[test]
    fn pkits_4_13_name_constraints() {
        let Some(dir) = pkits_dir() else { return };
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("pkits_expected.json")).unwrap())
                .unwrap();
        let mut total = 0;
        let mut agree = 0;
        let mut disagreements = Vec::new();
        for case in json["testcases"].as_array().unwrap() {
            let id = case["id"].as_str().unwrap();
            let nc_only = case["features"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f.as_str().unwrap().starts_with("name-constraints"));
            if !id.starts_with("4.13.") || !nc_only {
                continue;
            }
            let names: Vec<&str> = case["certs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            let chain: Vec<Certificate> =
                names.iter().skip(1).map(|n| pkits_cert(&dir, n)).collect();
            let result = run_chain(&chain);
            if let Err(e) = &result {
                assert_eq!(e.code, Code::NameConstraints, "{id}: {e}");
            }
            let expected_failure = case["expected_result"] == "FAILURE";
            total += 1;
            if result.is_err() == expected_failure {
                agree += 1;
            } else {
                disagreements.push(format!("{id}: {result:?}"));
            }
            println!("{id} expected {}: {result:?}", case["expected_result"]);
        }
        println!("PKITS 4.13: {agree}/{total} agree");
        assert_eq!(total, 38);
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }

    #[test]
    fn pkits_whole_certificates() {
        let Some(dir) = pkits_dir() else { return };
        let ca = pkits_cert(&dir, "nameConstraintsDN1CACert");
        let mut s = NameConstraintsState::new();
        s.update(&decode_name_constraints(&ca).unwrap().unwrap())
            .unwrap();
        assert!(s
            .check(&pkits_cert(&dir, "ValidDNnameConstraintsTest1EE"), false)
            .is_ok());
        let e = s
            .check(&pkits_cert(&dir, "InvalidDNnameConstraintsTest2EE"), false)
            .unwrap_err();
        assert_eq!(e.code, Code::NameConstraints);
        assert!(e.detail.contains("excludedSubtree1"), "{e}");
        // A self-issued intermediate is exempt, but not as the final certificate.
        let self_issued = pkits_cert(&dir, "InvalidDNnameConstraintsTest20EE");
        assert!(is_self_issued(&self_issued));
        assert!(s.check(&self_issued, true).is_ok());
        assert!(s.check(&self_issued, false).is_err());
        assert!(decode_name_constraints(&self_issued).unwrap().is_none());
    }

    #[test]
    fn undecodable_san_is_malformed() {
        let Some(dir) = pkits_dir() else { return };
        let path = dir.join("certs/ValidDNSnameConstraintsTest30EE.crt");
        let mut der = std::fs::read(path).unwrap();
        let name = b"testserver.testcertificates.gov";
        let at = der
            .windows(name.len())
            .position(|w| w == name)
            .expect("SAN dNSName present");
        // [2] dNSName -> [3] x400Address, which x509-cert cannot decode.
        let tag = der.get_mut(at - 2).unwrap();
        assert_eq!(*tag, 0x82);
        *tag = 0x83;
        let cert = Certificate::from_der(&der).unwrap();
        let s = state(&[nc(vec![dns("testcertificates.gov")], vec![])]);
        let e = s.check(&cert, false).unwrap_err();
        assert_eq!(e.code, Code::MalformedCertificate, "{e}");
        // Skipped certificates are not looked at.
        assert!(s.check(&cert, true).is_ok());
    }

    /// x509-limbo `rfc5280::nc::*` (and related) chains, replayed at the name-constraints
    /// level: root → intermediates → leaf, the root's constraints included (limbo's trust
    /// anchors carry constraints that are meant to apply).
    #[test]
    fn x509_limbo_name_constraint_cases() {
        let file = std::env::var_os("TOKENCONFIRM_LIMBO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/x509-limbo")
            })
            .join("limbo.json");
        let Ok(bytes) = std::fs::read(&file) else {
            println!("skipping: {} not found", file.display());
            return;
        };
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        // Cases whose outcome is decided by name-constraint processing of a linear chain.
        // Left out: criticality / EE-placement rules (path module), alternate-path graphs.
        let cases = [
            "rfc5280::nc::permitted-dns-mismatch",
            "rfc5280::nc::excluded-dns-match",
            "rfc5280::nc::permitted-dns-match",
            "rfc5280::nc::permitted-dns-match-more",
            "rfc5280::nc::excluded-dns-match-second",
            "rfc5280::nc::permitted-ip-mismatch",
            "rfc5280::nc::excluded-ipv4-match",
            "rfc5280::nc::excluded-ipv6-match",
            "rfc5280::nc::permitted-ipv4-match",
            "rfc5280::nc::permitted-ipv6-match",
            "rfc5280::nc::permitted-dn-mismatch",
            "rfc5280::nc::excluded-dn-match",
            "rfc5280::nc::permitted-dn-match",
            "rfc5280::nc::permitted-dn-match-subject-san-mismatch",
            "rfc5280::nc::excluded-dn-match-sub-mismatch",
            "rfc5280::nc::permitted-self-issued",
            "rfc5280::nc::excluded-self-issued-leaf",
            "rfc5280::nc::excluded-match-permitted-and-excluded",
            "rfc5280::nc::permitted-different-constraint-type",
            "rfc5280::nc::excluded-different-constraint-type",
            "rfc5280::nc::invalid-dnsname-wildcard",
            "rfc5280::nc::invalid-dnsname-leading-period",
            "rfc5280::nc::invalid-ipv4-address",
            "rfc5280::nc::invalid-ipv6-address",
            "rfc5280::nc::invalid-email-address",
            "rfc5280::nc::intermediate-with-san-rejected-by-intermediate-nc",
            "rfc5280::nc::intermediate-with-san-rejected-by-root-nc",
            "rfc5280::nc::restrictive-permits-in-intermediates-narrows",
            "rfc5280::nc::restrictive-permits-in-intermediates-widens",
            "rfc5280::nc::nc-permits-invalid-dns-san",
            "rfc5280::nc::nc-permits-invalid-ip-san",
            "rfc5280::nc::nc-permits-invalid-email-san",
            "rfc5280::nc::nc-permits-email-exact",
            "rfc5280::nc::nc-permits-email-domain",
            "rfc5280::nc::nc-permits-email-literal-asterisk-exact-match",
            "rfc5280::nc::nc-permits-email-literal-asterisk-rejects-user",
            "rfc5280::nc::nc-permits-email-literal-asterisk-rejects-subdomain",
            "rfc5280::nc::nc-permits-email-literal-double-asterisk",
            "rfc5280::nc::nc-permits-email-literal-double-asterisk-rejects-single",
            "rfc5280::nc::nc-permits-email-literal-mid-asterisk",
            "rfc5280::nc::nc-forbids-othername",
            "rfc5280::nc::nc-forbids-othername-noop",
            "rfc5280::nc::nc-forbids-dnsname-wildcard-san",
            "cve::cve-2025-61727-nc-permits-variant",
            "webpki::nc::nc-permits-dns-san-pattern",
            "pathological::nc-dos-1",
            "pathological::nc-dos-2",
            // Not pathological-dos-3: its 2048 names are subject emailAddress attributes
            // against dNSName constraints (nothing to compare); it fails for want of a SAN.
        ];
        let known_disagreements: [&str; 0] = [];
        let mut agree = 0;
        let mut disagreements = Vec::new();
        for case in json["testcases"].as_array().unwrap() {
            let id = case["id"].as_str().unwrap();
            if !cases.contains(&id) {
                continue;
            }
            let pem = |v: &serde_json::Value| Certificate::from_pem(v.as_str().unwrap()).unwrap();
            let leaf = pem(&case["peer_certificate"]);
            let mut pool: Vec<Certificate> = case["untrusted_intermediates"]
                .as_array()
                .unwrap()
                .iter()
                .map(pem)
                .collect();
            let roots: Vec<Certificate> = case["trusted_certs"]
                .as_array()
                .unwrap()
                .iter()
                .map(pem)
                .collect();
            // Build leaf → ... → root by issuer/subject.
            let mut chain = vec![leaf];
            loop {
                let issuer = chain.last().unwrap().tbs_certificate().issuer().clone();
                if let Some(root) = roots
                    .iter()
                    .find(|r| names_equal(r.tbs_certificate().subject(), &issuer))
                {
                    chain.push(root.clone());
                    break;
                }
                let pos = pool
                    .iter()
                    .position(|c| names_equal(c.tbs_certificate().subject(), &issuer))
                    .unwrap_or_else(|| panic!("{id}: no issuer"));
                chain.push(pool.remove(pos));
            }
            chain.reverse();
            // The root's own constraints apply; its names are not checked.
            let mut s = NameConstraintsState::new();
            let mut result = Ok(());
            for (i, cert) in chain.iter().enumerate() {
                let last = i + 1 == chain.len();
                if i > 0 {
                    result = s.check(cert, is_self_issued(cert) && !last);
                }
                if result.is_ok() && !last {
                    result = take_constraints(&mut s, cert);
                }
                if result.is_err() {
                    break;
                }
            }
            let expected_failure = case["expected_result"] == "FAILURE";
            println!("{id} expected {}: {result:?}", case["expected_result"]);
            if result.is_err() == expected_failure {
                agree += 1;
            } else if !known_disagreements.contains(&id) {
                disagreements.push(format!("{id}: {result:?}"));
            }
        }
        println!(
            "x509-limbo: {agree}/{} agree (known deviations: {known_disagreements:?})",
            cases.len()
        );
        assert!(disagreements.is_empty(), "{disagreements:#?}");
        assert_eq!(agree + known_disagreements.len(), cases.len());
    }
}
