//! The multi-index section of a set (docs/refset-format.md, "Index"): exact Hamming search
//! whose cost does not grow with the list (Norouzi, Punjani and Fleet's multi-index
//! hashing). Each hash is cut into `m` bit ranges; each range has a table that finds the
//! entries whose range lies within a small radius of the query's. Radii whose sum plus `m`
//! passes the distance make every match a candidate in at least one table (pigeonhole), so
//! the search is exact whatever the hashes are. The search itself is `matching::mih`; this
//! file is the layout, the choice of `m` and the build.
//!
//! A table is a directory over the range's top `slot_bits` bits (offsets into the entries)
//! and one `u32` per entry packing the range's remaining low bits above the entry's index.
//! A probe reads two neighbouring directory words and one short run of packed entries, and
//! rejects most of them on the low bits without touching the hash array: the three reads a
//! probe costs are next to each other, which is what decides the speed.

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

pub const MAGIC: [u8; 8] = *b"HSMIH\0\0\x01";
/// Tables and directories start on multiples of a cache line.
const ALIGN: u64 = 64;

/// The section's first 64 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct IndexHeader {
    pub magic: [u8; 8],
    pub tables: u32,
    /// Low bits of a packed entry that hold its index.
    pub id_bits: u32,
    /// The distance the table count was chosen for (larger ones are still exact).
    pub served: u32,
    pub pad: u32,
    pub count: u64,
    pub reserved: [u8; 32],
}

/// One table: bits `start .. start + bits` of the hash (bit `b` of word `b / 64`, as the
/// hash array stores them), a directory over their top `slot_bits`. Offsets are from the
/// section's start.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct Table {
    pub start: u32,
    pub bits: u32,
    pub slot_bits: u32,
    pub pad: u32,
    /// `2^slot_bits + 1` u32: entries of slot `s` are `entries[dir[s]..dir[s + 1]]`.
    pub dir: u64,
    /// `count` u32, `(low bits << id_bits) | index`, sorted within each slot.
    pub entries: u64,
}

impl Table {
    pub fn low_bits(&self) -> u32 {
        self.bits - self.slot_bits
    }
}

/// The shape of an index: its tables (offsets filled in) and the entry packing.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub tables: Vec<Table>,
    pub id_bits: u32,
    pub served: u32,
    pub count: u64,
}

/// The distances an index is chosen for by default: PDQ's 31 and pHash's 10 (the
/// matching defaults), for the two hashes compared by distance.
pub fn default_served(hash_bits: u32) -> u32 {
    if hash_bits == 64 { 10 } else { 31 }
}

/// Sets smaller than this are swept: a sweep of 65,536 PDQ hashes takes about 0.1 ms.
pub const MIN_COUNT: u64 = 1 << 16;

/// The key of a table: hash bits `start .. start + bits` (at most 32) as an integer.
#[inline(always)]
pub fn key(words: &[u64], start: u32, bits: u32) -> u32 {
    let (w, off) = ((start / 64) as usize, start % 64);
    let mut k = words[w] >> off;
    if off + bits > 64 {
        k |= words[w + 1] << (64 - off);
    }
    (k & ((1u64 << bits) - 1)) as u32
}

/// Hashes within `r` bits of a `b`-bit string: the number of probes (or the share of a
/// uniform list, over `2^b`) that a table of width `b` searched at radius `r` makes.
pub fn ball(b: u32, r: i32) -> f64 {
    let (mut sum, mut c) = (0.0, 1.0);
    for k in 0..=r.min(b as i32) {
        if k > 0 {
            c *= f64::from(b - k as u32 + 1) / f64::from(k as u32);
        }
        sum += c;
    }
    sum
}

/// The radius each of `m` tables is searched at for distance `d`: radii plus one sum to
/// `d + 1`, so a hash within `d` lies within its table's radius in at least one table
/// (pigeonhole). `-1`: the table is not searched.
pub fn radii(m: usize, d: u32) -> Vec<i32> {
    let t = d as usize + 1;
    let (q, rem) = (t / m, t % m);
    (0..m).map(|i| q as i32 - 1 + i32::from(i < rem)).collect()
}

