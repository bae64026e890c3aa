//! Private-key encodings and signature byte order, checked against OpenSSL 3 with Debian's gost
//! engine itself.

mod common;

use common::*;
use der::asn1::{OctetStringRef, UintRef};
use der::{Decode, Encode};
use std::path::Path;
use tokenconfirm_gost::{streebog, verify_digest, Size};
use tokenconfirm_gost_token::key::{parse_private_key, KeyEncoding};

/// X‖Y (little-endian, `n` bytes each) from `openssl pkey -text` ("X:HEX" / "Y:HEX", big-endian
/// without leading zeros).
fn openssl_public_le(dir: &Path, key_file: &str, n: usize) -> Vec<u8> {
    let text = String::from_utf8(
        openssl(
            dir,
            &[
                "pkey", "-engine", "gost", "-in", key_file, "-text", "-noout",
            ],
        )
        .stdout,
    )
    .unwrap();
    let coordinate = |label: &str| {
        let hex = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        let hex = if hex.len() % 2 == 1 {
            format!("0{hex}")
        } else {
            hex.to_owned()
        };
        let be: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let mut le: Vec<u8> = be.into_iter().rev().collect();
        le.resize(n, 0);
        le
    };
    let mut out = coordinate("X:");
    out.extend(coordinate("Y:"));
    out
}

/// A PKCS#8 DER like `original` but with the privateKey OCTET STRING content `value`.
fn with_private_value(original: &[u8], value: &[u8]) -> Vec<u8> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(original).unwrap();
    pkcs8::PrivateKeyInfoRef::new(info.algorithm, <&OctetStringRef>::try_from(value).unwrap())
        .to_der()
        .unwrap()
}

fn write_pem(dir: &Path, name: &str, der: &[u8]) {
    let pem = pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, der).unwrap();
    std::fs::write(dir.join(name), pem).unwrap();
}

#[test]
fn every_private_key_encoding_gost_engine_reads_decodes_to_the_key_openssl_sees() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, alg, set, n) in [
        ("k256", "gost2012_256", "TCA", 32),
        ("k512", "gost2012_512", "C", 64),
    ] {
        // 1. gost-engine 3's default: the raw little-endian key.
        self_signed(d, name, alg, set, &[]);
        let default = std::fs::read(d.join(format!("{name}.key"))).unwrap();
        let key = parse_private_key(&default).unwrap();
        assert_eq!(key.encoding, KeyEncoding::RawLittleEndian);
        let expected = openssl_public_le(d, &format!("{name}.key"), n);
        assert_eq!(key.key.public_key_le().unwrap(), expected);
        // …which is the certificate's key.
        let cert = tokenconfirm_gost_token::key::parse_certificate(
            &std::fs::read(d.join(format!("{name}.pem"))).unwrap(),
        )
        .unwrap();
        assert_eq!(cert.public_le, expected);

        // 2. GOST_PK_FORMAT=LEGACY_PK_WRAP: an OCTET STRING.
        openssl_env(
            d,
            &[
                "pkey",
                "-engine",
                "gost",
                "-in",
                &format!("{name}.key"),
                "-out",
                &format!("{name}-wrap.key"),
            ],
            &[("GOST_PK_FORMAT", "LEGACY_PK_WRAP")],
        );
        let wrapped =
            parse_private_key(&std::fs::read(d.join(format!("{name}-wrap.key"))).unwrap()).unwrap();
        assert_eq!(wrapped.encoding, KeyEncoding::OctetString);
        assert_eq!(wrapped.key.public_key_le().unwrap(), expected);

        // 3. INTEGER (big-endian), 4. masked raw, 5. masked SEQUENCE: built here, and OpenSSL
        // must read each as the same key as this crate does.
        let der = pem_rfc7468::decode_vec(&default).unwrap().1;
        let raw_le = pkcs8::PrivateKeyInfoRef::from_der(&der)
            .unwrap()
            .private_key
            .as_bytes()
            .to_vec();
        let be: Vec<u8> = raw_le.iter().rev().copied().collect();
        let first = be.iter().position(|b| *b != 0).unwrap_or(be.len() - 1);
        let integer = UintRef::new(&be[first..]).unwrap().to_der().unwrap();
        write_pem(
            d,
            &format!("{name}-int.key"),
            &with_private_value(&der, &integer),
        );

        let mut masked = vec![0u8; 3 * n];
        getrandom::fill(&mut masked).unwrap();
        masked[n - 1] &= 0x3f;
        write_pem(
            d,
            &format!("{name}-masked.key"),
            &with_private_value(&der, &masked),
        );

        let seq_content = [
            <&OctetStringRef>::try_from(&masked[..])
                .unwrap()
                .to_der()
                .unwrap(),
            <&OctetStringRef>::try_from(&expected[..])
                .unwrap()
                .to_der()
                .unwrap(),
        ]
        .concat();
        let mut seq = vec![0x30];
        der::Length::try_from(seq_content.len())
            .unwrap()
            .encode_to_vec(&mut seq)
            .unwrap();
        seq.extend(seq_content);
        write_pem(
            d,
            &format!("{name}-seq.key"),
            &with_private_value(&der, &seq),
        );

        for (file, encoding) in [
            ("int", KeyEncoding::Integer),
            ("masked", KeyEncoding::Masked(2)),
            ("seq", KeyEncoding::MaskedSequence),
        ] {
            let file = format!("{name}-{file}.key");
            let parsed = parse_private_key(&std::fs::read(d.join(&file)).unwrap()).unwrap();
            assert_eq!(parsed.encoding, encoding, "{file}");
            assert_eq!(
                parsed.key.public_key_le().unwrap(),
                openssl_public_le(d, &file, n),
                "{file}: OpenSSL and this crate read different keys"
            );
        }
        assert_eq!(
            parse_private_key(&std::fs::read(d.join(format!("{name}-int.key"))).unwrap())
                .unwrap()
                .key
                .public_key_le()
                .unwrap(),
            expected
        );
    }
}

