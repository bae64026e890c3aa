//! Path building (depth-first over name-matching candidates) and RFC 5280 §6.1 validation of
//! each candidate path until one passes.

use super::cert::Cert;
use super::dn::names_equal;
use super::names::NameConstraintsState;
use super::policy::PolicyTree;
use super::revocation::{self, CrlIssuerCheck, CrlSet, Status, Subject};
use super::{UnixTime, ANY_POLICY};
use crate::error::{Code, Result, VerifyError};
use crate::signature::{self, SignaturePolicy};
use der::asn1::ObjectIdentifier as Oid;
use std::collections::HashSet;
use std::sync::Mutex;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, InhibitAnyPolicy, KeyUsage,
    NameConstraints, PolicyConstraints, PolicyMappings, SubjectKeyIdentifier,
};
use x509_cert::Certificate;

/// The RFC 5280 §6.1.1 inputs a caller chooses, plus resource limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// user-initial-policy-set; empty means {anyPolicy}.
    pub initial_policy_set: Vec<Oid>,
    /// initial-explicit-policy.
    pub explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    pub policy_mapping_inhibit: bool,
    /// initial-any-policy-inhibit.
    pub any_policy_inhibit: bool,
    /// Check every certificate's revocation status; a status that cannot be determined fails.
    pub revocation: bool,
    /// Algorithm policy for certificate and CRL signatures.
    pub signature: SignaturePolicy,
    /// Longest path (certificates besides the trust anchor).
    pub max_depth: usize,
    /// Most candidate paths tried before giving up.
    pub max_paths: usize,
    /// An extended key usage every certificate that carries an EKU extension must allow
    /// (the target, intermediates and the anchor: "EKU nesting"); `None` = no EKU policy.
    pub required_eku: Option<Oid>,
    /// Refuse an intermediate CA whose policyConstraints extension is not marked critical
    /// (RFC 5280 §4.2.1.11: conforming CAs MUST mark it critical). On by default; NIST PKITS
    /// predates strict checking (its valid paths run through such CAs), so its harness turns
    /// this off.
    pub critical_policy_constraints: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            initial_policy_set: Vec::new(),
            explicit_policy: false,
            policy_mapping_inhibit: false,
            any_policy_inhibit: false,
            revocation: true,
            signature: SignaturePolicy::default(),
            max_depth: 8,
            max_paths: 64,
            required_eku: None,
            critical_policy_constraints: true,
        }
    }
}

/// A validated path.
#[derive(Debug, Clone)]
pub struct ValidPath {
    /// Target first, then its issuers, the trust anchor last.
    pub chain: Vec<Cert>,
    /// The user-constrained policy set ({anyPolicy} when unconstrained).
    pub policies: Vec<Oid>,
    /// Whether revocation was checked for every certificate below the anchor.
    pub revocation_checked: bool,
}

/// Positive signature results, keyed by SHA-256 over (signed bytes, signature, key). Safe to
/// share: a hit means exactly this signature verified with exactly this key.
#[derive(Debug, Default)]
pub struct SignatureCache {
    seen: Mutex<HashSet<[u8; 32]>>,
}

impl SignatureCache {
    /// The key for "`child` verified with `issuer`'s key": both fingerprints cover everything
    /// that matters (the child's TBS, algorithm and signature; the issuer's key).
    fn key(child: &Cert, issuer: &Cert) -> [u8; 32] {
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&child.fingerprint);
        both[32..].copy_from_slice(&issuer.fingerprint);
        crate::digest::sha256(&both)
    }
}

/// Everything path validation needs; cheap to build per call, the heavy parts are borrowed.
pub struct Validator<'a> {
    /// Trust anchors (certificates).
    pub anchors: &'a [Cert],
    /// Untrusted certificates for path building.
    pub pool: &'a [Cert],
    /// CRLs.
    pub crls: &'a CrlSet,
    /// Validation time.
    pub time: UnixTime,
    /// Inputs and limits.
    pub settings: &'a Settings,
    /// Signature cache (optional).
    pub cache: Option<&'a SignatureCache>,
}

