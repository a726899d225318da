//! Hash value types shared by every backend: PDQ (256 bits, with quality and the eight dihedral
//! variants) and the 64-bit DCT pHash. No I/O and no arithmetic of the algorithms lives here.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Errors from parsing a hash's text form.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseHashError {
    #[error("expected {expected} hex digits, got {got}")]
    Length { expected: usize, got: usize },
    #[error("not a hex digit in {0:?}")]
    Digit(String),
}

/// Hamming distance between two hashes of the same algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Distance(pub u32);

/// PDQ quality: 0 (featureless) to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quality(pub u8);

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 256-bit PDQ hash. Bit `i` of the algorithm is bit `i % 64` of `words[i / 64]`, so the
/// little-endian bytes of `words` are also the GPU's `array<u32, 8>` layout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Pdq256(pub [u64; 4]);

impl Pdq256 {
    pub const BITS: usize = 256;

    pub fn bit(&self, i: usize) -> bool {
        (self.0[i / 64] >> (i % 64)) & 1 == 1
    }

    pub fn set_bit(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub fn distance(&self, other: &Pdq256) -> Distance {
        let bits = self
            .0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        Distance(bits)
    }

    /// Built from eight 32-bit words as the GPU writes them (bit `i` in word `i / 32`).
    pub fn from_u32_words(w: &[u32]) -> Pdq256 {
        let mut out = [0u64; 4];
        for (k, o) in out.iter_mut().enumerate() {
            *o = u64::from(w[2 * k]) | (u64::from(w[2 * k + 1]) << 32);
        }
        Pdq256(out)
    }

    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

/// The reference text form: 16-bit word 15 first, word 0 last, lowercase. With bits packed
/// little-endian in u64s that is simply the four words printed from the top.
impl fmt::Display for Pdq256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.0;
        write!(f, "{:016x}{:016x}{:016x}{:016x}", w[3], w[2], w[1], w[0])
    }
}

impl fmt::Debug for Pdq256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pdq256({self})")
    }
}

/// A hash's bytes in the order its hex prints them (the first two hex digits first), as
/// words in the project's layout: the inverse of reading the hex, without the hex. PDQ's
/// 32 bytes give 4 words, pHash's 8 give 1.
pub fn words_from_hex_order(bytes: &[u8]) -> Vec<u64> {
    bytes
        .rchunks(8)
        .map(|c| c.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b)))
        .collect()
}

impl FromStr for Pdq256 {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_hex(s, 64)?;
        let mut w = [0u64; 4];
        for (k, word) in w.iter_mut().enumerate() {
            let chunk = &s[(3 - k) * 16..(4 - k) * 16];
            *word = u64::from_str_radix(chunk, 16).map_err(|_| ParseHashError::Digit(s.into()))?;
        }
        Ok(Pdq256(w))
    }
}

/// A 64-bit pHash as `imagehash` writes it: bit (r, c) of the 8x8 block is bit `63 - (8r + c)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Phash64(pub u64);

impl Phash64 {
    pub const BITS: usize = 64;

    pub fn distance(&self, other: &Phash64) -> Distance {
        Distance((self.0 ^ other.0).count_ones())
    }
}

impl fmt::Display for Phash64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Phash64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phash64({self})")
    }
}

impl FromStr for Phash64 {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_hex(s, 16)?;
        u64::from_str_radix(s, 16)
            .map(Phash64)
            .map_err(|_| ParseHashError::Digit(s.into()))
    }
}

fn check_hex(s: &str, expected: usize) -> Result<(), ParseHashError> {
    if s.len() != expected {
        return Err(ParseHashError::Length {
            expected,
            got: s.len(),
        });
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseHashError::Digit(s.into()));
    }
    Ok(())
}

/// The eight dihedral transforms of an image, in the reference's output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dihedral {
    Original,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipX,
    FlipY,
    FlipPlus1,
    FlipMinus1,
}

