//! The multi-index (issue 25): exact by construction, so every test compares it with the
//! sweep, pair for pair, on random, planted, skewed and adversarial sets; and the set file
//! keeps its identity and stays readable when an index is added or dropped.

mod common;

use std::path::Path;

use hashsweep::cpu::hamming;
use hashsweep::matching::{IndexChoice, MatchParams, Matcher, Planner, QueryHashes, Route};
use hashsweep::matching::{mih, mih_batch};
use hashsweep::refset::index::{self, IndexView, Plan};
use hashsweep::refset::indexed::{Want, reindex};
use hashsweep::refset::write::{Entry, EntrySections, write_set};
use hashsweep::refset::{Algo, RefSet};

use common::{bin, run_ok, scratch};

/// `refs random` with an index where it pays, or none.
fn random_set(path: &Path, count: u64, seed: u64, no_index: bool) {
    let (count, seed) = (count.to_string(), seed.to_string());
    let mut args = vec!["refs", "random", "--count", &count, "--seed", &seed, "-o"];
    args.push(path.to_str().unwrap());
    if no_index {
        args.push("--no-index");
    }
    run_ok(&args);
}

/// A small xorshift stream of words (the same generator `refs random` uses).
fn words(seed: u64, n: usize) -> Vec<u64> {
    hashsweep::hash::random_words(seed).take(n).collect()
}

/// `h` with bits `flips` inverted.
fn flipped(h: &[u64], flips: impl IntoIterator<Item = u32>) -> Vec<u64> {
    let mut v = h.to_vec();
    for b in flips {
        v[(b / 64) as usize] ^= 1 << (b % 64);
    }
    v
}

/// A set of these hashes with the best index for them (whatever their number).
fn indexed_set(dir: &Path, name: &str, algo: Algo, hashes: &[Vec<u64>]) -> RefSet {
    let path = dir.join(name);
    let entries = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| Entry::labelled(h, format!("e{i}")))
        .collect();
    write_set(&path, &mut EntrySections::new(algo, entries)).unwrap();
    let done = reindex(&path, Want::Always, None).unwrap();
    assert!(done.plan.is_some(), "{name}: {:?}", done.why_not);
    RefSet::open(&path).unwrap()
}

/// The same matches through the index as by the sweep, at each distance.
fn same_as_sweep(set: &RefSet, q: &QueryHashes, distances: impl IntoIterator<Item = u32>) {
    let through = Planner::cpu().index(IndexChoice::Mih);
    for d in distances {
        for top_k in [None, Some(3)] {
            let params = MatchParams {
                max_distance: d,
                top_k,
            };
            let want = Matcher::Cpu.run(set, q, &params).unwrap();
            let got = through.run(set, q, &params);
            assert_eq!(got, want, "distance {d}, top_k {top_k:?}");
        }
    }
    assert!(through.stats().contains_key(Route::Mih.name()));
    both_paths_equal_the_sweep(set, q, 31);
}

/// One query at a time and the batch join, each against `hamming::scan`, hit for hit.
fn both_paths_equal_the_sweep(set: &RefSet, q: &QueryHashes, d: u32) {
    let w = set.algo().words();
    let view = set.index().unwrap();
    let cut = vec![d; q.len()];
    let key = |h: &hashsweep::cpu::hamming::Hit| (h.query, h.entry, h.distance);
    let mut want: Vec<_> = hamming::scan(set.words(), &q.words, &cut, w)
        .iter()
        .map(key)
        .collect();
    want.sort_unstable();
    let each = mih::search_each(&view, set.words(), &q.words, &cut, w);
    let batch = mih_batch::search_batch(&view, set.words(), &q.words, d, w, None);
    for (name, found) in [("one at a time", each), ("batch", batch)] {
        let mut got: Vec<_> = found.hits.iter().map(key).collect();
        got.sort_unstable();
        assert_eq!(got, want, "{name}");
    }
}

/// Near-duplicate series around random centres: each centre, then copies at growing
/// distances, as lists of edited pictures hold them.
fn planted(seed: u64, centres: usize, w: usize) -> (Vec<Vec<u64>>, Vec<Vec<u64>>) {
    let bits = (w * 64) as u32;
    let mut r = hashsweep::hash::random_words(seed);
    let mut set = vec![];
    let mut queries = vec![];
    for _ in 0..centres {
        let c: Vec<u64> = r.by_ref().take(w).collect();
        for d in [0u32, 3, 9, 17, 26, 31, 40] {
            let flips: Vec<u32> = (0..d)
                .map(|_| (r.next().unwrap() % u64::from(bits)) as u32)
                .collect();
            set.push(flipped(&c, flips));
        }
        let flips: Vec<u32> = (0..(r.next().unwrap() % 32) as u32)
            .map(|_| (r.next().unwrap() % u64::from(bits)) as u32)
            .collect();
        queries.push(flipped(&c, flips));
    }
    (set, queries)
}