const KNOWN_EXTENSIONS: &[Oid] = &[
    oid::SKI,
    oid::KEY_USAGE,
    oid::SAN,
    Oid::new_unwrap("2.5.29.18"),
    oid::BASIC_CONSTRAINTS,
    oid::NAME_CONSTRAINTS,
    Oid::new_unwrap("2.5.29.31"),
    Oid::new_unwrap("2.5.29.32"),
    Oid::new_unwrap("2.5.29.33"),
    oid::AKI,
    Oid::new_unwrap("2.5.29.36"),
    Oid::new_unwrap("2.5.29.37"),
    Oid::new_unwrap("2.5.29.46"),
    Oid::new_unwrap("2.5.29.54"),
    oid::AIA,
    Oid::new_unwrap("1.2.643.100.111"),
    Oid::new_unwrap("1.2.643.100.112"),
    Oid::new_unwrap("1.2.643.100.114"),
];

/// Extension OIDs looked up by the profile checks.
mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SKI: Oid = Oid::new_unwrap("2.5.29.14");
    pub const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
    pub const SAN: Oid = Oid::new_unwrap("2.5.29.17");
    pub const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
    pub const NAME_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.30");
    pub const AKI: Oid = Oid::new_unwrap("2.5.29.35");
    pub const AIA: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
}

/// Formats a certificate's name only when an error message needs it.
struct Who<'a>(&'a Certificate);

impl std::fmt::Debug for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", subject_cn(self.0))
    }
}

fn err(code: Code, detail: impl Into<String>) -> VerifyError {
    VerifyError::new(code, detail)
}

fn subject_cn(c: &Certificate) -> String {
    crate::identity::name_attr(c.tbs_certificate().subject(), crate::identity::oid::CN)
        .unwrap_or_else(|| c.tbs_certificate().subject().to_string())
}

