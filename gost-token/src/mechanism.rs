//! The mechanisms, key types and object identifiers the token uses. The TC26 vendor-defined
//! values (base `0xD4321000`) are not in `cryptoki-sys`.

use cryptoki_sys::{
    CKF_SIGN, CKK_GOSTR3410, CKM_GOSTR3410, CK_KEY_TYPE, CK_MECHANISM_INFO, CK_MECHANISM_TYPE,
    CK_ULONG,
};
use tokenconfirm_gost::Size;

/// TC26 vendor-defined base (`NSSCK_VENDOR_PKCS11_RU_TEAM`).
pub const TC26_VENDOR_BASE: CK_ULONG = 0xD432_1000;

/// `CKK_GOSTR3410_512`: GOST R 34.10-2012 512-bit key type.
pub const CKK_GOSTR3410_512: CK_KEY_TYPE = TC26_VENDOR_BASE + 0x003;
/// `CKM_GOSTR3410_512`: raw GOST R 34.10-2012 512-bit signature over a 64-byte digest.
pub const CKM_GOSTR3410_512: CK_MECHANISM_TYPE = TC26_VENDOR_BASE + 0x006;
/// `CKM_GOSTR3410_WITH_GOSTR3411_12_256`: Streebog-256 inside the token, then GOST 256.
pub const CKM_GOSTR3410_WITH_GOSTR3411_12_256: CK_MECHANISM_TYPE = TC26_VENDOR_BASE + 0x008;
/// `CKM_GOSTR3410_WITH_GOSTR3411_12_512`: Streebog-512 inside the token, then GOST 512.
pub const CKM_GOSTR3410_WITH_GOSTR3411_12_512: CK_MECHANISM_TYPE = TC26_VENDOR_BASE + 0x009;

/// DER of the Streebog-256 OID 1.2.643.7.1.1.2.2 (`CKA_GOSTR3411_PARAMS` of 256-bit keys).
pub const STREEBOG_256_OID_DER: &[u8] =
    &[0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02];
/// DER of the Streebog-512 OID 1.2.643.7.1.1.2.3 (`CKA_GOSTR3411_PARAMS` of 512-bit keys).
pub const STREEBOG_512_OID_DER: &[u8] =
    &[0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x03];

/// A signature mechanism the token implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `CKM_GOSTR3410` (0x1201): input is a 32-byte Streebog-256 digest as the hash emits it.
    Raw256,
    /// `CKM_GOSTR3410_512`: input is a 64-byte Streebog-512 digest as the hash emits it.
    Raw512,
    /// `CKM_GOSTR3410_WITH_GOSTR3411_12_256`: the token hashes the message with Streebog-256.
    Hash256,
    /// `CKM_GOSTR3410_WITH_GOSTR3411_12_512`: the token hashes the message with Streebog-512.
    Hash512,
}

/// Every mechanism, in the order `C_GetMechanismList` reports them.
pub const ALL: [Mechanism; 4] = [
    Mechanism::Raw256,
    Mechanism::Raw512,
    Mechanism::Hash256,
    Mechanism::Hash512,
];

impl Mechanism {
    /// The mechanism a PKCS#11 type names, if the token implements it.
    pub fn from_type(t: CK_MECHANISM_TYPE) -> Option<Mechanism> {
        ALL.into_iter().find(|m| m.mechanism_type() == t)
    }

    /// The mechanism its PKCS#11 name names (`CKM_GOSTR3410`, …), as the config file lists it.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        ALL.into_iter().find(|m| m.name() == name)
    }

    /// The PKCS#11 name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Raw256 => "CKM_GOSTR3410",
            Mechanism::Raw512 => "CKM_GOSTR3410_512",
            Mechanism::Hash256 => "CKM_GOSTR3410_WITH_GOSTR3411_12_256",
            Mechanism::Hash512 => "CKM_GOSTR3410_WITH_GOSTR3411_12_512",
        }
    }

    /// The PKCS#11 mechanism type.
    pub fn mechanism_type(self) -> CK_MECHANISM_TYPE {
        match self {
            Mechanism::Raw256 => CKM_GOSTR3410,
            Mechanism::Raw512 => CKM_GOSTR3410_512,
            Mechanism::Hash256 => CKM_GOSTR3410_WITH_GOSTR3411_12_256,
            Mechanism::Hash512 => CKM_GOSTR3410_WITH_GOSTR3411_12_512,
        }
    }

    /// The key size this mechanism signs with.
    pub fn size(self) -> Size {
        match self {
            Mechanism::Raw256 | Mechanism::Hash256 => Size::Bits256,
            Mechanism::Raw512 | Mechanism::Hash512 => Size::Bits512,
        }
    }

    /// Whether the token hashes the input (otherwise the input is the digest).
    pub fn hashes(self) -> bool {
        matches!(self, Mechanism::Hash256 | Mechanism::Hash512)
    }

    /// `C_GetMechanismInfo`: key size in bits (min = max), `CKF_SIGN` only.
    pub fn info(self) -> CK_MECHANISM_INFO {
        let bits = size_bytes(self.size()) as CK_ULONG * 8;
        CK_MECHANISM_INFO {
            ulMinKeySize: bits,
            ulMaxKeySize: bits,
            flags: CKF_SIGN,
        }
    }
}

/// 32 or 64.
pub fn size_bytes(size: Size) -> usize {
    match size {
        Size::Bits256 => 32,
        Size::Bits512 => 64,
    }
}

/// `CKA_KEY_TYPE` of a key of this size.
pub fn key_type(size: Size) -> CK_KEY_TYPE {
    match size {
        Size::Bits256 => CKK_GOSTR3410,
        Size::Bits512 => CKK_GOSTR3410_512,
    }
}

/// `CKA_GOSTR3411_PARAMS` of a key of this size: the DER of its Streebog OID.
pub fn digest_oid_der(size: Size) -> &'static [u8] {
    match size {
        Size::Bits256 => STREEBOG_256_OID_DER,
        Size::Bits512 => STREEBOG_512_OID_DER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::ObjectIdentifier;
    use der::Encode;

    #[test]
    fn constants_match_the_design_notes() {
        assert_eq!(CKK_GOSTR3410_512, 0xD432_1003);
        assert_eq!(CKM_GOSTR3410_512, 0xD432_1006);
        assert_eq!(CKM_GOSTR3410_WITH_GOSTR3411_12_256, 0xD432_1008);
        assert_eq!(CKM_GOSTR3410_WITH_GOSTR3411_12_512, 0xD432_1009);
        assert_eq!(CKM_GOSTR3410, 0x1201);
        assert_eq!(CKK_GOSTR3410, 0x30);
        let d256 = ObjectIdentifier::new_unwrap("1.2.643.7.1.1.2.2")
            .to_der()
            .unwrap();
        let d512 = ObjectIdentifier::new_unwrap("1.2.643.7.1.1.2.3")
            .to_der()
            .unwrap();
        assert_eq!(d256, STREEBOG_256_OID_DER);
        assert_eq!(d512, STREEBOG_512_OID_DER);
        for m in ALL {
            assert_eq!(Mechanism::from_type(m.mechanism_type()), Some(m));
        }
        assert_eq!(Mechanism::from_type(0x1202), None);
    }
}
