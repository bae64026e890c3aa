//! CRL-based revocation checking: RFC 5280 §6.3 over CRLs profiled by §5.
//!
//! Built for large CRLs (Russian CAs publish CRLs of many megabytes):
//!
//! * each CRL is parsed **once** by [`CrlSet::parse`] with a light DER walker that keeps the
//!   original bytes; the revoked serial numbers go into a hash index (entry records of a few
//!   dozen bytes, no per-entry heap allocation), so a lookup is O(1) whatever the CRL size;
//! * a CRL's signature is verified lazily, **at most once per issuer key**: the result is cached
//!   inside the parsed CRL (keyed by a SHA-256 of the key and the signature policy), and the
//!   cache is shared by every set derived with [`CrlSet::extended`];
//! * CRLs are indexed by (normalised) issuer name, so a check only looks at the CRLs of the
//!   issuers concerned.
//!
//! [`check`] implements the §6.3.3 algorithm: distribution-point scope and
//! issuingDistributionPoint checks, reason masks (onlySomeReasons), indirect CRLs
//! (certificateIssuer entry extension), CRL issuers other than the certificate issuer (key
//! rollover, separate CRL-signing keys, cRLIssuer) validated through [`CrlIssuerCheck`], and
//! delta CRLs. A CRL that cannot be used (unknown critical extension, wrong version, outside
//! its validity period, bad signature…) is skipped and the reason is reported if no usable
//! CRL determines the status.

use std::cmp::Ordering as CmpOrdering;
use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use const_oid::db::rfc5280 as ids;
use der::{Decode, Encode, Tagged};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::crl::dp::{DistributionPoint, IssuingDistributionPoint};
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, GeneralNames};
use x509_cert::ext::pkix::{BasicConstraints, CrlDistributionPoints, KeyUsage};
use x509_cert::name::{Name, RelativeDistinguishedName};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::dn::{fold, names_equal, string_value, values_match};
use super::UnixTime;
use crate::error::{Code, VerifyError};
use crate::signature::{self, SignaturePolicy};

/// All eight revocation reasons of `ReasonFlags` (bits 1..=8; bit 0 is `unused`).
const ALL_REASONS: u16 = 0x01fe;
/// CRLReason `removeFromCRL`.
const REMOVE_FROM_CRL: u8 = 8;
/// "No reasonCode entry extension".
const NO_REASON: u8 = u8::MAX;
/// "The entry's certificate issuer is the CRL issuer".
const CRL_ISSUER: u32 = u32::MAX;
/// End of an index chain.
const NO_NEXT: u32 = u32::MAX;
/// Distinct issuer keys remembered per CRL (a bound against hostile candidate pools).
const MAX_CACHED_KEYS: usize = 64;
/// Notes kept for an `Unknown` explanation.
const MAX_NOTES: usize = 6;

// DER tags used by the walker.
const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_EXPLICIT_0: u8 = 0xa0;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Parsed CRLs, indexed for lookup. Build once, use for many validations.
///
/// Cheap to share between threads (`Send + Sync`); the signature cache inside is behind a
/// mutex. [`CrlSet::extended`] returns a new set that shares the already-parsed CRLs (and their
/// signature caches) with this one.
pub struct CrlSet {
    crls: Vec<Arc<ParsedCrl>>,
    /// Complete (non-delta) CRLs by normalised issuer name.
    complete_by_issuer: HashMap<String, Vec<usize>>,
    /// Delta CRLs by normalised issuer name.
    delta_by_issuer: HashMap<String, Vec<usize>>,
}

impl CrlSet {
    /// Parses DER CRLs; a malformed one is an error naming its index.
    ///
    /// A CRL that parses but cannot be used (unknown critical extension, v1 with extensions,
    /// mismatched signature algorithms, …) is kept and reported as unusable by [`check`].
    ///
    /// # Errors
    /// [`Code::MalformedCrl`] with the index of the first CRL that is not well-formed DER.
    pub fn parse(ders: &[Vec<u8>]) -> Result<CrlSet, VerifyError> {
        CrlSet::empty().extended(ders)
    }

    /// A set without CRLs (every status is then `Unknown`).
    pub fn empty() -> CrlSet {
        CrlSet {
            crls: Vec::new(),
            complete_by_issuer: HashMap::new(),
            delta_by_issuer: HashMap::new(),
        }
    }

    /// Number of CRLs (complete and delta).
    pub fn len(&self) -> usize {
        self.crls.len()
    }

    /// True when the set holds no CRL.
    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    /// Returns a **new** set holding this set's CRLs plus `more` (e.g. CRLs carried inside a CMS
    /// message); `self` is unchanged. The CRLs already parsed are shared, not copied or
    /// re-parsed, and keep their signature caches; a CRL in `more` byte-identical to one already
    /// in the set is not added twice.
    ///
    /// # Errors
    /// [`Code::MalformedCrl`] naming the index (within `more`) of a CRL that is not well-formed.
    pub fn extended(&self, more: &[Vec<u8>]) -> Result<CrlSet, VerifyError> {
        let mut crls = self.crls.clone();
        for (i, der) in more.iter().enumerate() {
            if crls.iter().any(|c| c.der == *der) {
                continue;
            }
            let parsed = ParsedCrl::parse(der.clone())
                .map_err(|e| VerifyError::new(Code::MalformedCrl, format!("CRL {i}: {e}")))?;
            crls.push(Arc::new(parsed));
        }
        Ok(CrlSet::index(crls))
    }

    /// How many CRL signature verifications have actually been computed (cache misses) for
    /// the CRLs in this set, including those done through sets sharing them. Diagnostics and
    /// tests: repeated checks against the same CRL and issuer key must not increase it.
    pub fn signature_verifications(&self) -> usize {
        self.crls
            .iter()
            .map(|c| c.verifications.load(Ordering::Relaxed))
            .sum()
    }

    fn index(crls: Vec<Arc<ParsedCrl>>) -> CrlSet {
        let mut complete_by_issuer: HashMap<String, Vec<usize>> = HashMap::new();
        let mut delta_by_issuer: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, crl) in crls.iter().enumerate() {
            let map = if crl.delta_base.is_some() {
                &mut delta_by_issuer
            } else {
                &mut complete_by_issuer
            };
            map.entry(crl.issuer_key.clone()).or_default().push(i);
        }
        CrlSet {
            crls,
            complete_by_issuer,
            delta_by_issuer,
        }
    }

    fn get(&self, i: usize) -> Option<&ParsedCrl> {
        self.crls.get(i).map(|c| &**c)
    }
}

impl Default for CrlSet {
    fn default() -> Self {
        CrlSet::empty()
    }
}

impl std::fmt::Debug for CrlSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for c in &self.crls {
            list.entry(&format_args!(
                "{}CRL from {:?} ({} entries)",
                if c.delta_base.is_some() { "delta " } else { "" },
                c.issuer.to_string(),
                c.entries.len()
            ));
        }
        list.finish()
    }
}

/// Result for one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not revoked, and usable CRLs cover every revocation reason.
    Good,
    /// Listed on a usable CRL in scope.
    Revoked {
        /// The CRLReason name (`keyCompromise`, `certificateHold`, …) or `None` when the entry
        /// has no reasonCode.
        reason: Option<String>,
        /// The entry's revocationDate.
        revoked_at: UnixTime,
    },
    /// No usable CRL (or not all reasons covered); the text says why.
    Unknown(String),
}

/// The certificate to check, where it sits in the path.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The certificate whose status is wanted.
    pub cert: &'a Certificate,
    /// The certificate (or trust anchor certificate) that issued `cert` in this path.
    pub issuer: &'a Certificate,
}

/// What the checker needs from the path validator.
pub trait CrlIssuerCheck {
    /// True when `candidate` (a certificate that could have signed a CRL: same issuer name as
    /// the subject's issuer with a different key — CA key rollover — or the cRLIssuer of an
    /// indirect CRL) validates as a path to the same trust anchor at the same time, including
    /// its own revocation status. The validator guards recursion depth.
    fn valid_crl_issuer(&self, candidate: &Certificate) -> bool;

    /// Candidate certificates to look among for CRL issuers (the untrusted pool + path
    /// certificates + anchors).
    fn candidates(&self) -> Vec<&Certificate>;
}

/// §6.3: determines the status of `subject` at `time` from `crls`.
///
/// The CRL issuer is by default `subject.issuer` (its key must verify the CRL and, when it has
/// keyUsage, allow cRLSign); otherwise a certificate among `issuers.candidates()` named as the
/// CRL issuer, with cRLSign, whose key verifies the CRL and which
/// [`CrlIssuerCheck::valid_crl_issuer`] accepts. Complete CRLs are consulted newest first;
/// a matching delta CRL (same issuer and scope, BaseCRLNumber ≤ the complete CRL's number,
/// signed by the same key) is applied whenever one is in the set, otherwise the complete CRL is
/// used alone. The result is `Revoked` as soon as a usable CRL in scope lists the certificate
/// (`removeFromCRL` on the delta releases a hold), `Good` when usable CRLs cover all reasons,
/// else `Unknown`.
pub fn check(
    subject: &Subject<'_>,
    crls: &CrlSet,
    time: UnixTime,
    policy: &SignaturePolicy,
    issuers: &dyn CrlIssuerCheck,
) -> Status {
    let mut run = Run {
        cert: subject.cert,
        issuer: subject.issuer,
        crls,
        time: time.0,
        policy,
        issuers,
        candidates: None,
        candidate_valid: HashMap::new(),
        signers: HashMap::new(),
        notes: Vec::new(),
    };
    run.status()
}