impl Validator<'_> {
    /// Builds and validates a path from `target` to one of the anchors. Tries candidate
    /// paths depth-first (key-identifier matches first) until one validates; reports the
    /// error of the first complete path otherwise (`untrusted` when none reaches an anchor).
    pub fn validate(&self, target: &Cert) -> Result<ValidPath> {
        self.validate_at_depth(target, 0)
    }

    fn validate_at_depth(&self, target: &Cert, recursion: usize) -> Result<ValidPath> {
        let mut state = Search {
            tried: 0,
            expanded: 0,
            first_error: None,
        };
        let mut partial = vec![target];
        if let Some(found) = self.search(&mut partial, &mut state, recursion)? {
            return Ok(found);
        }
        Err(state.first_error.unwrap_or_else(|| {
            err(
                Code::Untrusted,
                format!(
                    "no path from {:?} to a trust anchor",
                    subject_cn(&target.cert)
                ),
            )
        }))
    }

    /// Depth-first search: `partial` is target … current; tries anchors, then pool issuers.
    fn search<'s>(
        &'s self,
        partial: &mut Vec<&'s Cert>,
        state: &mut Search,
        recursion: usize,
    ) -> Result<Option<ValidPath>> {
        let Some(&current) = partial.last() else {
            return Ok(None);
        };
        let issuer_name = current.cert.tbs_certificate().issuer();
        for anchor in self.ordered(self.anchors.iter(), current) {
            if !names_equal(anchor.cert.tbs_certificate().subject(), issuer_name) {
                continue;
            }
            if state.tried >= self.settings.max_paths {
                return Err(err(Code::Limit, "too many candidate paths"));
            }
            state.tried += 1;
            match self.check_path(partial, anchor, recursion) {
                Ok(policies) => {
                    let mut chain: Vec<Cert> = partial.iter().map(|c| (*c).clone()).collect();
                    chain.push(anchor.clone());
                    return Ok(Some(ValidPath {
                        chain,
                        policies,
                        revocation_checked: self.settings.revocation,
                    }));
                }
                Err(e) => {
                    if state.first_error.is_none() {
                        state.first_error = Some(e);
                    }
                }
            }
        }
        if partial.len() > self.settings.max_depth {
            return Ok(None);
        }
        let candidates: Vec<&Cert> = self
            .ordered(self.pool.iter(), current)
            .filter(|c| names_equal(c.cert.tbs_certificate().subject(), issuer_name))
            .filter(|c| !partial.iter().any(|p| p.fingerprint == c.fingerprint))
            .filter(|c| !self.anchors.iter().any(|a| a.fingerprint == c.fingerprint))
            .collect();
        for candidate in candidates {
            state.expanded += 1;
            if state.expanded > MAX_EXPANSIONS {
                return Err(err(
                    Code::Limit,
                    "path building examined too many candidates",
                ));
            }
            partial.push(candidate);
            let found = self.search(partial, state, recursion)?;
            partial.pop();
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Orders issuer candidates: AKI keyIdentifier matching the candidate's SKI first.
    fn ordered<'c>(
        &self,
        certs: impl Iterator<Item = &'c Cert>,
        child: &Cert,
    ) -> impl Iterator<Item = &'c Cert> {
        let aki = child
            .cert
            .tbs_certificate()
            .get_extension::<AuthorityKeyIdentifier>()
            .ok()
            .flatten()
            .and_then(|(_, a)| a.key_identifier);
        let mut list: Vec<(&Cert, bool)> = certs
            .map(|c| {
                let ski = c
                    .cert
                    .tbs_certificate()
                    .get_extension::<SubjectKeyIdentifier>()
                    .ok()
                    .flatten()
                    .map(|(_, s)| s.0);
                let matches = matches!((&aki, &ski), (Some(a), Some(s)) if a == s);
                (c, matches)
            })
            .collect();
        list.sort_by_key(|(_, m)| !*m);
        list.into_iter().map(|(c, _)| c)
    }

    /// Verifies `child`'s signature with `issuer`'s key (cached).
    fn verify_signature(&self, child: &Cert, issuer: &Cert) -> Result<()> {
        let tbs = child.cert.tbs_certificate();
        if tbs.signature() != child.cert.signature_algorithm() {
            return Err(err(
                Code::MalformedCertificate,
                "signature algorithm differs inside and outside the TBS",
            ));
        }
        let spki = issuer.cert.tbs_certificate().subject_public_key_info();
        let key = SignatureCache::key(child, issuer);
        if let Some(cache) = self.cache {
            if cache.seen.lock().map(|s| s.contains(&key)).unwrap_or(false) {
                return Ok(());
            }
        }
        signature::verify(
            &self.settings.signature,
            spki,
            child.cert.signature_algorithm(),
            child.tbs_bytes(),
            child.signature_bytes(),
        )
        .map_err(|e| {
            let code = match crate::signature_code(&e) {
                Code::InvalidSignature | Code::MalformedSignature => {
                    Code::CertificateSignatureInvalid
                }
                other => other,
            };
            err(
                code,
                format!("certificate {:?}: {e}", subject_cn(&child.cert)),
            )
        })?;
        // Only CA certificates are cached: they are shared by every citizen's chain, while an
        // end-entity certificate is usually seen once (caching it would only grow the set).
        let child_is_ca = matches!(extension::<BasicConstraints>(tbs), Ok(Some(bc)) if bc.ca);
        if let (Some(cache), true) = (self.cache, child_is_ca) {
            if let Ok(mut s) = cache.seen.lock() {
                if s.len() < 65_536 {
                    s.insert(key);
                }
            }
        }
        Ok(())
    }

    /// RFC 5280 §6.1 over `path` (target first) below `anchor`; returns the user-constrained
    /// policy set.
    fn check_path(&self, path: &[&Cert], anchor: &Cert, recursion: usize) -> Result<Vec<Oid>> {
        let n = path.len();
        let certs: Vec<&Cert> = path.iter().rev().copied().collect(); // x1 … xn
        let mut tree = Some(PolicyTree::new());
        let mut names = NameConstraintsState::new();
        let mut explicit_policy = if self.settings.explicit_policy {
            0
        } else {
            n + 1
        };
        let mut inhibit_any = if self.settings.any_policy_inhibit {
            0
        } else {
            n + 1
        };
        let mut policy_mapping = if self.settings.policy_mapping_inhibit {
            0
        } else {
            n + 1
        };
        let mut max_path_length = n;
        let mut working_issuer = anchor;
        // The anchor is a certificate: its own validity and CA profile count, and its name
        // and path-length constraints bind the path (RFC 5937 style).
        check_anchor(anchor, self.time)?;
        check_eku(anchor, self.settings.required_eku)?;
        if let Some(nc) = extension::<NameConstraints>(anchor.cert.tbs_certificate())? {
            names.update(&nc)?;
        }
        if let Some(limit) = extension::<BasicConstraints>(anchor.cert.tbs_certificate())?
            .and_then(|b| b.path_len_constraint)
        {
            max_path_length = max_path_length.min(limit as usize + 1);
        }

        for (index, cert) in certs.iter().enumerate() {
            let i = index + 1;
            let is_final = i == n;
            let tbs = cert.cert.tbs_certificate();
            let who = Who(&cert.cert);
            check_well_formed(cert)?;
            check_profile(cert)?;
            check_eku(cert, self.settings.required_eku)?;
            // (a)(1) signature, (a)(2) validity, (a)(4) name chaining.
            if !names_equal(
                tbs.issuer(),
                working_issuer.cert.tbs_certificate().subject(),
            ) {
                return Err(err(
                    Code::Untrusted,
                    format!("{who:?}: issuer name does not chain"),
                ));
            }
            self.verify_signature(cert, working_issuer)?;
            let validity = tbs.validity();
            if self.time < UnixTime::of_x509(&validity.not_before) {
                return Err(err(
                    Code::NotYetValid,
                    format!("{who:?} is valid from {}", validity.not_before),
                ));
            }
            if self.time > UnixTime::of_x509(&validity.not_after) {
                return Err(err(
                    Code::Expired,
                    format!("{who:?} expired {}", validity.not_after),
                ));
            }
            // (a)(3) revocation.
            if self.settings.revocation {
                let subject = Subject {
                    cert: &cert.cert,
                    issuer: &working_issuer.cert,
                };
                let checker = IssuerCheck {
                    validator: self,
                    anchor,
                    recursion,
                };
                match revocation::check(
                    &subject,
                    self.crls,
                    self.time,
                    &self.settings.signature,
                    &checker,
                ) {
                    Status::Good => {}
                    Status::Revoked { reason, .. } => {
                        return Err(err(
                            Code::Revoked,
                            format!(
                                "{who:?} revoked ({})",
                                reason.unwrap_or_else(|| "unspecified".into())
                            ),
                        ))
                    }
                    Status::Unknown(why) => {
                        return Err(err(Code::RevocationUnknown, format!("{who:?}: {why}")))
                    }
                }
            }
            // (b),(c) name constraints; self-issued intermediates are exempt.
            names.check(&cert.cert, cert.is_self_issued() && !is_final)?;
            // (d)-(f) policies.
            let policies = extension::<CertificatePolicies>(tbs)?.map(|p| {
                p.0.iter()
                    .map(|info| info.policy_identifier)
                    .collect::<Vec<_>>()
            });
            match (&mut tree, policies) {
                (Some(t), Some(list)) => {
                    let any_allowed = inhibit_any > 0 || (!is_final && cert.is_self_issued());
                    t.process_certificate(i, &list, any_allowed)?;
                    if t.is_empty_at(i) {
                        tree = None;
                    }
                }
                (_, None) => tree = None,
                (None, Some(_)) => {}
            }
            if explicit_policy == 0 && tree.is_none() {
                return Err(err(
                    Code::Policy,
                    format!("{who:?}: no acceptable certificate policy"),
                ));
            }
            if is_final {
                break;
            }
            // §6.1.4 preparation for the next certificate.
            if let Some(mappings) = extension::<PolicyMappings>(tbs)? {
                let pairs: Vec<(Oid, Oid)> = mappings
                    .0
                    .iter()
                    .map(|m| (m.issuer_domain_policy, m.subject_domain_policy))
                    .collect();
                if pairs
                    .iter()
                    .any(|(a, b)| *a == ANY_POLICY || *b == ANY_POLICY)
                {
                    return Err(err(
                        Code::Policy,
                        format!("{who:?}: anyPolicy in a policy mapping"),
                    ));
                }
                if let Some(t) = &mut tree {
                    t.apply_mappings(i, &pairs, policy_mapping > 0)?;
                    if t.is_empty_at(i) {
                        tree = None;
                    }
                }
            }
            if let Some(nc) = extension::<NameConstraints>(tbs)? {
                names.update(&nc)?;
            }
            if !cert.is_self_issued() {
                explicit_policy = explicit_policy.saturating_sub(1);
                policy_mapping = policy_mapping.saturating_sub(1);
                inhibit_any = inhibit_any.saturating_sub(1);
            }
            if let Some((critical, pc)) = tbs.get_extension::<PolicyConstraints>().map_err(|e| {
                err(
                    Code::MalformedCertificate,
                    format!(
                        "extension {}: {e}",
                        <PolicyConstraints as const_oid::AssociatedOid>::OID
                    ),
                )
            })? {
                if !critical && self.settings.critical_policy_constraints {
                    return Err(err(
                        Code::Policy,
                        format!("{who:?}: policyConstraints is not marked critical"),
                    ));
                }
                if let Some(r) = pc.require_explicit_policy {
                    explicit_policy = explicit_policy.min(r as usize);
                }
                if let Some(m) = pc.inhibit_policy_mapping {
                    policy_mapping = policy_mapping.min(m as usize);
                }
            }
            if let Some(ia) = extension::<InhibitAnyPolicy>(tbs)? {
                inhibit_any = inhibit_any.min(ia.0 as usize);
            }
            match extension::<BasicConstraints>(tbs)? {
                Some(bc) if bc.ca => {
                    if !cert.is_self_issued() {
                        if max_path_length == 0 {
                            return Err(err(
                                Code::PathLength,
                                format!("{who:?}: path length exceeded"),
                            ));
                        }
                        max_path_length -= 1;
                    }
                    if let Some(limit) = bc.path_len_constraint {
                        max_path_length = max_path_length.min(limit as usize);
                    }
                }
                _ => {
                    return Err(err(
                        Code::BasicConstraints,
                        format!("{who:?} is not a CA certificate"),
                    ))
                }
            }
            if let Some(ku) = extension::<KeyUsage>(tbs)? {
                if !ku.key_cert_sign() {
                    return Err(err(
                        Code::KeyUsage,
                        format!("{who:?}: keyUsage lacks keyCertSign"),
                    ));
                }
            }
            check_critical(cert)?;
            working_issuer = cert;
        }
        // §6.1.5 wrap-up.
        let target = certs.last().map(|c| c.cert.tbs_certificate());
        explicit_policy = explicit_policy.saturating_sub(1);
        if let Some(tbs) = target {
            if let Some(pc) = extension::<PolicyConstraints>(tbs)? {
                if pc.require_explicit_policy == Some(0) {
                    explicit_policy = 0;
                }
            }
        }
        if let Some(last) = certs.last() {
            check_critical(last)?;
        }
        let constrained = tree
            .as_mut()
            .and_then(|t| t.intersect(n, &self.settings.initial_policy_set));
        match constrained {
            Some(set) => Ok(set),
            None if explicit_policy == 0 => Err(err(
                Code::Policy,
                "no certificate policy acceptable to the user",
            )),
            None => Ok(Vec::new()),
        }
    }
}

