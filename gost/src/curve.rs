//! GOST R 34.10-2012 signature verification on one parameter set, generic over the size
//! (`L` 64-bit limbs: 4 for GOST 256, 8 for GOST 512). Field arithmetic in Montgomery form on
//! plain limbs (`field.rs`), scalars mod q with `crypto-bigint`, points in Jacobian coordinates, z1·P + z2·Q by
//! interleaved double-and-add (Shamir's trick). Verification handles only public data, so
//! variable-time code is fine here.

use super::field::{Fe, Field};
use super::params::ParamSet;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{NonZero, Odd, Uint};

/// Why a signature does not verify (or cannot be checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GostError {
    /// Public key, signature or digest of the wrong length for the parameter set.
    Length,
    /// The public key is not a point of the curve (or a coordinate is not below p).
    KeyNotOnCurve,
    /// r or s is not in 1..q−1.
    Range,
    /// The signature does not match.
    Mismatch,
}

/// A parameter set ready for arithmetic.
pub struct Curve<const L: usize> {
    size: usize,
    f: Field<L>,
    p: Uint<L>,
    scalar: FixedMontyParams<L>,
    q: Uint<L>,
    a: Fe<L>,
    /// a = p − 3: the cheaper doubling formula applies.
    a_is_minus_3: bool,
    b: Fe<L>,
    g: (Fe<L>, Fe<L>),
    /// G, 3G, 5G, …, 15G (affine), for the width-5 NAF of z1.
    g_table: Vec<(Fe<L>, Fe<L>)>,
}

/// NAF width.
const W: u32 = 5;
/// Odd multiples kept per point: 1, 3, …, 2^(W−1) − 1.
const TABLE: usize = 1 << (W - 2);

/// A point in Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy)]
struct Point<const L: usize> {
    x: Fe<L>,
    y: Fe<L>,
    z: Fe<L>,
}

fn odd<const L: usize>(hex: &str) -> Option<Odd<Uint<L>>> {
    Odd::new(Uint::<L>::from_be_hex(hex)).into_option()
}

impl<const L: usize> Curve<L> {
    /// Prepares `set`; `None` when its size does not match `L` or a modulus is even.
    pub fn new(set: &ParamSet) -> Option<Curve<L>> {
        if set.size * 8 != Uint::<L>::BITS as usize {
            return None;
        }
        let f = Field::new(FixedMontyParams::new_vartime(odd::<L>(set.p)?));
        let scalar = FixedMontyParams::new_vartime(odd::<L>(set.q)?);
        let fe = |hex: &str| f.encode(&Uint::<L>::from_be_hex(hex));
        let p = Uint::<L>::from_be_hex(set.p);
        let a_int = Uint::<L>::from_be_hex(set.a);
        let mut curve = Curve {
            size: set.size,
            a_is_minus_3: a_int.wrapping_add(&Uint::from_u8(3)) == p,
            p,
            q: Uint::<L>::from_be_hex(set.q),
            a: fe(set.a),
            b: fe(set.b),
            g: (fe(set.x), fe(set.y)),
            g_table: Vec::new(),
            f,
            scalar,
        };
        let g = curve.jacobian(&curve.g);
        curve.g_table = curve
            .odd_multiples(&g)
            .iter()
            .map(|p| curve.to_affine(p))
            .collect::<Option<Vec<_>>>()?;
        Some(curve)
    }

