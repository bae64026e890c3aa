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
    b: Fe<L>,
    g: (Fe<L>, Fe<L>),
}

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
        Some(Curve {
            size: set.size,
            p: Uint::<L>::from_be_hex(set.p),
            q: Uint::<L>::from_be_hex(set.q),
            a: fe(set.a),
            b: fe(set.b),
            g: (fe(set.x), fe(set.y)),
            f,
            scalar,
        })
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

    /// z1·G + z2·Q, scanning both scalars from the top bit, with G + Q precomputed.
    fn double_mul(&self, z1: &Uint<L>, z2: &Uint<L>, q: &(Fe<L>, Fe<L>)) -> Point<L> {
        let gq = self.add_affine(
            &Point {
                x: self.g.0,
                y: self.g.1,
                z: self.f.one(),
            },
            q,
        );
        let gq_affine = self.to_affine(&gq);
        let mut acc = self.infinity();
        let bits = z1.bits_vartime().max(z2.bits_vartime());
        for i in (0..bits).rev() {
            acc = self.double(&acc);
            let b1 = z1.bit_vartime(i);
            let b2 = z2.bit_vartime(i);
            acc = match (b1, b2, &gq_affine) {
                (true, true, Some(both)) => self.add_affine(&acc, both),
                (true, true, None) => acc, // G + Q = O: adding it changes nothing
                (true, false, _) => self.add_affine(&acc, &self.g),
                (false, true, _) => self.add_affine(&acc, q),
                (false, false, _) => acc,
            };
        }
        acc
    }
}