struct Search {
    tried: usize,
    expanded: usize,
    first_error: Option<VerifyError>,
}

/// Most issuer candidates examined while building paths for one target (pathological pools).
const MAX_EXPANSIONS: usize = 2048;

/// Lets the revocation checker validate CRL issuers (key rollover, indirect CRLs) against
/// the same anchor, recursively but bounded.
struct IssuerCheck<'v, 'a> {
    validator: &'v Validator<'a>,
    anchor: &'v Cert,
    recursion: usize,
}

impl CrlIssuerCheck for IssuerCheck<'_, '_> {
    fn valid_crl_issuer(&self, candidate: &Certificate) -> bool {
        if self.recursion >= 3 {
            return false;
        }
        let Ok(cert) = Cert::from_parsed(candidate) else {
            return false;
        };
        if self
            .validator
            .anchors
            .iter()
            .any(|a| a.fingerprint == cert.fingerprint)
        {
            return true;
        }
        let anchors = std::slice::from_ref(self.anchor);
        let sub = Validator {
            anchors,
            ..*self.validator
        };
        sub.validate_at_depth(&cert, self.recursion + 1).is_ok()
    }

    fn candidates(&self) -> Vec<&Certificate> {
        self.validator
            .pool
            .iter()
            .chain(self.validator.anchors.iter())
            .map(|c| &c.cert)
            .collect()
    }
}

