//! Arithmetic modulo a GOST field prime p < 2^(64·L) in Montgomery form (R = 2^(64·L)),
//! on plain `[u64; L]` limbs (least significant first): CIOS multiplication with u128
//! intermediates. Variable time: it only ever handles public values (verification).

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::Uint;

/// An element in Montgomery form.
pub type Fe<const L: usize> = [u64; L];

/// The field GF(p).
pub struct Field<const L: usize> {
    p: [u64; L],
    /// −p⁻¹ mod 2^64.
    n0: u64,
    /// R² mod p.
    r2: [u64; L],
    /// R mod p (one in Montgomery form).
    one: [u64; L],
    params: FixedMontyParams<L>,
}

fn limbs<const L: usize>(x: &Uint<L>) -> [u64; L] {
    let mut out = [0u64; L];
    for (o, w) in out.iter_mut().zip(x.as_words()) {
        *o = *w;
    }
    out
}

fn from_limbs<const L: usize>(x: &[u64; L]) -> Uint<L> {
    Uint::from_words(*x)
}

/// a ≥ b for little-endian limbs.
fn geq<const L: usize>(a: &[u64; L], b: &[u64; L]) -> bool {
    for i in (0..L).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

/// a − b, returning the borrow.
fn sub_in_place<const L: usize>(a: &mut [u64; L], b: &[u64; L]) -> bool {
    let mut borrow = false;
    for i in 0..L {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        a[i] = d;
        borrow = b1 || b2;
    }
    borrow
}

/// a + b, returning the carry.
fn add_in_place<const L: usize>(a: &mut [u64; L], b: &[u64; L]) -> bool {
    let mut carry = false;
    for i in 0..L {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(carry as u64);
        a[i] = s;
        carry = c1 || c2;
    }
    carry
}

impl<const L: usize> Field<L> {
    /// GF(p) for the odd prime `p`.
    pub fn new(params: FixedMontyParams<L>) -> Field<L> {
        let p = limbs(params.modulus().as_ref());
        // Newton iteration for p⁻¹ mod 2^64, then negate.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
        }
        Field {
            p,
            n0: inv.wrapping_neg(),
            r2: limbs(params.r2()),
            one: limbs(params.one()),
            params,
        }
    }

    /// Montgomery product a·b·R⁻¹ mod p (CIOS).
    pub fn mul(&self, a: &Fe<L>, b: &Fe<L>) -> Fe<L> {
        // t has L + 2 limbs; L ≤ 8 here, so a fixed 10-limb buffer suffices.
        let mut t = [0u64; 10];
        for &bi in b.iter() {
            let mut carry: u64 = 0;
            for j in 0..L {
                let v = t[j] as u128 + (a[j] as u128) * (bi as u128) + carry as u128;
                t[j] = v as u64;
                carry = (v >> 64) as u64;
            }
            let v = t[L] as u128 + carry as u128;
            t[L] = v as u64;
            t[L + 1] = (v >> 64) as u64;
            let m = t[0].wrapping_mul(self.n0);
            let v = t[0] as u128 + (m as u128) * (self.p[0] as u128);
            let mut carry = (v >> 64) as u64;
            for j in 1..L {
                let v = t[j] as u128 + (m as u128) * (self.p[j] as u128) + carry as u128;
                t[j - 1] = v as u64;
                carry = (v >> 64) as u64;
            }
            let v = t[L] as u128 + carry as u128;
            t[L - 1] = v as u64;
            t[L] = t[L + 1] + ((v >> 64) as u64);
        }
        let mut out = [0u64; L];
        out.copy_from_slice(&t[..L]);
        if t[L] != 0 || geq(&out, &self.p) {
            sub_in_place(&mut out, &self.p);
        }
        out
    }

    /// a².
    pub fn square(&self, a: &Fe<L>) -> Fe<L> {
        self.mul(a, a)
    }

    /// a + b.
    pub fn add(&self, a: &Fe<L>, b: &Fe<L>) -> Fe<L> {
        let mut out = *a;
        let carry = add_in_place(&mut out, b);
        if carry || geq(&out, &self.p) {
            sub_in_place(&mut out, &self.p);
        }
        out
    }

    /// a − b.
    pub fn sub(&self, a: &Fe<L>, b: &Fe<L>) -> Fe<L> {
        let mut out = *a;
        if sub_in_place(&mut out, b) {
            add_in_place(&mut out, &self.p);
        }
        out
    }

    /// 2a.
    pub fn double(&self, a: &Fe<L>) -> Fe<L> {
        self.add(a, a)
    }

    /// Whether a is zero.
    pub fn is_zero(&self, a: &Fe<L>) -> bool {
        a.iter().all(|&w| w == 0)
    }

    /// One.
    pub fn one(&self) -> Fe<L> {
        self.one
    }

    /// Zero.
    pub fn zero(&self) -> Fe<L> {
        [0u64; L]
    }

    /// x (an integer below p) into Montgomery form.
    pub fn encode(&self, x: &Uint<L>) -> Fe<L> {
        self.mul(&limbs(x), &self.r2)
    }

    /// Back to an integer.
    pub fn decode(&self, a: &Fe<L>) -> Uint<L> {
        let mut one = [0u64; L];
        one[0] = 1;
        from_limbs(&self.mul(a, &one))
    }

    /// a⁻¹ (None for zero). Same R as crypto-bigint's Montgomery form, so the representation is
    /// shared.
    pub fn invert(&self, a: &Fe<L>) -> Option<Fe<L>> {
        let m = FixedMontyForm::from_montgomery(from_limbs(a), &self.params);
        let inv = m.invert_vartime().into_option()?;
        Some(limbs(inv.as_montgomery()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::{Odd, U256};

    #[test]
    fn agrees_with_crypto_bigint() {
        let p = Odd::new(U256::from_be_hex(
            "8000000000000000000000000000000000000000000000000000000000000431",
        ))
        .into_option()
        .unwrap();
        let params = FixedMontyParams::new_vartime(p);
        let f = Field::new(params);
        let x =
            U256::from_be_hex("7f2b49e270db6d90d8595bec458b50c58585ba1d4e9b788f6689dbd8e56fd80b");
        let y =
            U256::from_be_hex("26f1b489d6701dd185c8413a977b3cbbaf64d1c593d26627dffb101a87ff77da");
        let (a, b) = (f.encode(&x), f.encode(&y));
        let cx = FixedMontyForm::new(&x, &params);
        let cy = FixedMontyForm::new(&y, &params);
        assert_eq!(f.decode(&f.mul(&a, &b)), (cx * cy).retrieve());
        assert_eq!(f.decode(&f.add(&a, &b)), (cx + cy).retrieve());
        assert_eq!(f.decode(&f.sub(&b, &a)), (cy - cx).retrieve());
        assert_eq!(f.decode(&f.mul(&f.invert(&a).unwrap(), &a)), U256::ONE);
        assert_eq!(f.decode(&f.one()), U256::ONE);
    }
}