// ---------------------------------------------------------------------------------------------
// The §6.3.3 algorithm
// ---------------------------------------------------------------------------------------------

struct Run<'r> {
    cert: &'r Certificate,
    issuer: &'r Certificate,
    crls: &'r CrlSet,
    time: i64,
    policy: &'r SignaturePolicy,
    issuers: &'r dyn CrlIssuerCheck,
    /// `issuers.candidates()`, fetched on first need.
    candidates: Option<Vec<&'r Certificate>>,
    /// `valid_crl_issuer` answers by candidate index.
    candidate_valid: HashMap<usize, bool>,
    /// The key validated for each CRL (step (e)), by CRL index.
    signers: HashMap<usize, Option<SubjectPublicKeyInfoOwned>>,
    notes: Vec<String>,
}

/// A hit on a CRL: reason code and revocation date.
#[derive(Clone, Copy)]
struct Hit {
    reason: u8,
    at: i64,
}

impl<'r> Run<'r> {
    fn status(&mut self) -> Status {
        let tbs = self.cert.tbs_certificate();
        let serial = normalize_integer(tbs.serial_number().as_bytes());
        let is_ca = match tbs.get_extension::<BasicConstraints>() {
            Ok(found) => found.is_some_and(|(_, bc)| bc.ca),
            Err(e) => return Status::Unknown(format!("malformed basicConstraints: {e}")),
        };
        let dps = match tbs.get_extension::<CrlDistributionPoints>() {
            Ok(Some((_, dps))) if !dps.0.is_empty() => dps.0,
            Ok(_) => vec![DistributionPoint {
                distribution_point: None,
                reasons: None,
                crl_issuer: None,
            }],
            Err(e) => return Status::Unknown(format!("malformed cRLDistributionPoints: {e}")),
        };

        let mut mask = 0u16;
        let mut hit: Option<Hit> = None;
        'points: for dp in &dps {
            for idx in self.complete_crls_for(dp) {
                if mask == ALL_REASONS || hit.is_some() {
                    break 'points;
                }
                if let Some((interim, found)) = self.consider(idx, dp, serial, is_ca, mask) {
                    mask |= interim;
                    hit = found;
                }
            }
        }

        if let Some(h) = hit {
            return Status::Revoked {
                reason: (h.reason != NO_REASON).then(|| reason_name(h.reason)),
                revoked_at: UnixTime(h.at),
            };
        }
        if mask == ALL_REASONS {
            return Status::Good;
        }
        Status::Unknown(self.explain(mask, &dps))
    }

    /// Indices of the complete CRLs whose issuer may serve `dp`, newest first.
    fn complete_crls_for(&self, dp: &DistributionPoint) -> Vec<usize> {
        let mut out = Vec::new();
        let mut add = |name: &Name| {
            // Few CRLs (the usual case): compare names directly instead of building the
            // formatted hash key, which costs more than the comparisons.
            if self.crls.crls.len() <= 16 {
                for (i, crl) in self.crls.crls.iter().enumerate() {
                    if crl.delta_base.is_none() && names_equal(&crl.issuer, name) {
                        out.push(i);
                    }
                }
            } else if let Some(list) = self.crls.complete_by_issuer.get(&name_key(name)) {
                out.extend_from_slice(list);
            }
        };
        match &dp.crl_issuer {
            Some(names) => names.iter().filter_map(directory_name).for_each(&mut add),
            None => add(self.cert.tbs_certificate().issuer()),
        }
        out.sort_unstable();
        out.dedup();
        out.sort_by(|&a, &b| match (self.crls.get(a), self.crls.get(b)) {
            (Some(x), Some(y)) => y
                .this_update
                .cmp(&x.this_update)
                .then_with(|| cmp_numbers(y.crl_number.as_deref(), x.crl_number.as_deref())),
            _ => CmpOrdering::Equal,
        });
        out
    }

    /// Steps (b)–(k) for one complete CRL and distribution point: `None` when the CRL is not
    /// used, else the interim reasons mask and the entry found (after delta processing).
    fn consider(
        &mut self,
        idx: usize,
        dp: &DistributionPoint,
        serial: &[u8],
        is_ca: bool,
        mask: u16,
    ) -> Option<(u16, Option<Hit>)> {
        let crls = self.crls;
        let crl = crls.get(idx)?;
        let cert: &'r Certificate = self.cert;
        let cert_issuer = cert.tbs_certificate().issuer();

        // (b)(1) CRL issuer.
        if let Some(names) = &dp.crl_issuer {
            if !names
                .iter()
                .filter_map(directory_name)
                .any(|n| names_equal(n, &crl.issuer))
            {
                return None;
            }
            if !crl.idp.as_ref().is_some_and(|i| i.indirect_crl) {
                self.note(format!(
                    "CRL from {:?} is named as cRLIssuer but is not an indirect CRL",
                    crl.issuer.to_string()
                ));
                return None;
            }
        } else if !names_equal(&crl.issuer, cert_issuer) {
            return None;
        }
        let who = Who(&crl.issuer);

        // Usability and currency.
        if let Some(problem) = &crl.problem {
            self.note(format!("CRL from {who:?} is unusable: {problem}"));
            return None;
        }
        if !crl.is_current(self.time) {
            self.note(format!(
                "CRL from {who:?} is not current (thisUpdate {}, nextUpdate {})",
                show_time(crl.this_update),
                crl.next_update
                    .map_or_else(|| "absent".to_string(), show_time)
            ));
            return None;
        }

        // (b)(2) issuingDistributionPoint.
        if let Some(idp) = &crl.idp {
            if let Some(idp_name) = &idp.distribution_point {
                let idp_forms = dp_forms(idp_name, &crl.issuer);
                let matched = match (&dp.distribution_point, &dp.crl_issuer) {
                    (Some(dp_name), crl_issuer) => {
                        let base = crl_issuer
                            .as_ref()
                            .and_then(|n| n.iter().find_map(directory_name))
                            .unwrap_or(cert_issuer);
                        let dp_forms = dp_forms(dp_name, base);
                        dp_forms
                            .iter()
                            .any(|a| idp_forms.iter().any(|b| forms_match(a, b)))
                    }
                    (None, Some(crl_issuer)) => crl_issuer.iter().any(|g| {
                        idp_forms
                            .iter()
                            .any(|b| forms_match(&NameForm::General(g), b))
                    }),
                    (None, None) => false,
                };
                if !matched {
                    self.note(format!(
                        "CRL from {who:?} is for a distribution point the certificate does not name"
                    ));
                    return None;
                }
            }
            if idp.only_contains_user_certs && is_ca {
                self.note(format!(
                    "CRL from {who:?} covers only end-entity certificates"
                ));
                return None;
            }
            if idp.only_contains_ca_certs && !is_ca {
                self.note(format!("CRL from {who:?} covers only CA certificates"));
                return None;
            }
            if idp.only_contains_attribute_certs {
                self.note(format!(
                    "CRL from {who:?} covers only attribute certificates"
                ));
                return None;
            }
        }

        // (c), (d) reasons.
        let idp_reasons = crl
            .idp
            .as_ref()
            .and_then(|i| i.only_some_reasons)
            .map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS);
        let dp_reasons = dp.reasons.map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS);
        let interim = idp_reasons & dp_reasons;
        if interim & !mask == 0 {
            return None;
        }

        // (e), (f) the CRL issuer's key and the CRL signature.
        let Some(key) = self.signer(idx) else {
            self.note(format!(
                "CRL from {who:?}: no valid CRL issuer certificate whose key verifies its signature"
            ));
            return None;
        };

        // (a), (g) delta CRL; (h) delta first, (i) then the complete CRL; (j) removeFromCRL.
        let mut found = None;
        if let Some(delta) = self.delta_for(crl, &key) {
            found = delta.find(serial, cert_issuer);
        }
        if found.is_none() {
            found = crl.find(serial, cert_issuer);
        }
        if found.is_some_and(|h| h.reason == REMOVE_FROM_CRL) {
            found = None;
        }
        Some((interim, found))
    }

    /// Step (e): the validated key of the CRL issuer, memoised per CRL.
    fn signer(&mut self, idx: usize) -> Option<SubjectPublicKeyInfoOwned> {
        if let Some(known) = self.signers.get(&idx) {
            return known.clone();
        }
        let found = self.find_signer(idx);
        self.signers.insert(idx, found.clone());
        found
    }

    fn find_signer(&mut self, idx: usize) -> Option<SubjectPublicKeyInfoOwned> {
        let crls = self.crls;
        let crl = crls.get(idx)?;
        let issuer_tbs = self.issuer.tbs_certificate();
        let issuer_key = issuer_tbs.subject_public_key_info();
        let mut issuer_key_tried = false;
        if names_equal(issuer_tbs.subject(), &crl.issuer) && crl_sign_allowed(self.issuer) {
            issuer_key_tried = true;
            match crl.verify(self.policy, issuer_key) {
                Ok(()) => return Some(issuer_key.clone()),
                Err(e) => self.note(format!(
                    "CRL from {:?} does not verify with the issuer's key: {e}",
                    crl.issuer.to_string()
                )),
            }
        }
        let issuers = self.issuers;
        let candidates = self
            .candidates
            .get_or_insert_with(|| issuers.candidates())
            .clone();
        for (ci, candidate) in candidates.into_iter().enumerate() {
            let tbs = candidate.tbs_certificate();
            let key = tbs.subject_public_key_info();
            if !names_equal(tbs.subject(), &crl.issuer)
                || (issuer_key_tried && key == issuer_key)
                || !crl_sign_allowed(candidate)
                || crl.verify(self.policy, key).is_err()
            {
                continue;
            }
            // The certificate being checked may itself be the CRL issuer (a cRLIssuer
            // certificate covered by the indirect CRL it signs, PKITS 4.14.30): its path is
            // the one being validated, so it is not validated again (that would not end).
            let valid = std::ptr::eq(candidate, self.cert)
                || candidate == self.cert
                || *self
                    .candidate_valid
                    .entry(ci)
                    .or_insert_with(|| issuers.valid_crl_issuer(candidate));
            if valid {
                return Some(key.clone());
            }
            self.note(format!(
                "the certificate with the key that signed the CRL from {:?} is not valid",
                crl.issuer.to_string()
            ));
        }
        None
    }

    /// Step (a): the newest usable delta CRL for `base` signed by `key`, if any.
    fn delta_for(
        &self,
        base: &ParsedCrl,
        key: &SubjectPublicKeyInfoOwned,
    ) -> Option<&'r ParsedCrl> {
        let crls = self.crls;
        let base_number = base.crl_number.as_deref()?;
        let mut best: Option<&'r ParsedCrl> = None;
        for &i in crls.delta_by_issuer.get(&base.issuer_key)? {
            let Some(delta) = crls.get(i) else { continue };
            let (Some(delta_base), Some(number)) =
                (delta.delta_base.as_deref(), delta.crl_number.as_deref())
            else {
                continue;
            };
            let usable = delta.problem.is_none()
                && delta.is_current(self.time)
                && names_equal(&delta.issuer, &base.issuer)
                && delta.idp_der == base.idp_der
                && base
                    .akid
                    .as_ref()
                    .is_none_or(|a| delta.akid.as_ref() == Some(a))
                && cmp_numbers(Some(delta_base), Some(base_number)) != CmpOrdering::Greater
                && cmp_numbers(Some(number), Some(base_number)) == CmpOrdering::Greater
                && best.is_none_or(|b| {
                    cmp_numbers(Some(number), b.crl_number.as_deref()) == CmpOrdering::Greater
                });
            if usable && delta.verify(self.policy, key).is_ok() {
                best = Some(delta);
            }
        }
        best
    }

    fn note(&mut self, note: String) {
        if self.notes.len() < MAX_NOTES && !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn explain(&self, mask: u16, dps: &[DistributionPoint]) -> String {
        let issuer = self.cert.tbs_certificate().issuer();
        let mut text = if mask == 0 {
            format!(
                "no valid, current CRL covers the certificate (issuer {:?})",
                issuer.to_string()
            )
        } else {
            format!(
                "the usable CRLs do not cover all revocation reasons (missing: {})",
                reason_flag_names(ALL_REASONS & !mask)
            )
        };
        if self.notes.is_empty() && mask == 0 {
            let mut sought: Vec<&Name> = Vec::new();
            for dp in dps {
                match &dp.crl_issuer {
                    Some(n) => sought.extend(n.iter().filter_map(directory_name)),
                    None => sought.push(issuer),
                }
            }
            let delta_only = sought
                .iter()
                .any(|n| self.crls.delta_by_issuer.contains_key(&name_key(n)));
            let mut listed: Vec<String> = sought
                .iter()
                .map(|n| format!("{:?}", n.to_string()))
                .collect();
            listed.dedup();
            if delta_only {
                text.push_str("; only a delta CRL without a matching complete CRL was supplied");
            } else {
                text.push_str(&format!(
                    "; no CRL from {} was supplied",
                    listed.join(" or ")
                ));
            }
        }
        for note in &self.notes {
            text.push_str("; ");
            text.push_str(note);
        }
        text
    }
}