/// The cost model, in nanoseconds on one core of this kind of machine (measured on the
/// 2-core EPYC VM CI runs on; `benches/results/mih-*.md`): a probe's random directory
/// read, each packed entry looked at, each candidate's hash read and compared, and one
/// comparison of a sweep.
pub mod cost {
    pub const PROBE: f64 = 60.0;
    pub const SCAN: f64 = 1.0;
    pub const VERIFY: f64 = 25.0;
    pub const SWEEP: f64 = 1.6;
}

/// What one query through `tables` at distance `d` is expected to do on a uniform list of
/// `n` hashes: directory slots read, packed entries looked at, candidates compared.
#[derive(Debug, Clone, Copy, Default)]
pub struct Work {
    pub slots: f64,
    pub scanned: f64,
    pub candidates: f64,
}

pub fn expected_work(tables: &[Table], n: u64, d: u32) -> Work {
    let n = n as f64;
    let r = radii(tables.len(), d);
    let mut w = Work::default();
    for (t, r) in tables.iter().zip(r).filter(|(_, r)| *r >= 0) {
        let slots = ball(t.slot_bits, r);
        w.slots += slots;
        w.scanned += slots * n / 2f64.powi(t.slot_bits as i32);
        w.candidates += n * ball(t.bits, r) / 2f64.powi(t.bits as i32);
    }
    w
}

/// The modelled cost of one query through `tables` at distance `d` on a uniform list of
/// `n` hashes, in nanoseconds.
pub fn query_cost(tables: &[Table], n: u64, d: u32) -> f64 {
    query_cost_as(tables, n, d, Shape::FILE)
}

/// [`query_cost`] with the probe and candidate costs of `shape`'s use.
pub fn query_cost_as(tables: &[Table], n: u64, d: u32, shape: Shape) -> f64 {
    let w = expected_work(tables, n, d);
    w.slots * shape.probe_ns + w.scanned * cost::SCAN + w.candidates * shape.verify_ns
}

/// The modelled cost of sweeping `n` hashes for one query, in nanoseconds.
pub fn sweep_cost(n: u64) -> f64 {
    n as f64 * cost::SWEEP
}

fn id_bits(n: u64) -> u32 {
    (64 - n.saturating_sub(1).leading_zeros()).max(1)
}

/// The tables for `m` ranges of (nearly) equal width over `hash_bits`, with directories
/// of about a quarter as many slots as entries (a probe looks at a few packed entries),
/// never fewer than the packing needs, never more than the range has.
fn tables_for(hash_bits: u32, m: u32, n: u64, id_bits: u32, shape: Shape) -> Option<Vec<Table>> {
    let (base, extra) = (hash_bits / m, hash_bits % m);
    let target = (63 - n.max(1).leading_zeros()).saturating_sub(shape.slack_bits);
    let mut start = 0;
    let mut out = vec![];
    for i in 0..m {
        let bits = base + u32::from(i < extra);
        if bits > 32 || bits == 0 {
            return None;
        }
        let floor = bits.saturating_sub(32 - id_bits);
        let slot_bits = target.clamp(floor, bits);
        if slot_bits > 30 {
            return None;
        }
        out.push(Table {
            start,
            bits,
            slot_bits,
            pad: 0,
            dir: 0,
            entries: 0,
        });
        start += bits;
    }
    Some(out)
}

/// How an index is shaped for its use.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Slots are `2^slack_bits` times fewer than entries (as far as the widths allow).
    pub slack_bits: u32,
    /// The index takes at most this many times the hash array.
    pub budget: u64,
    /// What a slot read and a candidate's comparison cost in this use, nanoseconds.
    pub probe_ns: f64,
    pub verify_ns: f64,
}