fn queries_of(algo: Algo, hashes: &[Vec<u64>]) -> QueryHashes {
    let mut q = QueryHashes::new(algo);
    for (i, h) in hashes.iter().enumerate() {
        q.push(i as u32, 0, h);
    }
    q
}

#[test]
fn pdq_through_the_index_equals_the_sweep_at_every_distance_to_63() {
    let dir = scratch("mih-pdq");
    let (mut set, queries) = planted(1, 150, 4);
    set.extend(words(2, 4 * 20_000).chunks(4).map(<[u64]>::to_vec));
    let s = indexed_set(&dir, "pdq.hsref", Algo::Pdq, &set);
    let mut q = queries_of(Algo::Pdq, &queries);
    // Unrelated queries and exact copies of entries too.
    for (i, h) in set.iter().step_by(97).enumerate() {
        q.push((queries.len() + i) as u32, 0, h);
    }
    same_as_sweep(&s, &q, (0..=63).step_by(3).chain([31, 63]));
}

#[test]
fn phash_through_the_index_equals_the_sweep_at_every_distance_to_16() {
    let dir = scratch("mih-phash");
    let (mut set, queries) = planted(3, 300, 1);
    set.extend(words(4, 30_000).chunks(1).map(<[u64]>::to_vec));
    let s = indexed_set(&dir, "phash.hsref", Algo::Phash, &set);
    same_as_sweep(&s, &queries_of(Algo::Phash, &queries), 0..=16);
}

/// Every distance 0..=D placed on the tables' edges: flips filling tables up to one past
/// their radius in order (so the one table left within its radius is the last one that
/// can be), and flips on each range's first and last bits.
#[test]
fn adversarial_flips_at_every_substring_boundary_are_found() {
    let dir = scratch("mih-adversarial");
    let centre = words(5, 4);
    let mut set: Vec<Vec<u64>> = words(6, 4 * 5000).chunks(4).map(<[u64]>::to_vec).collect();
    let plan = Plan::best(256, 5000 + 2 * 64 * 3, 31).unwrap();
    let tables = &plan.tables;
    for d in 0..=63u32 {
        let r = index::radii(tables.len(), d.min(31));
        let mut flips = vec![];
        'fill: for (t, &ri) in tables.iter().zip(&r) {
            for k in 0..=(ri.max(0) as u32) {
                if flips.len() as u32 == d {
                    break 'fill;
                }
                flips.push(t.start + k.min(t.bits - 1));
            }
        }
        set.push(flipped(&centre, flips));
        let edges: Vec<u32> = tables
            .iter()
            .flat_map(|t| [t.start, t.start + t.bits - 1])
            .take(d as usize)
            .collect();
        set.push(flipped(&centre, edges));
        let spread: Vec<u32> = (0..d).map(|k| (k * 256 / d.max(1)) % 256).collect();
        set.push(flipped(&centre, spread));
    }
    let s = indexed_set(&dir, "edges.hsref", Algo::Pdq, &set);
    let q = queries_of(Algo::Pdq, &[centre]);
    same_as_sweep(&s, &q, 0..=63);
}

/// 10% of the entries share one range's value (flat pictures hash alike): still exact,
/// and the queries that land on that slot are swept rather than probed.
#[test]
fn a_skewed_list_stays_exact_and_its_heavy_slots_are_swept() {
    let dir = scratch("mih-skewed");
    let mut set: Vec<Vec<u64>> = words(7, 4 * 30_000)
        .chunks(4)
        .map(<[u64]>::to_vec)
        .collect();
    for h in set.iter_mut().step_by(10) {
        h[0] &= !0xFFFF_FFFF; // the same low 32 bits: the first tables' ranges agree
    }
    let s = indexed_set(&dir, "skewed.hsref", Algo::Pdq, &set);
    let mut heavy = set[0].clone();
    heavy[1] ^= 0xFF;
    let q = queries_of(Algo::Pdq, &[heavy, set[5].clone(), words(8, 4)]);
    same_as_sweep(&s, &q, [0, 10, 31]);
    let view = s.index().unwrap();
    let cut = vec![31; q.len()];
    let found = mih::search_each(&view, s.words(), &q.words, &cut, 4);
    assert_eq!(found.swept, 1, "only the query on the heavy slot is swept");
    let found = mih_batch::search_batch(&view, s.words(), &q.words, 31, 4, None);
    assert_eq!(found.swept, 1, "the batch join sweeps the same query");
}

/// Dihedral and trimmed forms are more query hashes of one picture: merged the same way.
#[test]
fn variants_and_top_k_merge_the_same_through_the_index() {
    let dir = scratch("mih-variants");
    let (set, queries) = planted(9, 100, 4);
    let s = indexed_set(&dir, "v.hsref", Algo::Pdq, &set);
    let mut q = QueryHashes::new(Algo::Pdq);
    for (i, h) in queries.iter().enumerate() {
        for v in 0..4u8 {
            q.push((i / 2) as u32, v * 3, &flipped(h, [u32::from(v) * 7]));
        }
    }
    same_as_sweep(&s, &q, [5, 20, 31, 45]);
}