/// True when `cert` may sign CRLs: keyUsage absent or with cRLSign.
fn crl_sign_allowed(cert: &Certificate) -> bool {
    match cert.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) => ku.crl_sign(),
        Ok(None) => true,
        Err(_) => false,
    }
}

fn directory_name(g: &GeneralName) -> Option<&Name> {
    match g {
        GeneralName::DirectoryName(n) => Some(n),
        _ => None,
    }
}

/// A distribution point name in comparable form.
enum NameForm<'a> {
    /// A name from a fullName.
    General(&'a GeneralName),
    /// nameRelativeToCRLIssuer appended to a base name.
    Relative(&'a Name, &'a RelativeDistinguishedName),
}

impl NameForm<'_> {
    /// The RDN sequence when this is a directory name.
    fn rdns(&self) -> Option<Vec<&RelativeDistinguishedName>> {
        match self {
            NameForm::General(GeneralName::DirectoryName(n)) => Some(n.iter_rdn().collect()),
            NameForm::General(_) => None,
            NameForm::Relative(base, rdn) => {
                Some(base.iter_rdn().chain(std::iter::once(*rdn)).collect())
            }
        }
    }
}

fn dp_forms<'a>(name: &'a DistributionPointName, base: &'a Name) -> Vec<NameForm<'a>> {
    match name {
        DistributionPointName::FullName(names) => names.iter().map(NameForm::General).collect(),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => vec![NameForm::Relative(base, rdn)],
    }
}

fn forms_match(a: &NameForm<'_>, b: &NameForm<'_>) -> bool {
    match (a.rdns(), b.rdns()) {
        (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| rdns_equal(p, q)),
        (None, None) => match (a, b) {
            (NameForm::General(x), NameForm::General(y)) => x == y,
            _ => false,
        },
        _ => false,
    }
}

fn rdns_equal(a: &RelativeDistinguishedName, b: &RelativeDistinguishedName) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter()
                .any(|y| x.oid == y.oid && values_match(&x.value, &y.value))
        })
}

/// A hash key equal for names that [`names_equal`] considers equal (string values folded,
/// attributes of an RDN sorted).
fn name_key(name: &Name) -> String {
    let mut key = String::new();
    for rdn in name.iter_rdn() {
        let mut attrs: Vec<String> = rdn
            .iter()
            .map(|atv| {
                let value = match string_value(&atv.value) {
                    Some(s) => format!("s{}", fold(&s)),
                    None => {
                        let mut v = format!("b{:?}:", atv.value.tag());
                        for b in atv.value.value() {
                            v.push_str(&format!("{b:02x}"));
                        }
                        v
                    }
                };
                format!("{}={}", atv.oid, value)
            })
            .collect();
        attrs.sort();
        key.push('/');
        key.push_str(&attrs.join("+"));
    }
    key
}

/// RFC 3339 text for Unix seconds (for messages).
fn show_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{t}"))
}

fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified".into(),
        1 => "keyCompromise".into(),
        2 => "cACompromise".into(),
        3 => "affiliationChanged".into(),
        4 => "superseded".into(),
        5 => "cessationOfOperation".into(),
        6 => "certificateHold".into(),
        8 => "removeFromCRL".into(),
        9 => "privilegeWithdrawn".into(),
        10 => "aACompromise".into(),
        n => format!("reason {n}"),
    }
}