/// Decodes extension `T`, failing closed on malformed or duplicated extensions.
fn extension<'a, T>(tbs: &'a x509_cert::TbsCertificate) -> Result<Option<T>>
where
    T: der::Decode<'a> + const_oid::AssociatedOid,
{
    tbs.get_extension::<T>()
        .map(|o| o.map(|(_, v)| v))
        .map_err(|e| {
            err(
                Code::MalformedCertificate,
                format!("extension {}: {e}", T::OID),
            )
        })
}

/// Structural checks RFC 5280 requires of every certificate in a path.
fn check_well_formed(cert: &Cert) -> Result<()> {
    let tbs = cert.cert.tbs_certificate();
    if let Some(exts) = tbs.extensions() {
        let mut seen = HashSet::new();
        for e in exts.iter() {
            if !seen.insert(e.extn_id) {
                return Err(err(
                    Code::MalformedCertificate,
                    format!("duplicate extension {}", e.extn_id),
                ));
            }
        }
    }
    Ok(())
}

fn check_critical(cert: &Cert) -> Result<()> {
    let tbs = cert.cert.tbs_certificate();
    for e in tbs.extensions().into_iter().flat_map(|x| x.iter()) {
        if e.critical && !KNOWN_EXTENSIONS.contains(&e.extn_id) {
            return Err(err(
                Code::UnknownCriticalExtension,
                format!("{:?}: {}", subject_cn(&cert.cert), e.extn_id),
            ));
        }
    }
    Ok(())
}