#[test]
fn adding_an_index_keeps_the_sets_identity_and_its_other_sections() {
    let dir = scratch("mih-identity");
    let path = dir.join("s.hsref");
    random_set(&path, 70000, 3, true);
    let before = std::fs::read(&path).unwrap();
    let plain = RefSet::open(&path).unwrap();
    let identity = plain.identity();
    assert!(plain.index().is_none());
    drop(plain);
    let o = bin()
        .args(["refs", "index", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("index of"));
    let after = std::fs::read(&path).unwrap();
    let set = RefSet::open(&path).unwrap();
    assert!(set.index().is_some());
    assert_eq!(set.identity(), identity, "identity unchanged by the index");
    assert_eq!(set.verify().unwrap(), identity);
    let h = set.header();
    assert!(
        h.index_len <= 2 * 70_000 * 32,
        "index within twice the hash array"
    );
    // Every byte a reader without the index knows is where it was.
    assert_eq!(after[256..before.len()], before[256..]);
    assert_eq!(
        after[..20],
        before[..20],
        "magic, version, algorithm, width"
    );
    assert_eq!(after[24..80], before[24..80], "count and section offsets");
    assert_eq!(after[128..168], before[128..168], "video sections");
    assert_eq!(
        u32::from_le_bytes(after[20..24].try_into().unwrap()) & !32,
        u32::from_le_bytes(before[20..24].try_into().unwrap())
    );
    // `refs info` names it; dropping it gives back the very same file.
    let info: serde_json::Value =
        serde_json::from_str(&run_ok(&["refs", "info", "--json", path.to_str().unwrap()])).unwrap();
    assert_eq!(info["identity"], identity.as_str());
    assert!(info["index"]["tables"].as_u64().unwrap() >= 2);
    run_ok(&["refs", "index", "--drop", path.to_str().unwrap()]);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn match_gives_the_same_lines_through_the_index_and_refuses_mih_without_one() {
    let dir = scratch("mih-cli");
    let set = dir.join("s.hsref");
    let plain = dir.join("plain.hsref");
    let list = dir.join("q.txt");
    random_set(&set, 400000, 4, false);
    random_set(&plain, 100, 4, false);
    let s = RefSet::open(&set).unwrap();
    assert!(
        s.index().is_some(),
        "refs random writes an index where it pays"
    );
    // Queries near entries of the set: flipped copies at 0..31 bits, and random ones.
    let mut text = String::new();
    for (i, k) in (0..400usize).map(|i| (i, i * 211 % s.len())) {
        let h = flipped(s.hash_words(k), (0..(i % 40) as u32).map(|b| b * 6 % 256));
        text += &format!(
            "{}\n",
            hashsweep::hash::Pdq256(h.try_into().unwrap()).to_hex()
        );
    }
    std::fs::write(&list, text).unwrap();
    let run = |how: &str| {
        let o = bin()
            .args([
                "match",
                list.to_str().unwrap(),
                "--refs",
                set.to_str().unwrap(),
                "--index",
                how,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    let (flat, flat_err) = run("flat");
    let (mih, mih_err) = run("mih");
    let (auto, auto_err) = run("auto");
    assert!(flat.lines().count() > 300, "planted queries match");
    assert_eq!(mih, flat);
    assert_eq!(auto, flat);
    assert!(flat_err.contains("matching: cpu-sweep"), "{flat_err}");
    assert!(mih_err.contains("matching: mih"), "{mih_err}");
    assert!(
        auto_err.contains("matching: mih"),
        "the model picks the index: {auto_err}"
    );
    let o = bin()
        .args([
            "match",
            list.to_str().unwrap(),
            "--refs",
            plain.to_str().unwrap(),
            "--index",
            "mih",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no index"));
}

/// A hostile index section (tables that do not cover the hash) is refused on open.
#[test]
fn a_damaged_index_is_refused_on_open() {
    let dir = scratch("mih-hostile");
    let path = dir.join("s.hsref");
    random_set(&path, 70000, 1, true);
    run_ok(&["refs", "index", path.to_str().unwrap()]);
    let mut b = std::fs::read(&path).unwrap();
    let at = u64::from_le_bytes(b[168..176].try_into().unwrap()) as usize;
    assert_eq!(&b[at..at + 8], index::MAGIC);
    b[at + 64 + 4] ^= 0x10; // first table's width
    let bad = dir.join("bad.hsref");
    std::fs::write(&bad, &b).unwrap();
    let e = RefSet::open(&bad).err().expect("refused").to_string();
    assert!(e.contains("index"), "{e}");
    let _ = IndexView::parse(&b[at..], 70_000, 256).expect_err("parse refuses it too");
}