fn reason_flag_names(bits: u16) -> String {
    const NAMES: [&str; 9] = [
        "unused",
        "keyCompromise",
        "cACompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
        "privilegeWithdrawn",
        "aACompromise",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1u16 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Strips redundant leading sign octets of a two's-complement INTEGER body.
fn normalize_integer(mut bytes: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        match rest.first() {
            Some(second)
                if (*first == 0 && *second < 0x80) || (*first == 0xff && *second >= 0x80) =>
            {
                bytes = rest;
            }
            _ => break,
        }
    }
    bytes
}

/// Compares non-negative INTEGER bodies (normalised); `None` sorts first.
fn cmp_numbers(a: Option<&[u8]>, b: Option<&[u8]>) -> CmpOrdering {
    match (a, b) {
        (Some(x), Some(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

// ---------------------------------------------------------------------------------------------
// One parsed CRL
// ---------------------------------------------------------------------------------------------

/// One revoked-certificate entry (no heap data: the serial stays in the CRL's DER).
#[derive(Clone, Copy)]
struct Entry {
    serial_start: u32,
    serial_len: u32,
    revoked_at: i64,
    /// Index into `ParsedCrl::cert_issuers`, or [`CRL_ISSUER`].
    cert_issuer: u32,
    /// Next entry with the same serial hash, or [`NO_NEXT`].
    next: u32,
    reason: u8,
}

/// Identity hasher for keys that are already hashes.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct ParsedCrl {
    der: Vec<u8>,
    tbs: (usize, usize),
    signature: (usize, usize),
    signature_algorithm: AlgorithmIdentifierOwned,
    issuer: Name,
    issuer_key: String,
    this_update: i64,
    next_update: Option<i64>,
    crl_number: Option<Vec<u8>>,
    /// BaseCRLNumber: present exactly for delta CRLs.
    delta_base: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    idp_der: Option<Vec<u8>>,
    akid: Option<Vec<u8>>,
    /// Why the CRL may not be used at all.
    problem: Option<String>,
    entries: Vec<Entry>,
    /// Serial hash → head of the entry chain.
    index: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    hasher: RandomState,
    /// Directory names of certificateIssuer entry extensions (indirect CRLs).
    cert_issuers: Vec<Vec<Name>>,
    /// Verification results by SHA-256(policy ‖ key).
    signature_cache: Mutex<HashMap<[u8; 32], Result<(), String>>>,
    verifications: AtomicUsize,
}

impl ParsedCrl {
    fn is_current(&self, time: i64) -> bool {
        self.this_update <= time && self.next_update.is_none_or(|n| n >= time)
    }

    fn bytes(&self, range: (usize, usize)) -> &[u8] {
        self.der.get(range.0..range.1).unwrap_or(&[])
    }

    /// The entry for `serial` issued by `cert_issuer` (RFC 5280 §5.3.3 attribution).
    fn find(&self, serial: &[u8], cert_issuer: &Name) -> Option<Hit> {
        let mut at = *self.index.get(&self.hasher.hash_one(serial))?;
        let mut direct_matches: Option<bool> = None;
        while let Some(entry) = self.entries.get(at as usize) {
            let start = entry.serial_start as usize;
            let end = start + entry.serial_len as usize;
            if self.der.get(start..end) == Some(serial) {
                let issuer_matches = if entry.cert_issuer == CRL_ISSUER {
                    *direct_matches.get_or_insert_with(|| names_equal(&self.issuer, cert_issuer))
                } else {
                    self.cert_issuers
                        .get(entry.cert_issuer as usize)
                        .is_some_and(|names| names.iter().any(|n| names_equal(n, cert_issuer)))
                };
                if issuer_matches {
                    return Some(Hit {
                        reason: entry.reason,
                        at: entry.revoked_at,
                    });
                }
            }
            at = entry.next;
        }
        None
    }

    /// Verifies the CRL signature with `key`, once per (policy, key).
    fn verify(
        &self,
        policy: &SignaturePolicy,
        key: &SubjectPublicKeyInfoOwned,
    ) -> Result<(), String> {
        let key_der = key
            .to_der()
            .map_err(|e| format!("key cannot be encoded: {e}"))?;
        let mut h = Sha256::new();
        h.update((policy.min_rsa_bits as u64).to_be_bytes());
        h.update(&key_der);
        let cache_key: [u8; 32] = h.finalize().into();
        let mut cache = match self.signature_cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(known) = cache.get(&cache_key) {
            return known.clone();
        }
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let result = signature::verify(
            policy,
            key,
            &self.signature_algorithm,
            self.bytes(self.tbs),
            self.bytes(self.signature),
        )
        .map_err(|e| e.to_string());
        if cache.len() < MAX_CACHED_KEYS {
            cache.insert(cache_key, result.clone());
        }
        result
    }

    fn parse(der: Vec<u8>) -> Result<ParsedCrl, String> {
        let parts = Parts::parse(&der)?;
        let Parts {
            tbs,
            signature,
            signature_algorithm,
            issuer,
            this_update,
            next_update,
            ext,
            entries,
            index,
            hasher,
            cert_issuers,
            mut problem,
        } = parts;
        if problem.is_none() {
            problem = ext.problem;
        }
        Ok(ParsedCrl {
            tbs,
            signature,
            signature_algorithm,
            issuer_key: name_key(&issuer),
            issuer,
            this_update,
            next_update,
            crl_number: ext.crl_number,
            delta_base: ext.delta_base,
            idp: ext.idp,
            idp_der: ext.idp_der,
            akid: ext.akid,
            problem,
            entries,
            index,
            hasher,
            cert_issuers,
            signature_cache: Mutex::new(HashMap::new()),
            verifications: AtomicUsize::new(0),
            der,
        })
    }
}

/// CRL-level extensions.
#[derive(Default)]
struct CrlExtensions {
    crl_number: Option<Vec<u8>>,
    delta_base: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    idp_der: Option<Vec<u8>>,
    akid: Option<Vec<u8>>,
    problem: Option<String>,
}

/// Everything parsed from the DER, before it is moved into a [`ParsedCrl`].
struct Parts {
    tbs: (usize, usize),
    signature: (usize, usize),
    signature_algorithm: AlgorithmIdentifierOwned,
    issuer: Name,
    this_update: i64,
    next_update: Option<i64>,
    ext: CrlExtensions,
    entries: Vec<Entry>,
    index: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    hasher: RandomState,
    cert_issuers: Vec<Vec<Name>>,
    problem: Option<String>,
}

impl Parts {
    fn parse(der: &[u8]) -> Result<Parts, String> {
        let mut top = Reader::new(der);
        let outer = top.expect(TAG_SEQUENCE, "CertificateList")?;
        top.finish("CertificateList")?;
        let mut list = top.inner(outer);
        let tbs = list.expect(TAG_SEQUENCE, "tbsCertList")?;
        let alg = list.expect(TAG_SEQUENCE, "signatureAlgorithm")?;
        let sig = list.expect(TAG_BIT_STRING, "signatureValue")?;
        list.finish("CertificateList")?;

        let signature_algorithm = AlgorithmIdentifierOwned::from_der(alg.all(der))
            .map_err(|e| format!("signatureAlgorithm: {e}"))?;
        let mut problem: Option<String> = None;
        match sig.body(der).first() {
            Some(0) => {}
            Some(_) => problem = Some("signatureValue is not a whole number of octets".into()),
            None => return Err("signatureValue: empty BIT STRING".into()),
        }
        let signature = (sig.body_start + 1, sig.end);

        let mut t = list.inner(tbs);
        let mut version_v2 = false;
        if t.peek_tag() == Some(TAG_INTEGER) {
            let v = t.expect(TAG_INTEGER, "version")?;
            if v.body(der) == [1] {
                version_v2 = true;
            } else {
                problem = Some("version is not v2".into());
            }
        }
        let inner_alg = t.expect(TAG_SEQUENCE, "signature")?;
        if inner_alg.all(der) != alg.all(der) {
            problem.get_or_insert_with(|| {
                "tbsCertList.signature differs from signatureAlgorithm".into()
            });
        }
        let issuer_tlv = t.expect(TAG_SEQUENCE, "issuer")?;
        let issuer = Name::from_der(issuer_tlv.all(der)).map_err(|e| format!("issuer: {e}"))?;
        let this_update = read_time(&mut t, der, "thisUpdate")?;
        let next_update = match t.peek_tag() {
            Some(TAG_UTC_TIME | TAG_GENERALIZED_TIME) => {
                Some(read_time(&mut t, der, "nextUpdate")?)
            }
            _ => None,
        };
        let revoked = if t.peek_tag() == Some(TAG_SEQUENCE) {
            Some(t.expect(TAG_SEQUENCE, "revokedCertificates")?)
        } else {
            None
        };
        let ext = if t.peek_tag() == Some(TAG_EXPLICIT_0) {
            let wrapper = t.expect(TAG_EXPLICIT_0, "crlExtensions")?;
            let mut w = t.inner(wrapper);
            let exts = w.expect(TAG_SEQUENCE, "crlExtensions")?;
            w.finish("crlExtensions")?;
            if !version_v2 {
                problem.get_or_insert_with(|| "extensions in a v1 CRL".into());
            }
            parse_crl_extensions(t.inner(exts), der)?
        } else {
            CrlExtensions::default()
        };
        t.finish("tbsCertList")?;

        let indirect = ext.idp.as_ref().is_some_and(|i| i.indirect_crl);
        let mut entries = Vec::new();
        let mut index: HashMap<u64, u32, BuildHasherDefault<PreHashed>> = HashMap::default();
        let hasher = RandomState::new();
        let mut cert_issuers = Vec::new();
        if let Some(revoked) = revoked {
            let mut list = t.inner(revoked);
            let mut current_issuer = CRL_ISSUER;
            while !list.is_empty() {
                let n = entries.len();
                let entry_tlv = list.expect(TAG_SEQUENCE, "revokedCertificates entry")?;
                let mut e = list.inner(entry_tlv);
                let serial_tlv = e.expect(TAG_INTEGER, "userCertificate")?;
                let serial = normalize_integer(serial_tlv.body(der));
                if serial.is_empty() {
                    return Err(format!("entry {n}: empty serial number"));
                }
                let serial_start = serial_tlv.end - serial.len();
                let revoked_at = read_time(&mut e, der, "revocationDate")?;
                let mut reason = NO_REASON;
                if !e.is_empty() {
                    let exts = e.expect(TAG_SEQUENCE, "crlEntryExtensions")?;
                    if !version_v2 {
                        problem.get_or_insert_with(|| "entry extensions in a v1 CRL".into());
                    }
                    let parsed = parse_entry_extensions(e.inner(exts), der)
                        .map_err(|m| format!("entry {n}: {m}"))?;
                    if let Some(r) = parsed.reason {
                        reason = r;
                    }
                    if let Some(names) = parsed.cert_issuer {
                        if !indirect {
                            problem.get_or_insert_with(|| {
                                "certificateIssuer entry extension in a CRL that is not indirect"
                                    .into()
                            });
                        }
                        current_issuer = u32::try_from(cert_issuers.len())
                            .map_err(|_| "too many certificateIssuer extensions".to_string())?;
                        cert_issuers.push(names);
                    }
                    if parsed.unknown_critical {
                        problem.get_or_insert_with(|| {
                            format!("entry {n} has an unknown critical extension")
                        });
                    }
                }
                e.finish("revokedCertificates entry")?;
                let slot = u32::try_from(n)
                    .ok()
                    .filter(|&s| s != NO_NEXT)
                    .ok_or("too many entries")?;
                let mut entry = Entry {
                    serial_start: u32::try_from(serial_start).map_err(|_| "CRL too large")?,
                    serial_len: u32::try_from(serial.len()).map_err(|_| "serial too long")?,
                    revoked_at,
                    cert_issuer: current_issuer,
                    next: NO_NEXT,
                    reason,
                };
                match index.entry(hasher.hash_one(serial)) {
                    MapEntry::Occupied(mut o) => {
                        entry.next = *o.get();
                        *o.get_mut() = slot;
                    }
                    MapEntry::Vacant(v) => {
                        v.insert(slot);
                    }
                }
                entries.push(entry);
            }
        }

        Ok(Parts {
            tbs: (tbs.start, tbs.end),
            signature,
            signature_algorithm,
            issuer,
            this_update,
            next_update,
            ext,
            entries,
            index,
            hasher,
            cert_issuers,
            problem,
        })
    }
}

fn read_time(r: &mut Reader<'_>, der: &[u8], what: &str) -> Result<i64, String> {
    let tlv = r.read().map_err(|e| format!("{what}: {e}"))?;
    if tlv.tag != TAG_UTC_TIME && tlv.tag != TAG_GENERALIZED_TIME {
        return Err(format!("{what}: not a time"));
    }
    let t = Time::from_der(tlv.all(der)).map_err(|e| format!("{what}: {e}"))?;
    Ok(UnixTime::of_x509(&t).0)
}

/// One `Extension`: (OID body, critical, extnValue body).
fn read_extension<'a>(
    r: &mut Reader<'a>,
    der: &'a [u8],
) -> Result<(&'a [u8], bool, &'a [u8]), String> {
    let ext = r.expect(TAG_SEQUENCE, "Extension")?;
    let mut x = r.inner(ext);
    let oid = x.expect(TAG_OID, "extnID")?;
    let mut critical = false;
    if x.peek_tag() == Some(TAG_BOOLEAN) {
        let b = x.expect(TAG_BOOLEAN, "critical")?;
        critical = match b.body(der) {
            [0] => false,
            [0xff] => true,
            _ => return Err("critical: not a DER BOOLEAN".into()),
        };
    }
    let value = x.expect(TAG_OCTET_STRING, "extnValue")?;
    x.finish("Extension")?;
    Ok((oid.body(der), critical, value.body(der)))
}

fn parse_crl_extensions<'a>(mut r: Reader<'a>, der: &'a [u8]) -> Result<CrlExtensions, String> {
    let mut out = CrlExtensions::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut unknown_critical = None;
    while !r.is_empty() {
        let (oid, critical, value) = read_extension(&mut r, der)?;
        if seen.contains(&oid) {
            return Err("duplicate CRL extension".into());
        }
        seen.push(oid);
        if oid == ids::ID_CE_CRL_NUMBER.as_bytes() {
            out.crl_number = Some(non_negative_integer(value, "cRLNumber")?);
            if critical {
                out.problem.get_or_insert_with(|| {
                    "cRLNumber must not be critical (RFC 5280 §5.2.3)".into()
                });
            }
        } else if oid == ids::ID_CE_DELTA_CRL_INDICATOR.as_bytes() {
            out.delta_base = Some(non_negative_integer(value, "deltaCRLIndicator")?);
        } else if oid == ids::ID_CE_ISSUING_DISTRIBUTION_POINT.as_bytes() {
            let idp = IssuingDistributionPoint::from_der(value)
                .map_err(|e| format!("issuingDistributionPoint: {e}"))?;
            out.idp = Some(idp);
            out.idp_der = Some(value.to_vec());
        } else if oid == ids::ID_CE_AUTHORITY_KEY_IDENTIFIER.as_bytes() {
            out.akid = Some(value.to_vec());
        } else if oid == ids::ID_CE_FRESHEST_CRL.as_bytes()
            || oid == ids::ID_CE_ISSUER_ALT_NAME.as_bytes()
            || oid == ids::ID_PE_AUTHORITY_INFO_ACCESS.as_bytes()
        {
            // Known; nothing to do for status determination.
        } else if critical && unknown_critical.is_none() {
            unknown_critical = Some(
                der::asn1::ObjectIdentifier::from_bytes(oid)
                    .map_or_else(|_| "?".to_string(), |o| o.to_string()),
            );
        }
    }
    if let Some(oid) = unknown_critical {
        out.problem = Some(format!("unknown critical CRL extension {oid}"));
    }
    if out.crl_number.is_none() && !seen.is_empty() {
        // v2 CRLs (those with extensions) must carry cRLNumber (RFC 5280 §5.2.3).
        out.problem
            .get_or_insert_with(|| "cRLNumber missing".into());
    }
    if let Some(idp) = &out.idp {
        let only = [
            idp.only_contains_user_certs,
            idp.only_contains_ca_certs,
            idp.only_contains_attribute_certs,
        ];
        if only.iter().filter(|b| **b).count() > 1 {
            out.problem.get_or_insert_with(|| {
                "issuingDistributionPoint sets several onlyContains flags".into()
            });
        }
    }
    Ok(out)
}

struct EntryExtensions {
    reason: Option<u8>,
    cert_issuer: Option<Vec<Name>>,
    unknown_critical: bool,
}

fn parse_entry_extensions<'a>(mut r: Reader<'a>, der: &'a [u8]) -> Result<EntryExtensions, String> {
    let mut out = EntryExtensions {
        reason: None,
        cert_issuer: None,
        unknown_critical: false,
    };
    let mut seen = 0u8;
    while !r.is_empty() {
        let (oid, critical, value) = read_extension(&mut r, der)?;
        let bit = if oid == ids::ID_CE_CRL_REASONS.as_bytes() {
            let mut v = Reader::new(value);
            let e = v.expect(TAG_ENUMERATED, "reasonCode")?;
            v.finish("reasonCode")?;
            out.reason = match e.body(value) {
                [code] if *code < 0x80 && *code != NO_REASON => Some(*code),
                _ => return Err("reasonCode: not a known CRLReason".into()),
            };
            1
        } else if oid == ids::ID_CE_CERTIFICATE_ISSUER.as_bytes() {
            let names =
                GeneralNames::from_der(value).map_err(|e| format!("certificateIssuer: {e}"))?;
            out.cert_issuer = Some(names.iter().filter_map(directory_name).cloned().collect());
            2
        } else if oid == ids::ID_CE_INVALIDITY_DATE.as_bytes() {
            4
        } else if oid == ids::ID_CE_HOLD_INSTRUCTION_CODE.as_bytes() {
            8
        } else {
            out.unknown_critical |= critical;
            0
        };
        if seen & bit != 0 {
            return Err("duplicate entry extension".into());
        }
        seen |= bit;
    }
    Ok(out)
}

/// The normalised body of a DER INTEGER that must not be negative.
fn non_negative_integer(value: &[u8], what: &str) -> Result<Vec<u8>, String> {
    let mut r = Reader::new(value);
    let i = r.expect(TAG_INTEGER, what)?;
    r.finish(what)?;
    let body = normalize_integer(i.body(value));
    match body.first() {
        None => Err(format!("{what}: empty INTEGER")),
        Some(b) if *b >= 0x80 => Err(format!("{what}: negative")),
        Some(_) => {
            let trimmed = match body {
                [0, rest @ ..] if !rest.is_empty() => rest,
                _ => body,
            };
            Ok(trimmed.to_vec())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal DER walker with absolute positions
// ---------------------------------------------------------------------------------------------

/// One TLV: absolute positions in the buffer.
#[derive(Clone, Copy)]
struct Tlv {
    tag: u8,
    start: usize,
    body_start: usize,
    end: usize,
}

impl Tlv {
    fn all<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start..self.end).unwrap_or(&[])
    }
    fn body<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.body_start..self.end).unwrap_or(&[])
    }
}

