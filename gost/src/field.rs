//! Arithmetic modulo a GOST field prime p < 2^(64·L) on plain `[u64; L]` limbs (least
//! significant first), u128 intermediates. Primes of the form 2^(64·L) − c with a small c
//! (TC26 256-A/B, 512-A/C) reduce by folding (elements in plain form); the others use
//! Montgomery form (R = 2^(64·L), SOS reduction). Squaring computes each cross product once.
//! Variable time: it only ever handles public values (verification).

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::Uint;

/// An element in Montgomery form.
pub type Fe<const L: usize> = [u64; L];

/// How products are reduced.
enum Reduction<const L: usize> {
    /// p = 2^(64·L) − c: elements are plain residues.
    PseudoMersenne { c: u64 },
    /// Montgomery form.
    Montgomery {
        /// −p⁻¹ mod 2^64.
        n0: u64,
        /// R² mod p.
        r2: [u64; L],
    },
}

/// The field GF(p).
pub struct Field<const L: usize> {
    p: [u64; L],
    reduction: Reduction<L>,
    /// One in this field's representation.
    one: [u64; L],
    params: FixedMontyParams<L>,
}

/// A double-width product (L ≤ 8).
type Wide = [u64; 16];

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
        let pseudo = p[1..].iter().all(|&w| w == u64::MAX) && p[0] > u64::MAX - (1 << 32);
        let (reduction, one) = if pseudo {
            let mut one = [0u64; L];
            one[0] = 1;
            (
                Reduction::PseudoMersenne {
                    c: p[0].wrapping_neg(),
                },
                one,
            )
        } else {
            // Newton iteration for p⁻¹ mod 2^64, then negate.
            let mut inv: u64 = 1;
            for _ in 0..6 {
                inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
            }
            (
                Reduction::Montgomery {
                    n0: inv.wrapping_neg(),
                    r2: limbs(params.r2()),
                },
                limbs(params.one()),
            )
        };
        Field {
            p,
            reduction,
            one,
            params,
        }
    }

    fn product(a: &Fe<L>, b: &Fe<L>) -> Wide {
        let mut t = [0u64; 16];
        for i in 0..L {
            let mut carry: u64 = 0;
            for j in 0..L {
                let v = t[i + j] as u128 + (a[j] as u128) * (b[i] as u128) + carry as u128;
                t[i + j] = v as u64;
                carry = (v >> 64) as u64;
            }
            t[i + L] = carry;
        }
        t
    }

    fn square_product(a: &Fe<L>) -> Wide {
        let mut t = [0u64; 16];
        // Cross products a_i·a_j (i < j), once.
        for i in 0..L {
            let mut carry: u64 = 0;
            for j in i + 1..L {
                let v = t[i + j] as u128 + (a[i] as u128) * (a[j] as u128) + carry as u128;
                t[i + j] = v as u64;
                carry = (v >> 64) as u64;
            }
            t[i + L] = carry;
        }
        // Doubled, plus the squares a_i².
        let mut carry: u64 = 0;
        for w in t.iter_mut().take(2 * L) {
            let next = *w >> 63;
            *w = (*w << 1) | carry;
            carry = next;
        }
        let mut carry: u128 = 0;
        for i in 0..L {
            let sq = (a[i] as u128) * (a[i] as u128);
            let lo = t[2 * i] as u128 + (sq as u64) as u128 + carry;
            t[2 * i] = lo as u64;
            let hi = t[2 * i + 1] as u128 + (sq >> 64) + (lo >> 64);
            t[2 * i + 1] = hi as u64;
            carry = hi >> 64;
        }
        t
    }

    fn reduce(&self, t: &Wide) -> Fe<L> {
        let mut out = [0u64; L];
        match self.reduction {
            Reduction::PseudoMersenne { c } => {
                // t = hi·2^(64L) + lo ≡ hi·c + lo.
                let mut carry: u64 = 0;
                for i in 0..L {
                    let v = t[i] as u128 + (t[i + L] as u128) * (c as u128) + carry as u128;
                    out[i] = v as u64;
                    carry = (v >> 64) as u64;
                }
                // carry·2^(64L) ≡ carry·c (carry < 2^33): fold once more.
                let mut extra = (carry as u128) * (c as u128);
                for limb in out.iter_mut() {
                    if extra == 0 {
                        break;
                    }
                    let v = *limb as u128 + extra;
                    *limb = v as u64;
                    extra = v >> 64;
                }
                if extra != 0 {
                    // Wrapped past 2^(64L) once more: add c again (the value is now tiny).
                    let mut add = c as u128;
                    for limb in out.iter_mut() {
                        if add == 0 {
                            break;
                        }
                        let v = *limb as u128 + add;
                        *limb = v as u64;
                        add = v >> 64;
                    }
                }
            }
            Reduction::Montgomery { n0, .. } => {
                let mut t = *t;
                let mut top: u64 = 0;
                for i in 0..L {
                    let m = t[i].wrapping_mul(n0);
                    let mut carry: u64 = 0;
                    for j in 0..L {
                        let v =
                            t[i + j] as u128 + (m as u128) * (self.p[j] as u128) + carry as u128;
                        t[i + j] = v as u64;
                        carry = (v >> 64) as u64;
                    }
                    // Propagate into the upper half.
                    let mut k = i + L;
                    let mut c = carry as u128;
                    while c != 0 && k < 2 * L {
                        let v = t[k] as u128 + c;
                        t[k] = v as u64;
                        c = v >> 64;
                        k += 1;
                    }
                    top += c as u64;
                }
                out.copy_from_slice(&t[L..2 * L]);
                if top != 0 {
                    sub_in_place(&mut out, &self.p);
                }
            }
        }
        if geq(&out, &self.p) {
            sub_in_place(&mut out, &self.p);
        }
        out
    }

    /// a·b.
    pub fn mul(&self, a: &Fe<L>, b: &Fe<L>) -> Fe<L> {
        self.reduce(&Self::product(a, b))
    }

    /// a².
    pub fn square(&self, a: &Fe<L>) -> Fe<L> {
        self.reduce(&Self::square_product(a))
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

    /// x (an integer below p) into this field's representation.
    pub fn encode(&self, x: &Uint<L>) -> Fe<L> {
        match &self.reduction {
            Reduction::PseudoMersenne { .. } => limbs(x),
            Reduction::Montgomery { r2, .. } => self.mul(&limbs(x), r2),
        }
    }

    /// Back to an integer.
    pub fn decode(&self, a: &Fe<L>) -> Uint<L> {
        match self.reduction {
            Reduction::PseudoMersenne { .. } => from_limbs(a),
            Reduction::Montgomery { .. } => {
                let mut one = [0u64; L];
                one[0] = 1;
                from_limbs(&self.mul(a, &one))
            }
        }
    }

    /// a⁻¹ (None for zero), through crypto-bigint (Montgomery form with the same R).
    pub fn invert(&self, a: &Fe<L>) -> Option<Fe<L>> {
        let m = match self.reduction {
            Reduction::PseudoMersenne { .. } => FixedMontyForm::new(&from_limbs(a), &self.params),
            Reduction::Montgomery { .. } => {
                FixedMontyForm::from_montgomery(from_limbs(a), &self.params)
            }
        };
        let inv = m.invert_vartime().into_option()?;
        Some(self.encode(&inv.retrieve()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::{Odd, U256};

    /// Both reductions (Montgomery for 2^255 + 0x431, folding for 2^256 − 617) agree with
    /// crypto-bigint, including at p − 1.
    #[test]
    fn agrees_with_crypto_bigint() {
        for modulus in [
            "8000000000000000000000000000000000000000000000000000000000000431",
            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd97",
        ] {
            let m = U256::from_be_hex(modulus);
            let params = FixedMontyParams::new_vartime(Odd::new(m).into_option().unwrap());
            let f = Field::new(params);
            let x = U256::from_be_hex(
                "7f2b49e270db6d90d8595bec458b50c58585ba1d4e9b788f6689dbd8e56fd80b",
            );
            let y = U256::from_be_hex(
                "26f1b489d6701dd185c8413a977b3cbbaf64d1c593d26627dffb101a87ff77da",
            );
            let top = m.wrapping_sub(&U256::ONE);
            for (u, v) in [(x, y), (top, x), (top, top), (y, y)] {
                let (a, b) = (f.encode(&u), f.encode(&v));
                let (cu, cv) = (
                    FixedMontyForm::new(&u, &params),
                    FixedMontyForm::new(&v, &params),
                );
                assert_eq!(f.decode(&f.mul(&a, &b)), (cu * cv).retrieve(), "{modulus}");
                assert_eq!(f.decode(&f.square(&a)), (cu * cu).retrieve(), "{modulus}");
                assert_eq!(f.decode(&f.add(&a, &b)), (cu + cv).retrieve(), "{modulus}");
                assert_eq!(f.decode(&f.sub(&b, &a)), (cv - cu).retrieve(), "{modulus}");
                assert_eq!(
                    f.decode(&f.mul(&f.invert(&a).unwrap(), &a)),
                    U256::ONE,
                    "{modulus}"
                );
            }
            assert_eq!(f.decode(&f.one()), U256::ONE);
        }
    }
}