impl Dihedral {
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];

    /// Column names used by the reference tools and our CSV output.
    pub fn name(self) -> &'static str {
        match self {
            Dihedral::Original => "pdq",
            Dihedral::Rotate90 => "rot90",
            Dihedral::Rotate180 => "rot180",
            Dihedral::Rotate270 => "rot270",
            Dihedral::FlipX => "flipx",
            Dihedral::FlipY => "flipy",
            Dihedral::FlipPlus1 => "flipplus1",
            Dihedral::FlipMinus1 => "flipminus1",
        }
    }
}

/// A PDQ result: the quality and the hashes of all eight dihedral variants, indexed as
/// [`Dihedral::ALL`]. The variants come from one DCT, so carrying them costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PdqHashes {
    pub quality: Quality,
    pub hashes: [Pdq256; 8],
}

impl PdqHashes {
    pub fn original(&self) -> Pdq256 {
        self.hashes[0]
    }

    pub fn variant(&self, d: Dihedral) -> Pdq256 {
        self.hashes[d as usize]
    }
}

/// Which hashes to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    pub pdq: bool,
    pub phash: bool,
}

impl Algorithms {
    pub const ALL: Algorithms = Algorithms {
        pdq: true,
        phash: true,
    };
}

/// The hashes of one frame; `None` for an algorithm that was not asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHashes {
    pub pdq: Option<PdqHashes>,
    pub phash: Option<Phash64>,
}

/// Uniform random hash bits (xorshift64*, seeded) for generated reference sets, benches
/// and tests: fast and reproducible, not for anything secret.
pub fn random_words(seed: u64) -> impl Iterator<Item = u64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    std::iter::repeat_with(move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// Bytes as lower-case hex: digests, checksums, every hex the records hold.
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// Hashes are written as their hex text, in records as in the reference tools' output.
impl serde::Serialize for Pdq256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for Phash64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod bytes_tests {
    #[test]
    fn bytes_in_hex_order_are_the_words_the_hex_gives() {
        let hex = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let p: super::Pdq256 = hex.parse().unwrap();
        assert_eq!(super::words_from_hex_order(&bytes), p.0.to_vec());
        let ph: super::Phash64 = "0123456789abcdef".parse().unwrap();
        assert_eq!(
            super::words_from_hex_order(&[1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]),
            vec![ph.0]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdq_hex_round_trips_and_orders_words_from_the_top() {
        let s = "9627348d69d8cb7261d83c0fc6f1c3f01e27b4a59627349d69d8cb7261d83c0f";
        let h: Pdq256 = s.parse().unwrap();
        assert_eq!(h.to_string(), s);
        // The last hex digit holds bits 0..3 of word 0: 0xf sets bits 0-3.
        // The last digits "c0f" are bits 11..0 of word 0.
        assert!(h.bit(0) && h.bit(3) && !h.bit(4) && !h.bit(8) && h.bit(11));
        let mut one = Pdq256::default();
        one.set_bit(255);
        assert!(one.to_string().starts_with('8'));
    }

    #[test]
    fn distances_count_differing_bits() {
        let a: Pdq256 = "f".repeat(64).parse().unwrap();
        let b = Pdq256::default();
        assert_eq!(a.distance(&b), Distance(256));
        assert_eq!(Phash64(0b1011).distance(&Phash64(0)), Distance(3));
    }

    #[test]
    fn malformed_hex_is_rejected() {
        assert!("abc".parse::<Pdq256>().is_err());
        assert!("g".repeat(64).parse::<Pdq256>().is_err());
        assert!("0123456789abcdeg".parse::<Phash64>().is_err());
    }

    #[test]
    fn gpu_words_map_to_the_same_bits() {
        let mut w = [0u32; 8];
        w[1] = 1; // bit 32
        w[7] = 0x8000_0000; // bit 255
        let h = Pdq256::from_u32_words(&w);
        assert!(h.bit(32) && h.bit(255));
        assert_eq!(h.distance(&Pdq256::default()), Distance(2));
    }
}
