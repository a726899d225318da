//! Near-duplicate groups among hashes nobody has listed: every pair within a distance,
//! found exactly by a self-join (the matchers' kernels, CPU or GPU), grouped into connected
//! components or into tighter groups around centres, so that each series is reviewed once.
//!
//! Identical hashes are joined once, as one node standing for all their copies.

pub mod groups;
pub mod input;
pub mod join;

use std::time::Instant;

use crate::matching::Planner;

pub use input::{ClusterInputError, Hashes, ReadOptions, read};
use join::{JoinInput, Pair};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Everything linked by a chain of pairs: complete, but a chain can join series that
    /// are far apart at its ends.
    Components,
    /// Every member within the distance of its group's centre.
    Centres,
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub max_distance: u32,
    pub grouping: Grouping,
    /// Groups of fewer hashes are left out (2: no singletons).
    pub min_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Index into the hashes read.
    pub hash: usize,
    /// To the centre's hash (with variants: the smallest over either one's forms).
    pub distance: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub centre: usize,
    /// The centre first, then by distance and input order.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct Clustering {
    /// Largest first.
    pub groups: Vec<Group>,
    pub distinct: usize,
    /// Pairs of distinct hashes within the distance.
    pub pairs: u64,
    pub comparisons: u64,
    pub seconds: f64,
}

/// Distinct hashes, each standing for the input hashes equal to it.
struct Nodes {
    words: Vec<u64>,
    variants: Option<Vec<u64>>,
    /// Input indices, node by node: node `i` is `members[start[i]..start[i + 1]]`.
    members: Vec<usize>,
    start: Vec<usize>,
}

impl Nodes {
    fn of(h: &Hashes) -> Nodes {
        let w = h.algo.words();
        let mut order: Vec<usize> = (0..h.len()).collect();
        order.sort_by(|&a, &b| h.hash(a).cmp(h.hash(b)).then(a.cmp(&b)));
        let mut nodes = Nodes {
            words: vec![],
            variants: h.variants.as_ref().map(|_| vec![]),
            members: Vec::with_capacity(order.len()),
            start: vec![],
        };
        for (k, &i) in order.iter().enumerate() {
            if k == 0 || h.hash(order[k - 1]) != h.hash(i) {
                nodes.start.push(nodes.members.len());
                nodes.words.extend_from_slice(h.hash(i));
                if let (Some(all), Some(v)) = (nodes.variants.as_mut(), h.variants.as_ref()) {
                    all.extend_from_slice(&v[i * 7 * w..(i + 1) * 7 * w]);
                }
            }
            nodes.members.push(i);
        }
        nodes.start.push(nodes.members.len());
        nodes
    }

    fn len(&self) -> usize {
        self.start.len() - 1
    }

    fn of_node(&self, i: u32) -> &[usize] {
        &self.members[self.start[i as usize]..self.start[i as usize + 1]]
    }

    fn weights(&self) -> Vec<u32> {
        self.start
            .windows(2)
            .map(|s| (s[1] - s[0]) as u32)
            .collect()
    }

    /// Smallest distance between any form of one and the other's original.
    fn distance(&self, a: u32, b: u32, w: usize) -> u32 {
        let forms = |i: u32| -> Vec<&[u64]> {
            let mut f = vec![&self.words[i as usize * w..(i as usize + 1) * w]];
            if let Some(v) = &self.variants {
                f.extend(v[i as usize * 7 * w..(i as usize + 1) * 7 * w].chunks_exact(w));
            }
            f
        };
        let d = |x: &[u64], y: &[u64]| x.iter().zip(y).map(|(p, q)| (p ^ q).count_ones()).sum();
        let (fa, fb) = (forms(a), forms(b));
        fa.iter()
            .map(|x| d(x, fb[0]))
            .chain(fb.iter().map(|y| d(y, fa[0])))
            .min()
            .expect("a hash has a form")
    }
}

/// Group the hashes, joining where `planner` matches (the GPU while it works, else all CPU
/// cores; why it moved to the CPU is the planner's to say).
pub fn cluster(
    h: &Hashes,
    p: &Params,
    planner: &Planner,
    progress: &crate::progress::Progress,
) -> Clustering {
    let started = Instant::now();
    let nodes = Nodes::of(h);
    let n = nodes.len();
    let w = h.algo.words();
    let weight = nodes.weights();
    let input = JoinInput {
        words: &nodes.words,
        w,
        variants: nodes.variants.as_deref(),
        max_distance: p.max_distance,
        key: crate::refset::fresh_instance_id(),
    };
    let mut uf = groups::UnionFind::new(n);
    // Pairs are kept only where needed: for centres, and to merge the duplicates that
    // dihedral blocks find from both sides.
    let keep = p.grouping == Grouping::Centres || nodes.variants.is_some();
    let mut kept: Vec<Pair> = vec![];
    let mut reach = groups::own_reach(&weight);
    let mut pairs = 0u64;
    let (mut joined, blocks) = (0, n.div_ceil(join::BLOCK));
    let comparisons = join::self_join(&input, planner, |block| {
        joined += 1;
        progress.stage(format!(
            "joining {n} hashes: block {joined} of {blocks} done"
        ));
        for pr in block {
            uf.union(pr.a, pr.b);
        }
        if keep {
            kept.extend_from_slice(block);
        } else {
            pairs += block.len() as u64;
            groups::add_reach(&mut reach, &weight, block);
        }
    });
    if keep {
        kept.sort_unstable();
        kept.dedup_by_key(|pr| (pr.a, pr.b));
        pairs = kept.len() as u64;
        groups::add_reach(&mut reach, &weight, &kept);
    }
    let found = match p.grouping {
        Grouping::Components => groups::components(&mut uf, &reach),
        Grouping::Centres => groups::around_centres(n, &kept, &reach),
    };
    let mut out: Vec<Group> = found
        .into_iter()
        .map(|(centre, members)| expand(&nodes, centre, &members, w))
        .filter(|g| g.members.len() >= p.min_size.max(1))
        .collect();
    out.sort_by_key(|g| (std::cmp::Reverse(g.members.len()), g.centre));
    Clustering {
        groups: out,
        distinct: n,
        pairs,
        comparisons,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// A group of nodes as input hashes: the centre node's first copy is the centre.
fn expand(nodes: &Nodes, centre: u32, group: &[u32], w: usize) -> Group {
    let mut members: Vec<Member> = group
        .iter()
        .flat_map(|&node| {
            let d = if node == centre {
                0
            } else {
                nodes.distance(node, centre, w)
            };
            nodes
                .of_node(node)
                .iter()
                .map(move |&hash| Member { hash, distance: d })
        })
        .collect();
    let centre = nodes.of_node(centre)[0];
    members.sort_by_key(|m| (m.hash != centre, m.distance, m.hash));
    Group { centre, members }
}