    /// Verifies a signature: `public_le` = X‖Y little-endian, `digest` = the Streebog output as
    /// emitted (read little-endian), `signature_be` = s‖r big-endian.
    pub fn verify(
        &self,
        public_le: &[u8],
        digest: &[u8],
        signature_be: &[u8],
    ) -> Result<(), GostError> {
        let n = self.size;
        if public_le.len() != 2 * n || signature_be.len() != 2 * n || digest.len() != n {
            return Err(GostError::Length);
        }
        let q = self.point_from_le(public_le)?;
        let s = Uint::<L>::from_be_slice(&signature_be[..n]);
        let r = Uint::<L>::from_be_slice(&signature_be[n..]);
        let in_range = |v: &Uint<L>| !bool::from(v.is_zero()) && v < &self.q;
        if !in_range(&r) || !in_range(&s) {
            return Err(GostError::Range);
        }
        let order = NonZero::new(self.q).into_option().ok_or(GostError::Range)?;
        let mut e = Uint::<L>::from_le_slice(digest).rem_vartime(&order);
        if bool::from(e.is_zero()) {
            e = Uint::ONE;
        }
        let sc = |v: &Uint<L>| FixedMontyForm::new(v, &self.scalar);
        let v = sc(&e)
            .invert_vartime()
            .into_option()
            .ok_or(GostError::Mismatch)?;
        let z1 = (sc(&s) * v).retrieve();
        let z2 = (-(sc(&r) * v)).retrieve();
        let c = self.double_mul(&z1, &z2, &q);
        let (x, _) = self.to_affine(&c).ok_or(GostError::Mismatch)?;
        let big_r = self.f.decode(&x).rem_vartime(&order);
        if big_r == r {
            Ok(())
        } else {
            Err(GostError::Mismatch)
        }
    }

    fn point_from_le(&self, bytes: &[u8]) -> Result<(Fe<L>, Fe<L>), GostError> {
        let n = self.size;
        let x = Uint::<L>::from_le_slice(&bytes[..n]);
        let y = Uint::<L>::from_le_slice(&bytes[n..]);
        if x >= self.p || y >= self.p {
            return Err(GostError::KeyNotOnCurve);
        }
        let f = &self.f;
        let (x, y) = (f.encode(&x), f.encode(&y));
        // y² = x³ + ax + b
        let rhs = f.add(
            &f.add(&f.mul(&f.square(&x), &x), &f.mul(&self.a, &x)),
            &self.b,
        );
        if f.square(&y) != rhs {
            return Err(GostError::KeyNotOnCurve);
        }
        Ok((x, y))
    }

    fn infinity(&self) -> Point<L> {
        Point {
            x: self.f.one(),
            y: self.f.one(),
            z: self.f.zero(),
        }
    }

    fn is_infinity(&self, p: &Point<L>) -> bool {
        self.f.is_zero(&p.z)
    }

