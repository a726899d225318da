//! The Jarosz filter: two passes of box blurs along rows then columns, approximating a tent
//! filter before decimation (GPU mirror: `shaders/jarosz.wgsl`).
//!
//! Bit-exactness with the reference rests on each output's own sequence of f32 operations
//! being the reference's. The column pass runs across a whole row of columns at a time, which
//! vectorises without changing any single column's order of operations.

/// Output side of the decimated image.
pub const DOWNSAMPLE: usize = 64;
/// The reference applies the row+column pass twice.
pub const PASSES: usize = 2;

/// Full box window for reducing `old` samples towards `DOWNSAMPLE`.
pub fn window_size(old: usize) -> usize {
    old.div_ceil(2 * DOWNSAMPLE)
}

/// The four phases of the reference's running-sum box blur, as counts.
#[derive(Debug, Clone, Copy)]
pub struct BoxPhases {
    pub warmup: usize,
    pub growing: usize,
    pub full: usize,
    pub shrinking: usize,
}

impl BoxPhases {
    pub fn new(len: usize, window: usize) -> BoxPhases {
        let half = (window + 2) / 2;
        BoxPhases {
            warmup: half - 1,
            growing: window - half + 1,
            full: len - window,
            shrinking: half - 1,
        }
    }
}

/// 1-D box blur of `input` into `output` (same length), reference order of operations.
pub fn box_1d(input: &[f32], output: &mut [f32], window: usize) {
    let p = BoxPhases::new(input.len(), window);
    let mut sum = 0.0f32;
    let mut count = 0u32;
    let (mut left, mut right, mut out) = (0, 0, 0);
    for _ in 0..p.warmup {
        sum += input[right];
        count += 1;
        right += 1;
    }
    for _ in 0..p.growing {
        sum += input[right];
        count += 1;
        output[out] = sum / count as f32;
        right += 1;
        out += 1;
    }
    for _ in 0..p.full {
        sum += input[right];
        sum -= input[left];
        output[out] = sum / count as f32;
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..p.shrinking {
        sum -= input[left];
        count -= 1;
        output[out] = sum / count as f32;
        left += 1;
        out += 1;
    }
}

/// Rows are blurred `LANES` at a time in lockstep, one SIMD lane per row, so the divisions
/// vectorise; each row still sees its own reference sequence of operations.
const LANES: usize = 8;

pub fn box_rows(input: &[f32], output: &mut [f32], cols: usize, window: usize) {
    let block = LANES * cols;
    let mut scratch = (vec![[0.0; LANES]; cols], vec![[0.0; LANES]; cols]);
    let mut inp = input.chunks_exact(block);
    let mut out = output.chunks_exact_mut(block);
    for (i, o) in (&mut inp).zip(&mut out) {
        box_row_block(i, o, cols, window, &mut scratch);
    }
    let rest_in = inp.remainder();
    let rest_out = out.into_remainder();
    for (i, o) in rest_in
        .chunks_exact(cols)
        .zip(rest_out.chunks_exact_mut(cols))
    {
        box_1d(i, o, window);
    }
}

type Lanes = Vec<[f32; LANES]>;

fn box_row_block(
    input: &[f32],
    output: &mut [f32],
    cols: usize,
    window: usize,
    (t, res): &mut (Lanes, Lanes),
) {
    // Transposed into columns of LANES values, so each step is one contiguous vector.
    for (c, v) in t.iter_mut().enumerate() {
        *v = std::array::from_fn(|r| input[r * cols + c]);
    }
    let p = BoxPhases::new(cols, window);
    let mut sum = [0.0f32; LANES];
    let mut count = 0u32;
    let (mut left, mut right, mut out) = (0, 0, 0);
    let emit = |res: &mut [[f32; LANES]], out: usize, sum: &[f32; LANES], count: u32| {
        let n = count as f32;
        res[out] = std::array::from_fn(|r| sum[r] / n);
    };
    for _ in 0..p.warmup {
        lanes_add(&mut sum, &t[right]);
        count += 1;
        right += 1;
    }
    for _ in 0..p.growing {
        lanes_add(&mut sum, &t[right]);
        count += 1;
        emit(res, out, &sum, count);
        right += 1;
        out += 1;
    }
    for _ in 0..p.full {
        lanes_add(&mut sum, &t[right]);
        lanes_sub(&mut sum, &t[left]);
        emit(res, out, &sum, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..p.shrinking {
        lanes_sub(&mut sum, &t[left]);
        count -= 1;
        emit(res, out, &sum, count);
        left += 1;
        out += 1;
    }
    for (c, v) in res.iter().enumerate() {
        for (r, x) in v.iter().enumerate() {
            output[r * cols + c] = *x;
        }
    }
}

#[inline(always)]
fn lanes_add(sum: &mut [f32; LANES], v: &[f32; LANES]) {
    sum.iter_mut().zip(v).for_each(|(s, v)| *s += v);
}

#[inline(always)]
fn lanes_sub(sum: &mut [f32; LANES], v: &[f32; LANES]) {
    sum.iter_mut().zip(v).for_each(|(s, v)| *s -= v);
}

/// Box blur down every column at once: the same phases as [`box_1d`], with a row of running
/// sums instead of one.
pub fn box_cols(input: &[f32], output: &mut [f32], rows: usize, cols: usize, window: usize) {
    let p = BoxPhases::new(rows, window);
    let row = |r: usize| &input[r * cols..(r + 1) * cols];
    let mut sum = vec![0.0f32; cols];
    let mut count = 0u32;
    let (mut left, mut right, mut out) = (0, 0, 0);
    let add = |sum: &mut [f32], r: &[f32]| sum.iter_mut().zip(r).for_each(|(s, v)| *s += v);
    let sub = |sum: &mut [f32], r: &[f32]| sum.iter_mut().zip(r).for_each(|(s, v)| *s -= v);
    let emit = |output: &mut [f32], out: usize, sum: &[f32], count: u32| {
        let n = count as f32;
        let o = &mut output[out * cols..(out + 1) * cols];
        o.iter_mut().zip(sum).for_each(|(o, s)| *o = s / n);
    };
    for _ in 0..p.warmup {
        add(&mut sum, row(right));
        count += 1;
        right += 1;
    }
    for _ in 0..p.growing {
        add(&mut sum, row(right));
        count += 1;
        emit(output, out, &sum, count);
        right += 1;
        out += 1;
    }
    for _ in 0..p.full {
        add(&mut sum, row(right));
        sub(&mut sum, row(left));
        emit(output, out, &sum, count);
        left += 1;
        right += 1;
        out += 1;
    }
    for _ in 0..p.shrinking {
        sub(&mut sum, row(left));
        count -= 1;
        emit(output, out, &sum, count);
        left += 1;
        out += 1;
    }
}

/// Two passes of rows (`buf1` -> `buf2`) then columns (`buf2` -> `buf1`); the result is in
/// `buf1`.
pub fn jarosz(buf1: &mut [f32], buf2: &mut [f32], rows: usize, cols: usize) {
    let along_rows = window_size(cols);
    let along_cols = window_size(rows);
    for _ in 0..PASSES {
        box_rows(buf1, buf2, cols, along_rows);
        box_cols(buf2, buf1, rows, cols, along_cols);
    }
}