/// Finding (documented in the README): OpenSSL's gost engine takes the digest as Streebog
/// emits it (`openssl dgst -binary`) and writes the raw signature (`pkeyutl -sign`,
/// `dgst -sign`) as s‖r big-endian — the PKCS#11 / CMS layout. No byte reversal is needed in
/// either direction.
#[test]
fn openssl_raw_gost_signatures_are_s_then_r_big_endian_over_the_digest_as_emitted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("msg"), b"byte order").unwrap();
    for (name, alg, set, md, size) in [
        (
            "o256",
            "gost2012_256",
            "TCB",
            "-md_gost12_256",
            Size::Bits256,
        ),
        ("o512", "gost2012_512", "A", "-md_gost12_512", Size::Bits512),
    ] {
        self_signed(d, name, alg, set, &[]);
        let digest = openssl(d, &["dgst", "-engine", "gost", md, "-binary", "msg"]).stdout;
        assert_eq!(digest, streebog(size, b"byte order"));
        std::fs::write(d.join("digest"), &digest).unwrap();
        openssl(
            d,
            &[
                "pkeyutl",
                "-engine",
                "gost",
                "-sign",
                "-inkey",
                &format!("{name}.key"),
                "-in",
                "digest",
                "-out",
                "sig",
            ],
        );
        let signature = std::fs::read(d.join("sig")).unwrap();
        let n = bytes(size);
        assert_eq!(signature.len(), 2 * n);
        let cert = tokenconfirm_gost_token::key::parse_certificate(
            &std::fs::read(d.join(format!("{name}.pem"))).unwrap(),
        )
        .unwrap();
        verify_digest(cert.param_set, &cert.public_le, &digest, &signature)
            .expect("OpenSSL's raw signature is s‖r big-endian over the emitted digest");
        let swapped = [&signature[n..], &signature[..n]].concat();
        assert!(verify_digest(cert.param_set, &cert.public_le, &digest, &swapped).is_err());
        let reversed_digest: Vec<u8> = digest.iter().rev().copied().collect();
        assert!(verify_digest(
            cert.param_set,
            &cert.public_le,
            &reversed_digest,
            &signature
        )
        .is_err());

        // `dgst -sign` (hash inside OpenSSL) writes the same layout.
        openssl(
            d,
            &[
                "dgst",
                "-engine",
                "gost",
                md,
                "-sign",
                &format!("{name}.key"),
                "-out",
                "sig2",
                "msg",
            ],
        );
        let signature = std::fs::read(d.join("sig2")).unwrap();
        verify_digest(cert.param_set, &cert.public_le, &digest, &signature).unwrap();
    }
}
