//! From pairs to groups: connected components (union-find, fed as the join streams), or
//! tighter groups around centres (greedy: the hash with the most neighbours first, with all
//! its neighbours not yet taken; repeat).

use super::join::Pair;

/// Disjoint sets over `n` items, by size, with path halving.
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }
}

/// What each node reaches before any pair: its own other copies (a distinct hash stands
/// for `weight` input hashes).
pub fn own_reach(weight: &[u32]) -> Vec<u64> {
    weight.iter().map(|&w| u64::from(w) - 1).collect()
}

/// Add the pairs' neighbours, counted with their weight: a node's reach is then how many
/// hashes it would gather as a centre.
pub fn add_reach(reach: &mut [u64], weight: &[u32], pairs: &[Pair]) {
    for p in pairs {
        reach[p.a as usize] += u64::from(weight[p.b as usize]);
        reach[p.b as usize] += u64::from(weight[p.a as usize]);
    }
}

/// The node of most reach, ties to the lowest index: the same centre on every run.
fn best(nodes: &[u32], reach: &[u64]) -> u32 {
    *nodes
        .iter()
        .max_by_key(|&&i| (reach[i as usize], std::cmp::Reverse(i)))
        .expect("a group has a node")
}

/// Connected components of more than one node or weight, each as (centre, nodes).
pub fn components(uf: &mut UnionFind, reach: &[u64]) -> Vec<(u32, Vec<u32>)> {
    let n = reach.len();
    let mut by_root: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for i in 0..n as u32 {
        by_root.entry(uf.find(i)).or_default().push(i);
    }
    let mut out: Vec<(u32, Vec<u32>)> = by_root
        .into_values()
        .map(|nodes| (best(&nodes, reach), nodes))
        .collect();
    out.sort_unstable_by_key(|(c, _)| *c);
    out
}

/// Groups in which every node is within the distance of its centre: centres are taken in
/// order of reach (ties to the lowest index), each with its neighbours still free.
pub fn around_centres(n: usize, pairs: &[Pair], reach: &[u64]) -> Vec<(u32, Vec<u32>)> {
    let adjacency = Adjacency::new(n, pairs);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by_key(|&i| (std::cmp::Reverse(reach[i as usize]), i));
    let mut taken = vec![false; n];
    let mut out = vec![];
    for c in order {
        if taken[c as usize] {
            continue;
        }
        taken[c as usize] = true;
        let mut nodes = vec![c];
        for &m in adjacency.of(c) {
            if !taken[m as usize] {
                taken[m as usize] = true;
                nodes.push(m);
            }
        }
        out.push((c, nodes));
    }
    out
}

/// Neighbour lists of all nodes in one array (compressed rows).
struct Adjacency {
    start: Vec<usize>,
    items: Vec<u32>,
}

impl Adjacency {
    fn new(n: usize, pairs: &[Pair]) -> Adjacency {
        let mut start = vec![0usize; n + 1];
        for p in pairs {
            start[p.a as usize + 1] += 1;
            start[p.b as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; start[n]];
        for p in pairs {
            for (x, y) in [(p.a, p.b), (p.b, p.a)] {
                items[fill[x as usize]] = y;
                fill[x as usize] += 1;
            }
        }
        Adjacency { start, items }
    }

    fn of(&self, i: u32) -> &[u32] {
        &self.items[self.start[i as usize]..self.start[i as usize + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: u32, b: u32) -> Pair {
        Pair { a, b, distance: 1 }
    }

    #[test]
    fn components_join_chains_and_centres_split_them() {
        // 0-1-2-3 a chain, 4 alone, 5-6.
        let pairs = [pair(0, 1), pair(1, 2), pair(2, 3), pair(5, 6)];
        let weight = [1; 7];
        let mut reach = own_reach(&weight);
        add_reach(&mut reach, &weight, &pairs);
        assert_eq!(reach, [1, 2, 2, 1, 0, 1, 1]);
        let mut uf = UnionFind::new(7);
        for p in &pairs {
            uf.union(p.a, p.b);
        }
        let comps = components(&mut uf, &reach);
        assert_eq!(
            comps,
            [(1, vec![0, 1, 2, 3]), (4, vec![4]), (5, vec![5, 6])]
        );
        // Centre 1 takes 0 and 2; then 3 is left for itself (2 is taken).
        let tight = around_centres(7, &pairs, &reach);
        assert_eq!(
            tight,
            [
                (1, vec![1, 0, 2]),
                (3, vec![3]),
                (5, vec![5, 6]),
                (4, vec![4])
            ]
        );
    }
}