impl Shape {
    /// In a set file: a probe reads a few entries (one query at a time, every slot read is
    /// a random read, so fewer, fuller slots), and the size rule of issue 25.
    pub const FILE: Shape = Shape {
        slack_bits: 2,
        budget: 2,
        probe_ns: cost::PROBE,
        verify_ns: cost::VERIFY,
    };
    /// Built in memory for a self-join: every hash is a query and probes are read in slot
    /// order, so a slot per entry or two (fewer entries looked at per probe) and room for
    /// the directories.
    /// Slot reads and candidates in order cost a fraction of random ones
    /// (`benches/results/mih-2026-12-03.md`).
    pub const JOIN: Shape = Shape {
        slack_bits: 0,
        budget: 4,
        probe_ns: 40.0,
        verify_ns: 15.0,
    };
}

impl Plan {
    /// The index worth writing for `n` hashes of `hash_bits` bits: the [`best`](Plan::best)
    /// one, when the set has at least [`MIN_COUNT`] entries and a query through it is
    /// modelled to cost under a quarter of a sweep; otherwise `None`.
    pub fn choose(hash_bits: u32, n: u64, served: u32) -> Option<Plan> {
        if n < MIN_COUNT {
            return None;
        }
        let p = Plan::best(hash_bits, n, served)?;
        (query_cost(&p.tables, n, served) < sweep_cost(n) / 4.0).then_some(p)
    }

    /// The cheapest index by the cost model at distance `served`, among 2 to 16 tables of
    /// equal width within the size rule (the section at most twice the hash array).
    pub fn best(hash_bits: u32, n: u64, served: u32) -> Option<Plan> {
        Plan::best_shaped(hash_bits, n, served, Shape::FILE)
    }

    /// [`best`](Plan::best) for another use of the index.
    pub fn best_shaped(hash_bits: u32, n: u64, served: u32, shape: Shape) -> Option<Plan> {
        if n == 0 || n >= u64::from(u32::MAX) {
            return None;
        }
        let id_bits = id_bits(n);
        let budget = shape.budget * n * u64::from(hash_bits) / 8;
        (2..=16)
            .filter_map(|m| tables_for(hash_bits, m, n, id_bits, shape))
            .map(|t| Plan::laid_out(t, id_bits, served, n))
            .filter(|p| p.section_len() <= budget)
            .map(|p| (query_cost_as(&p.tables, n, served, shape), p))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, p)| p)
    }

    /// `tables` with their directories and entries placed one after another.
    fn laid_out(mut tables: Vec<Table>, id_bits: u32, served: u32, count: u64) -> Plan {
        let mut at = align(64 + 32 * tables.len() as u64);
        for t in &mut tables {
            t.dir = at;
            at = align(at + ((1u64 << t.slot_bits) + 1) * 4);
            t.entries = at;
            at = align(at + count * 4);
        }
        Plan {
            tables,
            id_bits,
            served,
            count,
        }
    }

    /// Bytes the section takes.
    pub fn section_len(&self) -> u64 {
        self.tables
            .last()
            .map_or(64, |t| align(t.entries + self.count * 4))
    }

    fn header(&self) -> IndexHeader {
        IndexHeader {
            magic: MAGIC,
            tables: self.tables.len() as u32,
            id_bits: self.id_bits,
            served: self.served,
            pad: 0,
            count: self.count,
            reserved: [0; 32],
        }
    }

    /// Write the section: header, table descriptions, then each table as it is built
    /// (two at a time on two cores: a table of 100 million entries is 400 MB).
    pub fn write(
        &self,
        words: &[u64],
        w: usize,
        put: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut pos = 0u64;
        let mut emit = |b: &[u8], pos: &mut u64| -> std::io::Result<()> {
            *pos += b.len() as u64;
            put(b)
        };
        emit(bytemuck::bytes_of(&self.header()), &mut pos)?;
        emit(bytemuck::cast_slice(&self.tables), &mut pos)?;
        let pad = |to: u64,
                   pos: &mut u64,
                   emit: &mut dyn FnMut(&[u8], &mut u64) -> std::io::Result<()>| {
            emit(&vec![0u8; (to - *pos) as usize], pos)
        };
        for group in self.tables.chunks(rayon::current_num_threads().max(1)) {
            let built: Vec<Built> = group
                .par_iter()
                .map(|t| build_table(words, w, t, self.id_bits))
                .collect();
            for (t, b) in group.iter().zip(built) {
                pad(t.dir, &mut pos, &mut emit)?;
                emit(bytemuck::cast_slice(&b.dir), &mut pos)?;
                pad(t.entries, &mut pos, &mut emit)?;
                emit(bytemuck::cast_slice(&b.entries), &mut pos)?;
            }
        }
        pad(self.section_len(), &mut pos, &mut emit)
    }
}

