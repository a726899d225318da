//! Pictures held in memory rather than in files (objects read from a store, uploads).

use std::sync::Arc;

use super::{Budget, ROUND_PIXELS, RoundLimits, image_cost, take_round};
use crate::decode::{self, DecodeOptions};
use crate::engine::{Algorithms, Engine, FrameHashes};
use crate::frame::Frame;

/// Encoded images held in memory (objects read from a store), decoded on all cores and
/// hashed on the engine in rounds within `budget`, as files are: size and hashes of each,
/// or why it did not decode. A batch of any size holds at most the budget's worth of
/// decoded pixels at once.
pub fn hash_bytes(
    engine: &Engine,
    datas: &[Vec<u8>],
    algos: Algorithms,
    opts: &DecodeOptions,
    budget: &Arc<Budget>,
) -> Vec<Result<(u32, u32, FrameHashes), String>> {
    let limits = RoundLimits::within(budget.limit(), ROUND_PIXELS);
    let mut out = Vec::with_capacity(datas.len());
    let mut rest = datas;
    while !rest.is_empty() {
        let round = take_round(
            rest,
            limits,
            budget,
            |d| {
                let size = decode::planned_size_of_bytes(d, opts);
                (image_cost(d.len() as u64, size, opts.max_pixels), ())
            },
            |d, (), hold| (decode::decode_bytes(d, opts), hold),
            |(r, _)| r.as_ref().map_or(0, |d| d.frame.pixels()),
        );
        rest = &rest[round.len()..];
        let frames: Vec<&Frame> = round
            .iter()
            .filter_map(|(r, _)| r.as_ref().ok())
            .map(|d| &d.frame)
            .collect();
        let mut hashes = engine.hash(&frames, algos).into_iter();
        out.extend(round.into_iter().map(|(r, _hold)| {
            r.map_err(|e| e.to_string()).map(|d| {
                (
                    d.width,
                    d.height,
                    hashes.next().expect("one hash per frame"),
                )
            })
        }));
    }
    out
}
