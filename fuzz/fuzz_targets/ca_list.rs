//! The accredited-CA list (XML from the Минцифры portal, or any file the operator points at):
//! `tsl::parse` and, on success, `active_certificates`. Nothing may panic; the report's counts
//! agree with the list, and error positions are 1-based and inside the document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenconfirm_verify::tsl::{self, TslError};

fuzz_target!(|data: &[u8]| {
    match tsl::parse(data) {
        Ok(list) => {
            let (certs, report) = list.active_certificates();
            assert_eq!(report.cas_total, list.cas.len());
            assert!(report.cas_active <= report.cas_total);
            assert_eq!(report.certificates_loaded, certs.len());
        }
        Err(e) => {
            let _ = e.code();
            let _ = e.to_string();
            // Any line-break convention counts: CR, LF and CRLF each start at most one line.
            let max_line = 1 + data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
            let line = match e {
                TslError::Xml { line, column, .. } => {
                    assert!(column >= 1, "column {column} is not 1-based");
                    line
                }
                TslError::Structure { line, .. } | TslError::Base64 { line, .. } => line,
                TslError::Io(_) => return,
            };
            assert!(
                (1..=max_line).contains(&line),
                "error line {line} outside the document (at most {max_line} lines)"
            );
        }
    }
});