fn align(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

/// One table built in memory.
pub struct Built {
    pub dir: Vec<u32>,
    pub entries: Vec<u32>,
}

/// A counting sort of the entries by slot, then each slot's packed words sorted, so a
/// slot lists its entries by low bits, then index.
pub fn build_table(words: &[u64], w: usize, t: &Table, id_bits: u32) -> Built {
    let n = words.len() / w;
    let low = t.low_bits();
    let keys = || words.chunks_exact(w).map(|h| key(h, t.start, t.bits));
    let mut dir = vec![0u32; (1usize << t.slot_bits) + 1];
    for k in keys() {
        dir[(k >> low) as usize + 1] += 1;
    }
    for s in 1..dir.len() {
        dir[s] += dir[s - 1];
    }
    let mut fill = dir.clone();
    let mut entries = vec![0u32; n];
    let low_mask = (1u64 << low) - 1;
    for (i, k) in keys().enumerate() {
        let s = (k >> low) as usize;
        entries[fill[s] as usize] = (((u64::from(k) & low_mask) << id_bits) | i as u64) as u32;
        fill[s] += 1;
    }
    if low > 0 {
        for s in 0..dir.len() - 1 {
            entries[dir[s] as usize..dir[s + 1] as usize].sort_unstable();
        }
    }
    Built { dir, entries }
}

/// A table as the search reads it, from a mapped section or from memory.
#[derive(Debug, Clone, Copy)]
pub struct TableView<'a> {
    pub table: Table,
    pub dir: &'a [u32],
    pub entries: &'a [u32],
}

/// An index as the search reads it.
#[derive(Debug, Clone)]
pub struct IndexView<'a> {
    pub header: IndexHeader,
    pub tables: Vec<TableView<'a>>,
}

impl<'a> IndexView<'a> {
    /// The index in a mapped section, every table checked to lie inside it and to cover
    /// the hash bits in order. The directories' contents are not read here (that would
    /// read the whole index on every open); the search slices them with checks, and the
    /// set's checksum covers them.
    pub fn parse(section: &'a [u8], count: u64, hash_bits: u32) -> Result<Self, String> {
        let header: IndexHeader = section
            .get(..64)
            .map(bytemuck::pod_read_unaligned)
            .ok_or("index section shorter than its header")?;
        if header.magic != MAGIC {
            return Err("index section has an unknown magic".into());
        }
        if header.count != count || header.tables == 0 || header.tables > 64 {
            return Err("index header does not fit the set".into());
        }
        if header.id_bits != id_bits(count) {
            return Err("index entry packing does not fit the set".into());
        }
        let m = header.tables as usize;
        let descs: Vec<Table> = section
            .get(64..64 + 32 * m)
            .map(|b| {
                b.chunks_exact(32)
                    .map(bytemuck::pod_read_unaligned)
                    .collect()
            })
            .ok_or("index table descriptions out of bounds")?;
        let mut start = 0;
        let mut tables = Vec::with_capacity(m);
        for t in descs {
            let ok = t.start == start
                && (1..=32).contains(&t.bits)
                && t.slot_bits <= t.bits.min(30)
                && t.low_bits() + header.id_bits <= 32;
            if !ok {
                return Err("index table does not fit the hash".into());
            }
            start += t.bits;
            let dir_len = ((1usize << t.slot_bits) + 1) * 4;
            tables.push(TableView {
                table: t,
                dir: words_at(section, t.dir, dir_len)?,
                entries: words_at(section, t.entries, count as usize * 4)?,
            });
        }
        if start != hash_bits {
            return Err("index tables do not cover the hash".into());
        }
        Ok(IndexView { header, tables })
    }