/// The extension `oid` of `tbs`, if present.
fn find_ext(tbs: &x509_cert::TbsCertificate, oid: Oid) -> Option<&x509_cert::ext::Extension> {
    tbs.extensions()?.iter().find(|e| e.extn_id == oid)
}

/// RFC 5280 §4 rules that a conforming CA always follows; a certificate breaking them is
/// refused rather than interpreted (x509-limbo's `rfc5280::*` cases are the oracle).
fn check_profile(cert: &Cert) -> Result<()> {
    let tbs = cert.cert.tbs_certificate();
    let who = Who(&cert.cert);
    let bad = |what: &str| err(Code::MalformedCertificate, format!("{who:?}: {what}"));
    let serial = tbs.serial_number().as_bytes();
    if serial.is_empty()
        || serial.iter().all(|b| *b == 0)
        || serial[0] & 0x80 != 0
        || serial.len() > 21
    {
        return Err(bad("serial number must be positive and at most 20 octets"));
    }
    let is_ca = matches!(extension::<BasicConstraints>(tbs)?, Some(bc) if bc.ca);
    let self_signed = cert.is_self_issued();
    match find_ext(tbs, oid::AKI) {
        Some(e) if e.critical => return Err(bad("authorityKeyIdentifier must not be critical")),
        None if !self_signed => return Err(bad("authorityKeyIdentifier missing")),
        _ => {}
    }
    match find_ext(tbs, oid::SKI) {
        Some(e) if e.critical => return Err(bad("subjectKeyIdentifier must not be critical")),
        None if is_ca => return Err(bad("CA certificate without subjectKeyIdentifier")),
        _ => {}
    }
    if is_ca && tbs.subject().is_empty() {
        return Err(bad("CA certificate with an empty subject"));
    }
    if let Some(e) = find_ext(tbs, oid::NAME_CONSTRAINTS) {
        if !is_ca {
            return Err(bad("nameConstraints in a non-CA certificate"));
        }
        if !e.critical {
            return Err(bad("nameConstraints must be critical"));
        }
    }
    // policyConstraints "MUST be critical" is not enforced: NIST PKITS (4.8, 4.10, 4.12)
    // expects paths through non-critical policyConstraints to validate.
    if find_ext(tbs, oid::AIA).is_some_and(|e| e.critical) {
        return Err(bad("authorityInfoAccess must not be critical"));
    }
    if let Some(e) = find_ext(tbs, oid::SAN) {
        if tbs.subject().is_empty() && !e.critical {
            return Err(bad(
                "subjectAltName must be critical when the subject is empty",
            ));
        }
        let san = extension::<x509_cert::ext::pkix::SubjectAltName>(tbs)?;
        for name in san.iter().flat_map(|s| s.0.iter()) {
            if let x509_cert::ext::pkix::name::GeneralName::DnsName(dns) = name {
                if !valid_dns_name(dns.as_str()) {
                    return Err(bad("subjectAltName dNSName is not a valid host name"));
                }
            }
        }
    }
    if let Some(ku) = extension::<KeyUsage>(tbs)? {
        if ku.key_cert_sign() && !is_ca {
            return Err(bad("keyCertSign without basicConstraints cA"));
        }
    }
    Ok(())
}

