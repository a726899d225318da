//! `hashsweep cluster`: groups compared with brute force over all pairs, on the CPU and
//! (where an adapter exists) the GPU, dihedral copies grouped only with --dihedral, and bad
//! inputs named.

mod common;

use common::{bin, scratch};

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use hashsweep::hash::Pdq256;
use serde_json::Value;

const D: u32 = 31;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: a fixed, dependency-free sequence.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn hash(&mut self) -> Pdq256 {
        Pdq256([self.next(), self.next(), self.next(), self.next()])
    }

    fn flip(&mut self, h: Pdq256, bits: u32) -> Pdq256 {
        let mut out = h;
        let mut flipped = BTreeSet::new();
        while flipped.len() < bits as usize {
            flipped.insert((self.next() % 256) as usize);
        }
        for b in flipped {
            out.0[b / 64] ^= 1 << (b % 64);
        }
        out
    }
}

/// Series of near-duplicates (some with exact copies), chains whose ends are far apart,
/// and loners, as `hash --format jsonl` lines; some of low quality.
fn corpus(path: &Path) -> Vec<(String, Pdq256, u8)> {
    let mut rng = Rng(0x5eed);
    let mut all = vec![];
    for s in 0..40 {
        let centre = rng.hash();
        for m in 0..(1 + s % 7) {
            let h = if m == 3 {
                centre
            } else {
                rng.flip(centre, (m * 3) as u32)
            };
            all.push((format!("series{s}/m{m}.jpg"), h, 60 + (m % 5) as u8 * 10));
        }
    }
    for c in 0..5 {
        let mut h = rng.hash();
        for k in 0..6 {
            all.push((format!("chain{c}/k{k}.jpg"), h, 90));
            h = rng.flip(h, 20 + k);
        }
    }
    for l in 0..200 {
        all.push((
            format!("loner{l}.jpg"),
            rng.hash(),
            if l % 10 == 0 { 20 } else { 80 },
        ));
    }
    let text: String = all
        .iter()
        .map(|(p, h, q)| {
            format!("{{\"path\":\"{p}\",\"status\":\"ok\",\"pdq\":\"{h}\",\"quality\":{q}}}\n")
        })
        .collect();
    std::fs::write(path, text).unwrap();
    all.into_iter().filter(|(_, _, q)| *q >= 50).collect()
}

