//! Prometheus metrics, rendered in the text exposition format. Series are named
//! `tokenconfirm_*`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the verification latency histogram, seconds.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// All counters of one process.
#[derive(Default)]
pub struct Metrics {
    confirmations: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts a confirmation or registration submission by kind and outcome (`ok` or a code).
    pub fn submission(&self, kind: &'static str, outcome: &'static str) {
        if let Ok(mut m) = self.confirmations.lock() {
            *m.entry((kind, outcome)).or_default() += 1;
        }
    }

    /// Records how long a verification took.
    pub fn verification(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts an HTTP response by route template and status.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_owned(), status)).or_default() += 1;
        }
    }

    /// The exposition text; `outstanding` is the current number of live challenges.
    pub fn render(&self, outstanding: Option<i64>) -> String {
        let mut out = String::new();
        out.push_str("# HELP tokenconfirm_confirmations_total Confirmation and registration submissions by outcome.\n# TYPE tokenconfirm_confirmations_total counter\n");
        if let Ok(m) = self.confirmations.lock() {
            for ((kind, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "tokenconfirm_confirmations_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP tokenconfirm_verification_seconds Time to verify an envelope (signature, chain, revocation, profile).\n# TYPE tokenconfirm_verification_seconds histogram\n");
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "tokenconfirm_verification_seconds_bucket{{le=\"{bound}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "tokenconfirm_verification_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "tokenconfirm_verification_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "tokenconfirm_verification_seconds_count {count}");
        if let Some(n) = outstanding {
            out.push_str("# HELP tokenconfirm_challenges_outstanding Challenges issued, neither consumed nor expired.\n# TYPE tokenconfirm_challenges_outstanding gauge\n");
            let _ = writeln!(out, "tokenconfirm_challenges_outstanding {n}");
        }
        out.push_str("# HELP tokenconfirm_http_requests_total HTTP responses by route and status.\n# TYPE tokenconfirm_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "tokenconfirm_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series() {
        let m = Metrics::default();
        m.submission("confirmation", "ok");
        m.submission("confirmation", "ok");
        m.submission("confirmation", "challenge-consumed");
        m.verification(Duration::from_micros(300));
        m.verification(Duration::from_millis(30));
        m.request("/api/v1/confirmations", 200);
        let text = m.render(Some(3));
        assert!(text
            .contains("tokenconfirm_confirmations_total{kind=\"confirmation\",outcome=\"ok\"} 2"));
        assert!(text.contains("tokenconfirm_verification_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("tokenconfirm_verification_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("tokenconfirm_verification_seconds_count 2"));
        assert!(text.contains("tokenconfirm_challenges_outstanding 3"));
        assert!(text.contains("route=\"/api/v1/confirmations\",status=\"200\"} 1"));
    }
}