/// LDH host names with an optional leading `*.` wildcard label; no IP literals.
fn valid_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    !name.is_empty()
        && name.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// The trust anchor certificate: valid now, a CA (critical basicConstraints cA when v3,
/// keyCertSign when keyUsage is present), no unknown critical extension, a subject key id.
fn check_anchor(anchor: &Cert, time: UnixTime) -> Result<()> {
    let tbs = anchor.cert.tbs_certificate();
    let who = Who(&anchor.cert);
    let validity = tbs.validity();
    if time < UnixTime::of_x509(&validity.not_before) {
        return Err(err(
            Code::NotYetValid,
            format!("trust anchor {who:?} is not yet valid"),
        ));
    }
    if time > UnixTime::of_x509(&validity.not_after) {
        return Err(err(
            Code::Expired,
            format!("trust anchor {who:?} expired {}", validity.not_after),
        ));
    }
    if tbs.version() == x509_cert::certificate::Version::V3 {
        match (
            find_ext(tbs, oid::BASIC_CONSTRAINTS),
            extension::<BasicConstraints>(tbs)?,
        ) {
            (Some(e), Some(bc)) if e.critical && bc.ca => {}
            _ => {
                return Err(err(
                    Code::BasicConstraints,
                    format!("trust anchor {who:?} lacks a critical basicConstraints cA"),
                ))
            }
        }
        if let Some(ku) = extension::<KeyUsage>(tbs)? {
            if !ku.key_cert_sign() {
                return Err(err(
                    Code::KeyUsage,
                    format!("trust anchor {who:?}: keyUsage lacks keyCertSign"),
                ));
            }
        }
        match find_ext(tbs, oid::SKI) {
            Some(e) if !e.critical => {}
            _ => {
                return Err(err(
                    Code::MalformedCertificate,
                    format!("trust anchor {who:?}: subjectKeyIdentifier missing or critical"),
                ))
            }
        }
        match find_ext(tbs, oid::AKI) {
            Some(e) if e.critical => {
                return Err(err(
                    Code::MalformedCertificate,
                    format!("trust anchor {who:?}: critical authorityKeyIdentifier"),
                ))
            }
            None if !anchor.is_self_issued() => {
                return Err(err(
                    Code::MalformedCertificate,
                    format!("cross-signed trust anchor {who:?} lacks authorityKeyIdentifier"),
                ))
            }
            _ => {}
        }
        if find_ext(tbs, oid::NAME_CONSTRAINTS).is_some_and(|e| !e.critical) {
            return Err(err(
                Code::MalformedCertificate,
                format!("trust anchor {who:?}: nameConstraints must be critical"),
            ));
        }
    }
    if tbs.subject().is_empty() {
        return Err(err(
            Code::MalformedCertificate,
            format!(
                "trust anchor with an empty subject (issuer {})",
                tbs.issuer()
            ),
        ));
    }
    check_critical(anchor)
}

/// With a required EKU, a certificate whose EKU extension allows neither it nor
/// anyExtendedKeyUsage breaks the path.
fn check_eku(cert: &Cert, required: Option<Oid>) -> Result<()> {
    const ANY_EKU: Oid = Oid::new_unwrap("2.5.29.37.0");
    let Some(required) = required else {
        return Ok(());
    };
    if let Some(eku) =
        extension::<x509_cert::ext::pkix::ExtendedKeyUsage>(cert.cert.tbs_certificate())?
    {
        if !eku.0.iter().any(|o| *o == required || *o == ANY_EKU) {
            return Err(err(
                Code::KeyUsage,
                format!(
                    "{:?}: extended key usage does not allow {required}",
                    subject_cn(&cert.cert)
                ),
            ));
        }
    }
    Ok(())
}