/// Reads consecutive TLVs in `buf[pos..end]` (strict DER lengths, low tag numbers).
#[derive(Clone, Copy)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// A reader over the body of `tlv` (which must come from the same buffer).
    fn inner(&self, tlv: Tlv) -> Reader<'a> {
        Reader {
            buf: self.buf,
            pos: tlv.body_start,
            end: tlv.end,
        }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    fn peek_tag(&self) -> Option<u8> {
        if self.is_empty() {
            None
        } else {
            self.buf.get(self.pos).copied()
        }
    }

    fn byte(&self, at: usize) -> Result<u8, String> {
        if at >= self.end {
            return Err("truncated".into());
        }
        self.buf.get(at).copied().ok_or_else(|| "truncated".into())
    }

    fn read(&mut self) -> Result<Tlv, String> {
        let start = self.pos;
        let tag = self.byte(start)?;
        if tag & 0x1f == 0x1f {
            return Err("high-number tags are not supported".into());
        }
        let first = self.byte(start + 1)?;
        let (len, header) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 {
                return Err("indefinite length (BER) where DER is required".into());
            }
            if n > 4 {
                return Err("length too large".into());
            }
            let mut len = 0usize;
            for k in 0..n {
                len = (len << 8) | usize::from(self.byte(start + 2 + k)?);
            }
            if len < 0x80 || len >> (8 * (n - 1)) == 0 {
                return Err("non-minimal length encoding".into());
            }
            (len, 2 + n)
        };
        let body_start = start + header;
        let end = body_start
            .checked_add(len)
            .filter(|&e| e <= self.end)
            .ok_or("truncated")?;
        self.pos = end;
        Ok(Tlv {
            tag,
            start,
            body_start,
            end,
        })
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv, String> {
        let tlv = self.read().map_err(|e| format!("{what}: {e}"))?;
        if tlv.tag != tag {
            return Err(format!("{what}: unexpected tag 0x{:02x}", tlv.tag));
        }
        Ok(tlv)
    }

    fn finish(&self, what: &str) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: trailing data"))
        }
    }
}

