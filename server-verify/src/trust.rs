//! Trust stores: PEM/DER files and directories, and the Минцифры accredited-CA list.

use crate::error::{Code, Result, VerifyError};
use crate::path::Cert;
use crate::tsl;
use std::path::Path;

/// Where an anchor came from and, for accredited CAs, its registry data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorInfo {
    /// File path or `accredited-ca-list`.
    pub source: String,
    /// Accredited CA name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_name: Option<String>,
    /// Registry number (реестровый номер).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_number: Option<String>,
    /// Accreditation status as written in the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Trust anchors with provenance.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    /// The anchors.
    pub anchors: Vec<Cert>,
    /// Parallel to `anchors`.
    pub info: Vec<AnchorInfo>,
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, cert: Cert, info: AnchorInfo) {
        if !self
            .anchors
            .iter()
            .any(|a| a.fingerprint == cert.fingerprint)
        {
            self.anchors.push(cert);
            self.info.push(info);
        }
    }

    /// Adds the certificates of a file (PEM bundle, DER, base64) or of every file in a
    /// directory (not recursive). Returns how many were added.
    pub fn add_path(&mut self, path: &Path) -> Result<usize> {
        let before = self.anchors.len();
        for (source, cert) in load_certificates(path)? {
            self.push(
                cert,
                AnchorInfo {
                    source,
                    ca_name: None,
                    registry_number: None,
                    status: None,
                },
            );
        }
        Ok(self.anchors.len() - before)
    }

    /// Adds the certificates of active CAs from the accredited-CA list XML; CAs that are
    /// terminated or annulled and unparsable certificates are skipped and reported.
    pub fn add_ca_list(&mut self, xml: &[u8]) -> Result<tsl::LoadReport> {
        let list =
            tsl::parse(xml).map_err(|e| VerifyError::new(Code::MalformedCaList, e.to_string()))?;
        let (active, mut report) = list.active_certificates();
        let mut loaded = 0;
        for (ca, c) in active {
            match Cert::from_der(c.der.clone()) {
                Ok(cert) => {
                    loaded += 1;
                    self.push(
                        cert,
                        AnchorInfo {
                            source: "accredited-ca-list".into(),
                            ca_name: Some(ca.name.clone()),
                            registry_number: Some(ca.registry_number.clone()),
                            status: Some(ca.status.as_str().to_owned()),
                        },
                    );
                }
                Err(e) => report.skipped.push(tsl::Skipped {
                    registry_number: ca.registry_number.clone(),
                    name: ca.name.clone(),
                    reason: format!("certificate {}: {}", c.thumbprint, e.detail),
                }),
            }
        }
        report.certificates_loaded = loaded;
        Ok(report)
    }

    /// The info of the anchor with this fingerprint.
    pub fn info_for(&self, cert: &Cert) -> Option<&AnchorInfo> {
        self.anchors
            .iter()
            .position(|a| a.fingerprint == cert.fingerprint)
            .and_then(|i| self.info.get(i))
    }
}

/// The file itself, or the regular files of a directory (not recursive), sorted.
fn files_in(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    let io = |e: std::io::Error| VerifyError::new(Code::Io, format!("{}: {e}", path.display()));
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|e| VerifyError::new(Code::Io, format!("{}: {e}", file.display())))
}

/// Reads certificates from a file or the files of a directory: (source, certificate).
pub fn load_certificates(path: &Path) -> Result<Vec<(String, Cert)>> {
    let mut out = Vec::new();
    for file in files_in(path)? {
        let at =
            |e: VerifyError| VerifyError::new(e.code, format!("{}: {}", file.display(), e.detail));
        for der in crate::input::certificates(&read(&file)?).map_err(at)? {
            out.push((file.display().to_string(), Cert::from_der(der).map_err(at)?));
        }
    }
    Ok(out)
}

/// Reads CRLs (DER or PEM bundles) from a file or the files of a directory.
pub fn load_crls(path: &Path) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for file in files_in(path)? {
        let crls = crate::input::crls(&read(&file)?).map_err(|e| {
            VerifyError::new(
                Code::MalformedCrl,
                format!("{}: {}", file.display(), e.detail),
            )
        })?;
        out.extend(crls);
    }
    Ok(out)
}