    /// An index built in memory (the self-join builds one over hashes that are no set).
    pub fn of(plan: &Plan, built: &'a [Built]) -> IndexView<'a> {
        IndexView {
            header: plan.header(),
            tables: plan
                .tables
                .iter()
                .zip(built)
                .map(|(t, b)| TableView {
                    table: *t,
                    dir: &b.dir,
                    entries: &b.entries,
                })
                .collect(),
        }
    }

    pub fn table_shapes(&self) -> Vec<Table> {
        self.tables.iter().map(|t| t.table).collect()
    }
}

fn words_at(section: &[u8], at: u64, len: usize) -> Result<&[u32], String> {
    let end = (at as usize).checked_add(len);
    match end.and_then(|e| section.get(at as usize..e)) {
        Some(b) if at.is_multiple_of(ALIGN) => Ok(bytemuck::cast_slice(b)),
        _ => Err("index table out of bounds".into()),
    }
}

/// Build every table of `plan` in memory.
pub fn build_all(plan: &Plan, words: &[u64], w: usize) -> Vec<Built> {
    plan.tables
        .par_iter()
        .map(|t| build_table(words, w, t, plan.id_bits))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radii_always_reach_the_distance() {
        for m in 1..=16 {
            for d in 0..=80 {
                let r = radii(m, d);
                assert_eq!(r.iter().map(|r| (r + 1) as u32).sum::<u32>(), d + 1);
                assert!(r.iter().max().unwrap() - r.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn keys_span_word_boundaries() {
        let w = [0xF000_0000_0000_0000u64, 0x0000_0000_0000_000Fu64];
        assert_eq!(key(&w, 60, 8), 0xFF);
        assert_eq!(key(&w, 0, 32), 0);
        assert_eq!(key(&w, 64, 4), 0xF);
        assert_eq!(ball(16, 1), 17.0);
        assert_eq!(ball(32, 3), 5489.0);
    }

    #[test]
    fn plans_fit_the_size_rule_and_pay() {
        for &(bits, served) in &[(256, 31), (64, 10)] {
            assert_eq!(Plan::choose(bits, MIN_COUNT - 1, served), None);
            for n in [1_000_000, 10_000_000, 100_000_000] {
                let p = Plan::choose(bits, n, served).expect("large sets get an index");
                assert!(p.section_len() <= 2 * n * u64::from(bits) / 8);
                assert_eq!(p.tables.iter().map(|t| t.bits).sum::<u32>(), bits);
            }
        }
    }

    #[test]
    fn a_table_lists_every_entry_once_under_its_key() {
        let words: Vec<u64> = crate::hash::random_words(3).take(4 * 5000).collect();
        let t = tables_for(256, 12, 5000, 13, Shape::FILE).unwrap();
        let plan = Plan::laid_out(t, 13, 31, 5000);
        for (t, b) in plan.tables.iter().zip(build_all(&plan, &words, 4)) {
            let mut seen = vec![false; 5000];
            for s in 0..b.dir.len() - 1 {
                for &x in &b.entries[b.dir[s] as usize..b.dir[s + 1] as usize] {
                    let i = (x & ((1 << 13) - 1)) as usize;
                    let k = key(&words[i * 4..], t.start, t.bits);
                    assert_eq!((k >> t.low_bits()) as usize, s);
                    assert_eq!(k & ((1 << t.low_bits()) - 1), x >> 13);
                    assert!(!std::mem::replace(&mut seen[i], true));
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
    }
}