/// Formats a CRL issuer name only when a note is actually written (hot path stays cheap).
struct Who<'a>(&'a Name);

impl std::fmt::Debug for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use const_oid::ObjectIdentifier;
    use std::path::PathBuf;
    use std::str::FromStr;

    /// 2024-06-01T00:00:00Z.
    const NOW: UnixTime = UnixTime(1_717_200_000);
    /// PKITS validation time 2011-04-15T00:00:00Z.
    const PKITS_TIME: UnixTime = UnixTime(1_302_825_600);
    /// SEQUENCE { ecdsa-with-SHA256 }.
    const ECDSA_SHA256: &[u8] = &[
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ];

    // ---- DER builders -----------------------------------------------------------------------

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = body.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = (n as u32).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(body);
        out
    }

    fn seq(parts: &[&[u8]]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    fn utc(s: &str) -> Vec<u8> {
        tlv(0x17, s.as_bytes())
    }

    fn name(s: &str) -> Vec<u8> {
        Name::from_str(s).expect("name").to_der().expect("name DER")
    }

    fn ext(oid: &ObjectIdentifier, critical: bool, value: &[u8]) -> Vec<u8> {
        let mut body = tlv(0x06, oid.as_bytes());
        if critical {
            body.extend_from_slice(&[0x01, 0x01, 0xff]);
        }
        body.extend_from_slice(&tlv(0x04, value));
        tlv(0x30, &body)
    }

    fn reason(code: u8) -> Vec<u8> {
        ext(&ids::ID_CE_CRL_REASONS, false, &tlv(0x0a, &[code]))
    }

    fn crl_number(n: u8) -> Vec<u8> {
        ext(&ids::ID_CE_CRL_NUMBER, false, &tlv(0x02, &[n]))
    }

    fn entry(serial: &[u8], date: &str, exts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = tlv(0x02, serial);
        body.extend_from_slice(&utc(date));
        if !exts.is_empty() {
            body.extend_from_slice(&tlv(0x30, &exts.concat()));
        }
        tlv(0x30, &body)
    }

    fn spki_of(key: &EcdsaKeyPair) -> Vec<u8> {
        let alg = seq(&[
            &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        ]);
        let mut bits = vec![0u8];
        bits.extend_from_slice(key.public_key().as_ref());
        seq(&[&alg, &tlv(0x03, &bits)])
    }

    /// `SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING signature }`.
    fn sign_with(key: &EcdsaKeyPair, tbs: &[u8]) -> Vec<u8> {
        let sig = key.sign(&SystemRandom::new(), tbs).expect("sign");
        let mut bits = vec![0u8];
        bits.extend_from_slice(sig.as_ref());
        seq(&[tbs, ECDSA_SHA256, &tlv(0x03, &bits)])
    }

    /// A certificate for `subject` signed by `key` (its own key is `key` too: only the
    /// issuer's key matters to the revocation checker).
    fn issue_with(
        key: &EcdsaKeyPair,
        subject_key: &EcdsaKeyPair,
        issuer: &str,
        subject: &str,
        serial: &[u8],
        exts: &[Vec<u8>],
    ) -> Certificate {
        let mut tbs = vec![0xa0, 0x03, 0x02, 0x01, 0x02];
        tbs.extend_from_slice(&tlv(0x02, serial));
        tbs.extend_from_slice(ECDSA_SHA256);
        tbs.extend_from_slice(&name(issuer));
        tbs.extend_from_slice(&seq(&[&utc("200101000000Z"), &utc("400101000000Z")]));
        tbs.extend_from_slice(&name(subject));
        tbs.extend_from_slice(&spki_of(subject_key));
        if !exts.is_empty() {
            tbs.extend_from_slice(&tlv(0xa3, &tlv(0x30, &exts.concat())));
        }
        let der = sign_with(key, &tlv(0x30, &tbs));
        Certificate::from_der(&der).expect("test certificate")
    }

    /// A test CA with a real P-256 key (certificates and CRLs it makes are really signed).
    struct Ca {
        key: EcdsaKeyPair,
        name: String,
        cert: Certificate,
    }

    impl Ca {
        fn new(subject: &str) -> Ca {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("keygen");
            let cert = issue_with(&key, &key, subject, subject, &[1], &[]);
            Ca {
                key,
                name: subject.to_string(),
                cert,
            }
        }

        fn issue(&self, subject: &str, serial: &[u8], exts: &[Vec<u8>]) -> Certificate {
            issue_with(&self.key, &self.key, &self.name, subject, serial, exts)
        }

        fn crl(
            &self,
            this: &str,
            next: Option<&str>,
            entries: &[Vec<u8>],
            exts: &[Vec<u8>],
        ) -> Vec<u8> {
            let mut tbs = vec![0x02, 0x01, 0x01];
            tbs.extend_from_slice(ECDSA_SHA256);
            tbs.extend_from_slice(&name(&self.name));
            tbs.extend_from_slice(&utc(this));
            if let Some(n) = next {
                tbs.extend_from_slice(&utc(n));
            }
            if !entries.is_empty() {
                tbs.extend_from_slice(&tlv(0x30, &entries.concat()));
            }
            if !exts.is_empty() {
                tbs.extend_from_slice(&tlv(0xa0, &tlv(0x30, &exts.concat())));
            }
            sign_with(&self.key, &tlv(0x30, &tbs))
        }
    }

    struct NoIssuers;

    impl CrlIssuerCheck for NoIssuers {
        fn valid_crl_issuer(&self, _: &Certificate) -> bool {
            false
        }
        fn candidates(&self) -> Vec<&Certificate> {
            Vec::new()
        }
    }

    fn status(ca: &Ca, cert: &Certificate, crls: &CrlSet, at: UnixTime) -> Status {
        let subject = Subject {
            cert,
            issuer: &ca.cert,
        };
        check(&subject, crls, at, &SignaturePolicy::default(), &NoIssuers)
    }

    fn serial_of(i: u32) -> Vec<u8> {
        (0x0100_0000 + i).to_be_bytes().to_vec()
    }

    #[test]
    fn crl_set_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CrlSet>();
    }

    #[test]
    fn large_crl_is_indexed_and_its_signature_verified_once() {
        let ca = Ca::new("CN=Big CA,O=Test");
        let entries: Vec<Vec<u8>> = (0..20_000u32)
            .map(|i| entry(&serial_of(i), "240101000000Z", &[reason(1)]))
            .collect();
        let der = ca.crl(
            "240501000000Z",
            Some("240701000000Z"),
            &entries,
            &[crl_number(7)],
        );
        assert!(der.len() > 500_000, "{}", der.len());
        let set = CrlSet::parse(std::slice::from_ref(&der)).expect("parse");
        assert_eq!(set.len(), 1);
        assert_eq!(set.signature_verifications(), 0, "verification is lazy");

        let revoked = ca.issue("CN=Revoked", &serial_of(12_345), &[]);
        let good = ca.issue("CN=Good", &serial_of(20_001), &[]);
        for round in 0..1_000 {
            let cert = if round % 2 == 0 { &revoked } else { &good };
            let got = status(&ca, cert, &set, NOW);
            if round % 2 == 0 {
                assert_eq!(
                    got,
                    Status::Revoked {
                        reason: Some("keyCompromise".into()),
                        revoked_at: UnixTime(1_704_067_200),
                    }
                );
            } else {
                assert_eq!(got, Status::Good);
            }
        }
        assert_eq!(
            set.signature_verifications(),
            1,
            "one verification for 1000 checks"
        );

        // A derived set shares the parsed CRL and its cache; an identical CRL is not re-added.
        let more = set.extended(&[der]).expect("extend");
        assert_eq!(more.len(), 1);
        assert_eq!(status(&ca, &good, &more, NOW), Status::Good);
        assert_eq!(more.signature_verifications(), 1);
    }

    #[test]
    fn malformed_crl_is_an_error_naming_its_index() {
        let ca = Ca::new("CN=CA");
        let good = ca.crl("240101000000Z", None, &[], &[]);
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 3);
        for bad in [
            vec![0x30, 0x03, 0x02],
            truncated,
            vec![0x31, 0x00],
            Vec::new(),
        ] {
            let e = CrlSet::parse(&[good.clone(), bad]).expect_err("malformed");
            assert_eq!(e.code, Code::MalformedCrl);
            assert!(e.detail.starts_with("CRL 1:"), "{}", e.detail);
        }
        let mut trailing = good.clone();
        trailing.push(0);
        let e = CrlSet::parse(&[trailing]).expect_err("trailing data");
        assert!(e.detail.starts_with("CRL 0:"), "{}", e.detail);
    }

    #[test]
    fn unusable_crls_give_unknown() {
        let ca = Ca::new("CN=CA,O=Test");
        let other = Ca::new("CN=CA,O=Test");
        let cert = ca.issue("CN=EE", &[0x42], &[]);
        let unknown_critical = ext(
            &ObjectIdentifier::new_unwrap("1.2.3.4"),
            true,
            &[0x05, 0x00],
        );
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "not current",
                ca.crl("240101000000Z", Some("240201000000Z"), &[], &[]),
            ),
            ("not current", ca.crl("240701000000Z", None, &[], &[])),
            (
                "unknown critical CRL extension",
                ca.crl(
                    "240101000000Z",
                    None,
                    &[],
                    std::slice::from_ref(&unknown_critical),
                ),
            ),
            (
                "unknown critical extension",
                ca.crl(
                    "240101000000Z",
                    None,
                    &[entry(&[0x07], "240101000000Z", &[unknown_critical])],
                    &[],
                ),
            ),
            (
                "does not verify",
                other.crl("240101000000Z", None, &[], &[]),
            ),
        ];
        for (why, der) in cases {
            let set = CrlSet::parse(&[der]).expect("parse");
            match status(&ca, &cert, &set, NOW) {
                Status::Unknown(text) => assert!(text.contains(why), "{why}: {text}"),
                s => panic!("{why}: {s:?}"),
            }
        }
        match status(&ca, &cert, &CrlSet::empty(), NOW) {
            Status::Unknown(text) => assert!(
                text.contains("no CRL from \"CN=CA,O=Test\" was supplied"),
                "{text}"
            ),
            s => panic!("{s:?}"),
        }
        // Non-critical unknown extensions are fine; an unrelated issuer's CRL is ignored.
        let fine = ca.crl(
            "240101000000Z",
            Some("250101000000Z"),
            &[],
            &[
                ext(
                    &ObjectIdentifier::new_unwrap("1.2.3.4"),
                    false,
                    &[0x05, 0x00],
                ),
                ext(
                    &ObjectIdentifier::new_unwrap("2.5.29.20"),
                    false,
                    &[0x02, 0x01, 0x01],
                ),
            ],
        );
        let unrelated = Ca::new("CN=Other CA").crl(
            "240101000000Z",
            None,
            &[entry(&[0x42], "240101000000Z", &[])],
            &[],
        );
        let set = CrlSet::parse(&[unrelated, fine]).expect("parse");
        assert_eq!(status(&ca, &cert, &set, NOW), Status::Good);
    }

    #[test]
    fn hold_released_by_delta_and_delta_alone_is_unknown() {
        let ca = Ca::new("CN=Delta CA");
        let cert = ca.issue("CN=EE", &[0x10], &[]);
        let freshest = ext(
            &ids::ID_CE_FRESHEST_CRL,
            false,
            &seq(&[&seq(&[&tlv(
                0xa0,
                &tlv(0xa0, &tlv(0xa4, &name("CN=Delta CA"))),
            )])]),
        );
        let base = ca.crl(
            "240101000000Z",
            Some("250101000000Z"),
            &[entry(&[0x10], "231201000000Z", &[reason(6)])],
            &[crl_number(5), freshest],
        );
        let delta = |base_number: u8, number: u8, code: u8| {
            ca.crl(
                "240501000000Z",
                Some("250101000000Z"),
                &[entry(&[0x10], "240401000000Z", &[reason(code)])],
                &[
                    crl_number(number),
                    ext(
                        &ids::ID_CE_DELTA_CRL_INDICATOR,
                        true,
                        &tlv(0x02, &[base_number]),
                    ),
                ],
            )
        };
        let hold = Status::Revoked {
            reason: Some("certificateHold".into()),
            revoked_at: UnixTime(1_701_388_800),
        };
        let only_base = CrlSet::parse(&[base]).expect("parse");
        assert_eq!(status(&ca, &cert, &only_base, NOW), hold);
        let released = only_base
            .extended(&[delta(5, 6, REMOVE_FROM_CRL)])
            .expect("parse");
        assert_eq!(status(&ca, &cert, &released, NOW), Status::Good);
        let compromised = only_base.extended(&[delta(4, 6, 1)]).expect("parse");
        assert!(matches!(
            status(&ca, &cert, &compromised, NOW),
            Status::Revoked { reason: Some(r), .. } if r == "keyCompromise"
        ));
        // BaseCRLNumber above the complete CRL's number: the delta does not apply.
        let mismatched = only_base
            .extended(&[delta(6, 7, REMOVE_FROM_CRL)])
            .expect("parse");
        assert_eq!(status(&ca, &cert, &mismatched, NOW), hold);
        // A delta CRL alone determines nothing.
        let alone = CrlSet::parse(&[delta(5, 6, 1)]).expect("parse");
        match status(&ca, &cert, &alone, NOW) {
            Status::Unknown(text) => assert!(text.contains("only a delta CRL"), "{text}"),
            s => panic!("{s:?}"),
        }
    }

    /// Offers fixed candidates and answers `valid_crl_issuer` with a fixed value.
    struct FixedIssuers(Vec<Certificate>, bool);

    impl CrlIssuerCheck for FixedIssuers {
        fn valid_crl_issuer(&self, _: &Certificate) -> bool {
            self.1
        }
        fn candidates(&self) -> Vec<&Certificate> {
            self.0.iter().collect()
        }
    }

    #[test]
    fn crl_signed_by_another_key_needs_a_valid_crl_issuer_with_crl_sign() {
        let ca = Ca::new("CN=Rollover CA");
        let new_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("keygen");
        let crl_sign = ext(&ids::ID_CE_KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x02]);
        let sign_only = ext(&ids::ID_CE_KEY_USAGE, true, &[0x03, 0x02, 0x07, 0x80]);
        let signer =
            |exts: &[Vec<u8>]| issue_with(&ca.key, &new_key, &ca.name, &ca.name, &[9], exts);
        let good_signer = signer(std::slice::from_ref(&crl_sign));
        let ee = ca.issue("CN=EE", &[0x33], &[]);
        let revoked = ca.issue("CN=Revoked", &[0x34], &[]);
        // The CRL is signed with the new key, not the key that issued the EE.
        let mut tbs = vec![0x02, 0x01, 0x01];
        tbs.extend_from_slice(ECDSA_SHA256);
        tbs.extend_from_slice(&name(&ca.name));
        tbs.extend_from_slice(&utc("240101000000Z"));
        tbs.extend_from_slice(&tlv(0x30, &entry(&[0x34], "240101000000Z", &[])));
        let crls = CrlSet::parse(&[sign_with(&new_key, &tlv(0x30, &tbs))]).expect("parse");
        let run = |cert: &Certificate, issuers: &FixedIssuers| {
            let subject = Subject {
                cert,
                issuer: &ca.cert,
            };
            check(&subject, &crls, NOW, &SignaturePolicy::default(), issuers)
        };
        let accepted = FixedIssuers(vec![ca.cert.clone(), good_signer.clone()], true);
        assert_eq!(run(&ee, &accepted), Status::Good);
        assert!(matches!(
            run(&revoked, &accepted),
            Status::Revoked { reason: None, .. }
        ));
        let rejected = FixedIssuers(vec![good_signer], false);
        assert!(matches!(run(&ee, &rejected), Status::Unknown(t) if t.contains("is not valid")));
        let without_crl_sign = FixedIssuers(vec![signer(&[sign_only])], true);
        assert!(matches!(run(&ee, &without_crl_sign), Status::Unknown(_)));
        assert!(matches!(
            run(&ee, &FixedIssuers(Vec::new(), true)),
            Status::Unknown(_)
        ));
    }

    #[test]
    fn the_newest_usable_crl_decides() {
        let ca = Ca::new("CN=CA");
        let cert = ca.issue("CN=EE", &[0x21], &[]);
        let on_hold = ca.crl(
            "240101000000Z",
            Some("250101000000Z"),
            &[entry(&[0x21], "231201000000Z", &[reason(6)])],
            &[crl_number(1)],
        );
        let released = ca.crl(
            "240301000000Z",
            Some("250101000000Z"),
            &[],
            &[crl_number(2)],
        );
        let set = CrlSet::parse(&[on_hold.clone(), released.clone()]).expect("parse");
        assert_eq!(status(&ca, &cert, &set, NOW), Status::Good);
        let set = CrlSet::parse(&[released, on_hold]).expect("parse");
        assert_eq!(status(&ca, &cert, &set, NOW), Status::Good);
        // Before the newer CRL was issued, the older one decides.
        assert!(matches!(
            status(&ca, &cert, &set, UnixTime(1_706_745_600)),
            Status::Revoked { reason: Some(r), .. } if r == "certificateHold"
        ));
    }

    #[test]
    fn certificate_issuer_entries_need_an_indirect_crl() {
        let ca = Ca::new("CN=CA");
        let cert = ca.issue("CN=EE", &[0x05], &[]);
        let cert_issuer = ext(
            &ids::ID_CE_CERTIFICATE_ISSUER,
            true,
            &seq(&[&tlv(0xa4, &name("CN=Other"))]),
        );
        let crl = ca.crl(
            "240101000000Z",
            None,
            &[entry(&[0x05], "240101000000Z", &[cert_issuer])],
            &[],
        );
        let set = CrlSet::parse(&[crl]).expect("parse");
        assert!(matches!(
            status(&ca, &cert, &set, NOW),
            Status::Unknown(t) if t.contains("not indirect")
        ));
    }

    #[test]
    fn integers_are_normalised() {
        assert_eq!(normalize_integer(&[0x00, 0x00, 0x7f]), &[0x7f]);
        assert_eq!(normalize_integer(&[0x00, 0x80]), &[0x00, 0x80]);
        assert_eq!(normalize_integer(&[0xff, 0xff, 0x80]), &[0x80]);
        assert_eq!(normalize_integer(&[0xff, 0x7f]), &[0xff, 0x7f]);
        assert_eq!(normalize_integer(&[0x00]), &[0x00]);
        assert_eq!(normalize_integer(&[]), &[] as &[u8]);
        assert_eq!(
            non_negative_integer(&[0x02, 0x02, 0x00, 0x80], "n").as_deref(),
            Ok(&[0x80][..])
        );
        assert!(non_negative_integer(&[0x02, 0x01, 0x80], "n").is_err());
        assert_eq!(
            cmp_numbers(Some(&[0x01, 0x00]), Some(&[0xff])),
            CmpOrdering::Greater
        );
    }

    // ---- NIST PKITS ---------------------------------------------------------------------------

    fn pkits_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("TOKENCONFIRM_PKITS_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/pkits"),
            PathBuf::from,
        );
        dir.join("pkits_expected.json").is_file().then_some(dir)
    }

    fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
        let Ok(tbs) = cert.tbs_certificate().to_der() else {
            return false;
        };
        signature::verify(
            &SignaturePolicy::default(),
            issuer.tbs_certificate().subject_public_key_info(),
            cert.signature_algorithm(),
            &tbs,
            cert.signature().raw_bytes(),
        )
        .is_ok()
    }

    /// Test stand-in for the path validator: a CRL issuer candidate is valid when a
    /// certificate of the path (or the anchor) issued it and it is itself not revoked.
    struct PkitsIssuers<'a> {
        pool: Vec<&'a Certificate>,
        chain: &'a [&'a Certificate],
        crls: &'a CrlSet,
        depth: usize,
    }

    impl CrlIssuerCheck for PkitsIssuers<'_> {
        fn valid_crl_issuer(&self, candidate: &Certificate) -> bool {
            if self.chain.first().is_some_and(|ta| *ta == candidate) {
                return true;
            }
            if self.depth >= 3 {
                return false;
            }
            self.chain.iter().any(|issuer| {
                names_equal(
                    issuer.tbs_certificate().subject(),
                    candidate.tbs_certificate().issuer(),
                ) && *issuer != candidate
                    && signed_by(candidate, issuer)
                    && {
                        let nested = PkitsIssuers {
                            pool: self.pool.clone(),
                            chain: self.chain,
                            crls: self.crls,
                            depth: self.depth + 1,
                        };
                        let subject = Subject {
                            cert: candidate,
                            issuer,
                        };
                        check(
                            &subject,
                            self.crls,
                            PKITS_TIME,
                            &SignaturePolicy::default(),
                            &nested,
                        ) == Status::Good
                    }
            })
        }

        fn candidates(&self) -> Vec<&Certificate> {
            self.pool.clone()
        }
    }

    fn case_names(case: &serde_json::Value, key: &str) -> Vec<String> {
        case[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks every non-anchor certificate of the EE's chain: `Ok(None)` all good,
    /// `Ok(Some(why))` a status other than Good, `Err` harness problem (no chain).
    fn run_pkits_case(
        dir: &std::path::Path,
        case: &serde_json::Value,
    ) -> Result<Option<String>, String> {
        let ta_name = case["trust_anchor"]
            .as_str()
            .ok_or("trust_anchor")?
            .to_string();
        let ee_name = case["end_entity"].as_str().ok_or("end_entity")?.to_string();
        let mut names = vec![ta_name.clone()];
        for n in case_names(case, "intermediates")
            .into_iter()
            .chain(case_names(case, "certs"))
        {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        if !names.contains(&ee_name) {
            names.push(ee_name.clone());
        }
        let mut certs = Vec::new();
        for n in &names {
            let der = std::fs::read(dir.join("certs").join(format!("{n}.crt")))
                .map_err(|e| format!("{n}: {e}"))?;
            certs.push((
                n.clone(),
                Certificate::from_der(&der).map_err(|e| format!("{n}: {e}"))?,
            ));
        }
        let mut ders = Vec::new();
        for n in case_names(case, "crls") {
            ders.push(
                std::fs::read(dir.join("crls").join(format!("{n}.crl")))
                    .map_err(|e| format!("{n}: {e}"))?,
            );
        }
        let crls = CrlSet::parse(&ders).map_err(|e| e.to_string())?;

        // Build the chain EE → … → anchor by name and signature.
        let index_of = |n: &str| names.iter().position(|x| x == n);
        let ta = index_of(&ta_name).ok_or("anchor")?;
        let mut chain_rev = vec![index_of(&ee_name).ok_or("ee")?];
        while chain_rev.last() != Some(&ta) {
            if chain_rev.len() > 8 {
                return Err("chain too long".into());
            }
            let cur = &certs[*chain_rev.last().ok_or("chain")?].1;
            let next = (0..certs.len())
                .filter(|i| !chain_rev.contains(i))
                .filter(|&i| {
                    names_equal(
                        certs[i].1.tbs_certificate().subject(),
                        cur.tbs_certificate().issuer(),
                    )
                })
                .filter(|&i| signed_by(cur, &certs[i].1))
                .min_by_key(|&i| i != ta)
                .ok_or_else(|| format!("no issuer for {}", cur.tbs_certificate().subject()))?;
            chain_rev.push(next);
        }
        let chain: Vec<&Certificate> = chain_rev.iter().rev().map(|&i| &certs[i].1).collect();
        let chain_names: Vec<&str> = chain_rev
            .iter()
            .rev()
            .map(|&i| certs[i].0.as_str())
            .collect();
        let issuers = PkitsIssuers {
            pool: certs.iter().map(|(_, c)| c).collect(),
            chain: &chain,
            crls: &crls,
            depth: 0,
        };
        for k in 1..chain.len() {
            let subject = Subject {
                cert: chain[k],
                issuer: chain[k - 1],
            };
            match check(
                &subject,
                &crls,
                PKITS_TIME,
                &SignaturePolicy::default(),
                &issuers,
            ) {
                Status::Good => {}
                other => return Ok(Some(format!("{}: {other:?}", chain_names[k]))),
            }
        }
        Ok(None)
    }

    fn pkits_cases(dir: &std::path::Path) -> Vec<serde_json::Value> {
        let text =
            std::fs::read_to_string(dir.join("pkits_expected.json")).expect("pkits_expected.json");
        let json: serde_json::Value = serde_json::from_str(&text).expect("json");
        json["testcases"].as_array().cloned().unwrap_or_default()
    }

    /// Cases whose FAILURE is not about revocation (the harness does not validate paths).
    const PKITS_NOT_REVOCATION: &[(&str, &str)] = &[(
        "4.5.8",
        "the EE is issued by a CRL-signing certificate without keyCertSign (path validation)",
    )];

    #[test]
    fn pkits_revocation_sections() {
        let Some(dir) = pkits_dir() else {
            eprintln!("PKITS data not found; set TOKENCONFIRM_PKITS_DIR");
            return;
        };
        let sections = ["4.4", "4.5", "4.14", "4.15"];
        let mut tally: Vec<(usize, usize)> = vec![(0, 0); sections.len()];
        let mut disagreements = Vec::new();
        for case in pkits_cases(&dir) {
            let section = case["section"].as_str().unwrap_or_default();
            let Some(s) = sections.iter().position(|x| *x == section) else {
                continue;
            };
            let id = case["id"].as_str().unwrap_or_default().to_string();
            let expected_success = case["expected_result"] == "SUCCESS";
            let outcome = run_pkits_case(&dir, &case);
            let agrees = match &outcome {
                Ok(None) => expected_success,
                Ok(Some(_)) => !expected_success,
                Err(_) => false,
            };
            if std::env::var_os("TOKENCONFIRM_PKITS_VERBOSE").is_some() {
                eprintln!("{id} expected {}: {outcome:?}", case["expected_result"]);
            }
            tally[s].1 += 1;
            if agrees {
                tally[s].0 += 1;
            } else {
                disagreements.push((
                    id,
                    case["expected_result"].to_string(),
                    format!("{outcome:?}"),
                ));
            }
        }
        for (s, (ok, total)) in sections.iter().zip(&tally) {
            eprintln!("PKITS {s}: {ok}/{total} agree");
        }
        for d in &disagreements {
            eprintln!("disagreement {d:?}");
        }
        let unexpected: Vec<_> = disagreements
            .iter()
            .filter(|(id, ..)| !PKITS_NOT_REVOCATION.iter().any(|(k, _)| k == id))
            .collect();
        assert!(unexpected.is_empty(), "{unexpected:#?}");
        assert_eq!(tally.iter().map(|t| t.1).sum::<usize>(), 21 + 8 + 35 + 10);
    }

    #[test]
    fn pkits_success_cases_everywhere_are_not_revoked() {
        let Some(dir) = pkits_dir() else {
            eprintln!("PKITS data not found; set TOKENCONFIRM_PKITS_DIR");
            return;
        };
        let (mut checked, mut no_chain) = (0, 0);
        for case in pkits_cases(&dir) {
            if case["expected_result"] != "SUCCESS" {
                continue;
            }
            match run_pkits_case(&dir, &case) {
                Ok(None) => checked += 1,
                Ok(Some(why)) => panic!("{}: {why}", case["id"]),
                Err(_) => no_chain += 1,
            }
        }
        eprintln!("PKITS SUCCESS cases: {checked} all Good, {no_chain} without a buildable chain (e.g. DSA)");
        assert!(checked >= 100, "{checked}");
    }
}