    /// 2P ("dbl-2007-bl", any a).
    fn double(&self, p: &Point<L>) -> Point<L> {
        let f = &self.f;
        if self.is_infinity(p) || f.is_zero(&p.y) {
            return self.infinity();
        }
        if self.a_is_minus_3 {
            // dbl-2001-b
            let delta = f.square(&p.z);
            let gamma = f.square(&p.y);
            let beta = f.mul(&p.x, &gamma);
            let t = f.mul(&f.sub(&p.x, &delta), &f.add(&p.x, &delta));
            let alpha = f.add(&f.double(&t), &t);
            let beta4 = f.double(&f.double(&beta));
            let x3 = f.sub(&f.square(&alpha), &f.double(&beta4));
            let z3 = f.sub(&f.sub(&f.square(&f.add(&p.y, &p.z)), &gamma), &delta);
            let g8 = f.double(&f.double(&f.double(&f.square(&gamma))));
            let y3 = f.sub(&f.mul(&alpha, &f.sub(&beta4, &x3)), &g8);
            return Point {
                x: x3,
                y: y3,
                z: z3,
            };
        }
        let xx = f.square(&p.x);
        let yy = f.square(&p.y);
        let yyyy = f.square(&yy);
        let zz = f.square(&p.z);
        let s = f.double(&f.sub(&f.sub(&f.square(&f.add(&p.x, &yy)), &xx), &yyyy));
        let m = f.add(&f.add(&f.double(&xx), &xx), &f.mul(&self.a, &f.square(&zz)));
        let x3 = f.sub(&f.square(&m), &f.double(&s));
        let y8 = f.double(&f.double(&f.double(&yyyy)));
        let y3 = f.sub(&f.mul(&m, &f.sub(&s, &x3)), &y8);
        let z3 = f.sub(&f.sub(&f.square(&f.add(&p.y, &p.z)), &yy), &zz);
        Point {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + (x, y) for an affine (x, y) ("madd-2007-bl").
    fn add_affine(&self, p: &Point<L>, (x2, y2): &(Fe<L>, Fe<L>)) -> Point<L> {
        let f = &self.f;
        if self.is_infinity(p) {
            return Point {
                x: *x2,
                y: *y2,
                z: f.one(),
            };
        }
        let z1z1 = f.square(&p.z);
        let u2 = f.mul(x2, &z1z1);
        let s2 = f.mul(&f.mul(y2, &p.z), &z1z1);
        let h = f.sub(&u2, &p.x);
        let r = f.double(&f.sub(&s2, &p.y));
        if f.is_zero(&h) {
            return if f.is_zero(&r) {
                self.double(p)
            } else {
                self.infinity()
            };
        }
        let hh = f.square(&h);
        let i = f.double(&f.double(&hh));
        let j = f.mul(&h, &i);
        let v = f.mul(&p.x, &i);
        let x3 = f.sub(&f.sub(&f.square(&r), &j), &f.double(&v));
        let y3 = f.sub(&f.mul(&r, &f.sub(&v, &x3)), &f.double(&f.mul(&p.y, &j)));
        let z3 = f.sub(&f.sub(&f.square(&f.add(&p.z, &h)), &z1z1), &hh);
        Point {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    fn to_affine(&self, p: &Point<L>) -> Option<(Fe<L>, Fe<L>)> {
        if self.is_infinity(p) {
            return None;
        }
        let f = &self.f;
        let zi = f.invert(&p.z)?;
        let zi2 = f.square(&zi);
        Some((f.mul(&p.x, &zi2), f.mul(&f.mul(&p.y, &zi2), &zi)))
    }

    fn jacobian(&self, (x, y): &(Fe<L>, Fe<L>)) -> Point<L> {
        Point {
            x: *x,
            y: *y,
            z: self.f.one(),
        }
    }

    fn negate(&self, p: &Point<L>) -> Point<L> {
        Point {
            x: p.x,
            y: self.f.sub(&self.f.zero(), &p.y),
            z: p.z,
        }
    }

    /// P1 + P2, both Jacobian ("add-2007-bl").
    fn add(&self, p1: &Point<L>, p2: &Point<L>) -> Point<L> {
        let f = &self.f;
        if self.is_infinity(p1) {
            return *p2;
        }
        if self.is_infinity(p2) {
            return *p1;
        }
        let z1z1 = f.square(&p1.z);
        let z2z2 = f.square(&p2.z);
        let u1 = f.mul(&p1.x, &z2z2);
        let u2 = f.mul(&p2.x, &z1z1);
        let s1 = f.mul(&f.mul(&p1.y, &p2.z), &z2z2);
        let s2 = f.mul(&f.mul(&p2.y, &p1.z), &z1z1);
        let h = f.sub(&u2, &u1);
        let r = f.double(&f.sub(&s2, &s1));
        if f.is_zero(&h) {
            return if f.is_zero(&r) {
                self.double(p1)
            } else {
                self.infinity()
            };
        }
        let i = f.square(&f.double(&h));
        let j = f.mul(&h, &i);
        let v = f.mul(&u1, &i);
        let x3 = f.sub(&f.sub(&f.square(&r), &j), &f.double(&v));
        let y3 = f.sub(&f.mul(&r, &f.sub(&v, &x3)), &f.double(&f.mul(&s1, &j)));
        let z3 = f.mul(
            &f.sub(&f.sub(&f.square(&f.add(&p1.z, &p2.z)), &z1z1), &z2z2),
            &h,
        );
        Point {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P, 3P, 5P, …, (2·TABLE − 1)P.
    fn odd_multiples(&self, p: &Point<L>) -> Vec<Point<L>> {
        let twice = self.double(p);
        let mut out = Vec::with_capacity(TABLE);
        out.push(*p);
        for i in 1..TABLE {
            let next = self.add(&out[i - 1], &twice);
            out.push(next);
        }
        out
    }

    /// z1·G + z2·Q: interleaved width-5 NAF, G's odd multiples precomputed (affine), Q's
    /// computed per call (Jacobian).
    fn double_mul(&self, z1: &Uint<L>, z2: &Uint<L>, q: &(Fe<L>, Fe<L>)) -> Point<L> {
        let q_table = self.odd_multiples(&self.jacobian(q));
        let n1 = wnaf(z1);
        let n2 = wnaf(z2);
        let mut acc = self.infinity();
        for i in (0..n1.len().max(n2.len())).rev() {
            acc = self.double(&acc);
            match n1.get(i).copied().unwrap_or(0) {
                0 => {}
                d if d > 0 => acc = self.add_affine(&acc, &self.g_table[(d as usize - 1) / 2]),
                d => {
                    let (x, y) = &self.g_table[((-d) as usize - 1) / 2];
                    acc = self.add_affine(&acc, &(*x, self.f.sub(&self.f.zero(), y)));
                }
            }
            match n2.get(i).copied().unwrap_or(0) {
                0 => {}
                d if d > 0 => acc = self.add(&acc, &q_table[(d as usize - 1) / 2]),
                d => acc = self.add(&acc, &self.negate(&q_table[((-d) as usize - 1) / 2])),
            }
        }
        acc
    }
}

/// Width-W non-adjacent form of k, least significant digit first.
fn wnaf<const L: usize>(k: &Uint<L>) -> Vec<i8> {
    // One spare limb absorbs the carry of subtracting a negative digit.
    let mut n = [0u64; 9];
    for (dst, src) in n.iter_mut().zip(k.as_words()) {
        *dst = *src;
    }
    let mut out = Vec::with_capacity(L * 64 + 1);
    let window = 1u64 << W;
    while n.iter().any(|&w| w != 0) {
        let digit = if n[0] & 1 == 1 {
            let m = n[0] & (window - 1);
            let d = if m >= window / 2 {
                m as i64 - window as i64
            } else {
                m as i64
            };
            // n −= d
            if d > 0 {
                let mut borrow = d as u64;
                for limb in n.iter_mut() {
                    let (v, b) = limb.overflowing_sub(borrow);
                    *limb = v;
                    borrow = b as u64;
                    if borrow == 0 {
                        break;
                    }
                }
            } else {
                let mut carry = (-d) as u64;
                for limb in n.iter_mut() {
                    let (v, c) = limb.overflowing_add(carry);
                    *limb = v;
                    carry = c as u64;
                    if carry == 0 {
                        break;
                    }
                }
            }
            d as i8
        } else {
            0
        };
        out.push(digit);
        // n >>= 1
        for j in 0..n.len() {
            let next = if j + 1 < n.len() { n[j + 1] << 63 } else { 0 };
            n[j] = (n[j] >> 1) | next;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::U256;

    #[test]
    fn wnaf_reconstructs_the_scalar() {
        for hex in [
            "0000000000000000000000000000000000000000000000000000000000000001",
            "7f2b49e270db6d90d8595bec458b50c58585ba1d4e9b788f6689dbd8e56fd80b",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ] {
            let k = U256::from_be_hex(hex);
            let digits = wnaf(&k);
            let mut acc: i128 = 0;
            // Reconstruct modulo 2^127 (enough to catch digit errors) and check digit rules.
            for (i, d) in digits.iter().enumerate().rev() {
                assert!(*d == 0 || (*d % 2 != 0 && d.abs() < 16), "digit {d}");
                if i < 120 {
                    acc = acc.wrapping_mul(2).wrapping_add(*d as i128);
                }
            }
            let low = u128::from_le_bytes(k.to_le_bytes()[..16].try_into().unwrap())
                & ((1u128 << 120) - 1);
            assert_eq!((acc as u128) & ((1u128 << 120) - 1), low, "{hex}");
        }
    }
}
