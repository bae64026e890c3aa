//! Benchmark of the accredited-CA list parser on a synthetic list of realistic size:
//! 2 500 CAs × 4 certificates = 10 000 certificates of 1 300 DER bytes each, base64 with line
//! breaks every 76 characters, with the ignored elements of the real file (addresses, key
//! identifiers, issuer/subject, status history). Target: parse + selection ≤ 1 s.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokenconfirm_verify::tsl::{self, testdata};

fn bench_tsl(c: &mut Criterion) {
    let spec = testdata::Spec {
        cas: 2_500,
        certs_per_ca: 4,
        cert_len: 1_300,
        seed: 0x5EED,
    };
    let generated = testdata::synthetic(&spec);
    let xml = generated.xml.as_bytes();
    println!(
        "synthetic list: {} CAs, {} certificates ({} of active CAs), {:.1} MB ({} bytes)",
        spec.cas,
        generated.certificates_total,
        generated.certificates_active,
        xml.len() as f64 / 1e6,
        xml.len()
    );
    // Sanity check outside the measurement.
    match tsl::parse(xml) {
        Ok(list) => {
            let (certs, report) = list.active_certificates();
            assert_eq!(certs.len(), generated.certificates_active, "{report:?}");
        }
        Err(e) => panic!("synthetic list must parse: {e}"),
    }

    let mut group = c.benchmark_group("tsl");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("parse+active_certificates/10000_certs", |b| {
        b.iter(|| {
            let list = tsl::parse(black_box(xml)).map_err(|e| e.to_string());
            let loaded = list.map(|list| {
                let (certs, report) = list.active_certificates();
                (certs.len(), report.skipped.len())
            });
            black_box(loaded)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_tsl);
criterion_main!(benches);