/// Connected components of the brute-force pair graph, as sets of labels (size >= 1).
fn brute_components(all: &[(String, Pdq256, u8)]) -> BTreeSet<BTreeSet<String>> {
    let n = all.len();
    let mut group: Vec<usize> = (0..n).collect();
    fn root(g: &mut [usize], mut x: usize) -> usize {
        while g[x] != x {
            x = g[x];
        }
        x
    }
    for a in 0..n {
        for b in a + 1..n {
            if all[a].1.distance(&all[b].1).0 <= D {
                let (ra, rb) = (root(&mut group, a), root(&mut group, b));
                group[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut by: HashMap<usize, BTreeSet<String>> = HashMap::new();
    for (i, (label, _, _)) in all.iter().enumerate() {
        let r = root(&mut group, i);
        by.entry(r).or_default().insert(label.clone());
    }
    by.into_values().collect()
}

fn groups_of(out: &Path) -> (Vec<Value>, Value) {
    let lines = common::records(out);
    let summary = lines.last().unwrap().clone();
    assert_eq!(summary["type"], "summary");
    (lines[..lines.len() - 1].to_vec(), summary)
}

fn partition(groups: &[Value]) -> BTreeSet<BTreeSet<String>> {
    groups
        .iter()
        .map(|g| {
            g["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["label"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn run_cluster(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let o = bin()
        .arg("cluster")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn components_equal_brute_force_and_are_listed_by_size() {
    let d = scratch("cluster-components");
    let kept = corpus(&d.join("hashes.jsonl"));
    let out = d.join("groups.jsonl");
    run_cluster(
        &d.join("hashes.jsonl"),
        &out,
        &["--backend", "cpu", "--min-size", "1"],
    );
    let (groups, summary) = groups_of(&out);
    assert_eq!(partition(&groups), brute_components(&kept));
    assert_eq!(summary["hashes"], kept.len());
    let sizes: Vec<u64> = groups.iter().map(|g| g["size"].as_u64().unwrap()).collect();
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {sizes:?}"
    );
    // Exact copies count once among distinct hashes; each member's distance is the real
    // distance to the centre, which is the first member.
    assert!(summary["distinct"].as_u64().unwrap() < kept.len() as u64);
    let hash_of: HashMap<&str, Pdq256> = kept.iter().map(|(p, h, _)| (p.as_str(), *h)).collect();
    for g in &groups {
        let members = g["members"].as_array().unwrap();
        assert_eq!(members[0]["label"], g["centre"]);
        let centre = hash_of[g["centre"].as_str().unwrap()];
        for m in members {
            let h = hash_of[m["label"].as_str().unwrap()];
            assert_eq!(
                m["distance"].as_u64().unwrap(),
                u64::from(h.distance(&centre).0)
            );
            assert_eq!(m["hash"].as_str().unwrap(), h.to_string());
        }
    }
    // The chains are whole components although their ends are far apart.
    let chain0: BTreeSet<String> = (0..6).map(|k| format!("chain0/k{k}.jpg")).collect();
    assert!(partition(&groups).contains(&chain0));
    // The default leaves out loners.
    let out2 = d.join("groups2.jsonl");
    run_cluster(&d.join("hashes.jsonl"), &out2, &["--backend", "cpu"]);
    let (groups2, _) = groups_of(&out2);
    assert!(groups2.iter().all(|g| g["size"].as_u64().unwrap() >= 2));
    assert_eq!(
        partition(&groups2),
        brute_components(&kept)
            .into_iter()
            .filter(|g| g.len() >= 2)
            .collect()
    );
}

#[test]
fn centre_groups_hold_every_hash_once_within_the_distance_of_their_centre() {
    let d = scratch("cluster-centres");
    let kept = corpus(&d.join("hashes.jsonl"));
    let out = d.join("groups.jsonl");
    run_cluster(
        &d.join("hashes.jsonl"),
        &out,
        &["--backend", "cpu", "--groups", "centres", "--min-size", "1"],
    );
    let (groups, _) = groups_of(&out);
    let p = partition(&groups);
    let listed: Vec<String> = p.iter().flatten().cloned().collect();
    assert_eq!(listed.len(), kept.len(), "every hash in exactly one group");
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), kept.len());
    for g in &groups {
        assert!(
            g["members"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["distance"].as_u64().unwrap() <= u64::from(D))
        );
    }
    // Tighter than components: each chain of 6 is cut.
    assert!(groups.len() > brute_components(&kept).len());
    // Every centre group lies inside one component.
    let comps = brute_components(&kept);
    for g in &p {
        assert!(comps.iter().any(|c| g.is_subset(c)));
    }
}

#[test]
fn the_gpu_join_groups_as_the_cpu_does() {
    if common::gpu_engine().is_none() {
        return;
    }
    let d = scratch("cluster-gpu");
    corpus(&d.join("hashes.jsonl"));
    let (cpu, gpu) = (d.join("cpu.jsonl"), d.join("gpu.jsonl"));
    for (out, backend) in [(&cpu, "cpu"), (&gpu, "gpu")] {
        for grouping in ["components", "centres"] {
            let o = out.with_extension(format!("{grouping}.jsonl"));
            run_cluster(
                &d.join("hashes.jsonl"),
                &o,
                &["--backend", backend, "--groups", grouping],
            );
        }
    }
    for grouping in ["components", "centres"] {
        let (a, sa) = groups_of(&cpu.with_extension(format!("{grouping}.jsonl")));
        let (b, sb) = groups_of(&gpu.with_extension(format!("{grouping}.jsonl")));
        assert_eq!(a, b, "{grouping}");
        assert_eq!(sa["pairs"], sb["pairs"]);
        assert_eq!(sb["backend"], "gpu");
    }
}

/// A picture of random coloured blocks with sharp edges: distinct under PDQ, and with
/// energy at every frequency PDQ keeps, so that its bits are stable.
fn blocks(seed: u64) -> image::RgbImage {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let small = image::RgbImage::from_fn(32, 32, |_, _| {
        let v = rng.next();
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    image::imageops::resize(&small, 256, 256, image::imageops::FilterType::Nearest)
}

#[test]
fn rotated_copies_group_only_with_dihedral() {
    let d = scratch("cluster-dihedral");
    let images = d.join("img");
    std::fs::create_dir_all(&images).unwrap();
    for s in 0..6u64 {
        let img = blocks(s + 1);
        img.save(images.join(format!("p{s}.png"))).unwrap();
        image::imageops::rotate90(&img)
            .save(images.join(format!("p{s}-rot.png")))
            .unwrap();
    }
    let hashed = d.join("hashes.jsonl");
    let st = bin()
        .args([
            "hash",
            "--backend",
            "cpu",
            "--dihedral",
            "--format",
            "jsonl",
            "-o",
        ])
        .arg(&hashed)
        .arg(&images)
        .status()
        .unwrap();
    assert!(st.success());
    let plain = d.join("plain.jsonl");
    run_cluster(&hashed, &plain, &["--backend", "cpu"]);
    assert!(
        groups_of(&plain).0.is_empty(),
        "no two pictures alike as they are"
    );
    let turned = d.join("turned.jsonl");
    run_cluster(&hashed, &turned, &["--backend", "cpu", "--dihedral"]);
    let (groups, summary) = groups_of(&turned);
    assert_eq!(summary["dihedral"], true);
    assert_eq!(groups.len(), 6, "{groups:?}");
    for g in &groups {
        let names: Vec<String> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| common::file_name(Path::new(m["label"].as_str().unwrap())))
            .collect();
        assert_eq!(names.len(), 2);
        assert_eq!(names[0].replace("-rot", ""), names[1].replace("-rot", ""));
    }
}

#[test]
fn bad_inputs_are_named() {
    let d = scratch("cluster-bad");
    let o = bin()
        .args(["cluster", "--backend", "cpu"])
        .arg(d.join("nope.jsonl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.jsonl"));
    let list = d.join("list.txt");
    std::fs::write(&list, format!("{}\n", Pdq256([1, 2, 3, 4]))).unwrap();
    let o = bin()
        .args(["cluster", "--backend", "cpu", "--dihedral"])
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("list.txt") && err.contains("--dihedral"),
        "{err}"
    );
    let broken = d.join("broken.jsonl");
    std::fs::write(&broken, "{\"path\":\"a\",\"pdq\":\"zz\"}\n").unwrap();
    let o = bin()
        .args(["cluster", "--backend", "cpu"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("broken.jsonl, line 1"));
}
