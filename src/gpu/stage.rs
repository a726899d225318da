//! The GPU stages, each declared once: its WGSL file and entry point, the buffers it binds
//! (by binding index), and how it is dispatched. Adding a stage is one WGSL file, one CPU
//! module of the same name and one entry here.

use super::batch::FrameInfo;

/// The buffers of a batch, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Frames,
    Rgb,
    Luma,
    Tmp,
    Down,
    PdqConsts,
    Out,
    Taps,
    Mid,
    Small,
    PhashConsts,
    /// Host-mappable copy of `Out`; bound by no stage.
    Readback,
}

/// Workgroup grid of a stage, for a batch of `n` frames.
#[derive(Debug, Clone, Copy)]
pub enum Dispatch {
    /// `(x, n)`: workgroup row y is frame y and `lanes`-wide workgroups stride over the
    /// `items` of the largest frame (pixels, rows, ...).
    Strided {
        lanes: u32,
        items: fn(&FrameInfo) -> u32,
    },
    /// `(64, n)`: one workgroup per output row of the 64x64 image.
    Rows64,
    /// `(n, 1)`: one workgroup per frame.
    PerFrame,
}

/// Which hash a stage belongs to, so a batch runs only what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Pdq,
    Phash,
}

#[derive(Debug)]
pub struct Stage {
    pub name: &'static str,
    pub source: &'static str,
    pub entry: &'static str,
    pub algo: Algo,
    /// `(binding index, buffer)` pairs, as the WGSL declares them.
    pub bindings: &'static [(u32, Role)],
    pub dispatch: Dispatch,
}

/// Prepended to every stage: the frame table layout and small helpers.
pub const SHARED_WGSL: &str = include_str!("../../shaders/shared/frame.wgsl");

fn pixels(f: &FrameInfo) -> u32 {
    f.width * f.height
}
fn rows(f: &FrameInfo) -> u32 {
    f.height
}
fn cols(f: &FrameInfo) -> u32 {
    f.width
}
fn mid_items(f: &FrameInfo) -> u32 {
    32 * f.height
}
fn small_items(_: &FrameInfo) -> u32 {
    1024
}

const LUMA: &str = include_str!("../../shaders/luma.wgsl");
const JAROSZ: &str = include_str!("../../shaders/jarosz.wgsl");
const DECIMATE: &str = include_str!("../../shaders/decimate.wgsl");
const PDQ: &str = include_str!("../../shaders/pdq.wgsl");
const GREY: &str = include_str!("../../shaders/grey.wgsl");
const LANCZOS: &str = include_str!("../../shaders/lanczos.wgsl");
const PHASH: &str = include_str!("../../shaders/phash.wgsl");

use Role::*;

const JAROSZ_ROWS: Stage = Stage {
    name: "jarosz",
    source: JAROSZ,
    entry: "rows",
    algo: Algo::Pdq,
    bindings: &[(0, Frames), (1, Luma), (2, Tmp)],
    dispatch: Dispatch::Strided {
        lanes: 64,
        items: rows,
    },
};
const JAROSZ_COLS: Stage = Stage {
    name: "jarosz",
    source: JAROSZ,
    entry: "cols",
    algo: Algo::Pdq,
    bindings: &[(0, Frames), (1, Luma), (2, Tmp)],
    dispatch: Dispatch::Strided {
        lanes: 64,
        items: cols,
    },
};

/// Every stage in submission order. pHash runs first because it borrows the `tmp` plane
/// that the Jarosz filter needs afterwards.
pub const PIPELINE: &[Stage] = &[
    Stage {
        name: "grey",
        source: GREY,
        entry: "main",
        algo: Algo::Phash,
        bindings: &[(0, Frames), (1, Rgb), (2, Tmp)],
        dispatch: Dispatch::Strided {
            lanes: 256,
            items: pixels,
        },
    },
    Stage {
        name: "lanczos",
        source: LANCZOS,
        entry: "horizontal",
        algo: Algo::Phash,
        bindings: &[(0, Frames), (1, Taps), (2, Tmp), (3, Mid)],
        dispatch: Dispatch::Strided {
            lanes: 256,
            items: mid_items,
        },
    },
    Stage {
        name: "lanczos",
        source: LANCZOS,
        entry: "vertical",
        algo: Algo::Phash,
        bindings: &[(0, Frames), (1, Taps), (3, Mid), (4, Small)],
        dispatch: Dispatch::Strided {
            lanes: 256,
            items: small_items,
        },
    },
    Stage {
        name: "phash",
        source: PHASH,
        entry: "main",
        algo: Algo::Phash,
        bindings: &[(0, Small), (1, PhashConsts), (2, Out)],
        dispatch: Dispatch::PerFrame,
    },
    Stage {
        name: "luma",
        source: LUMA,
        entry: "main",
        algo: Algo::Pdq,
        bindings: &[(0, Frames), (1, Rgb), (2, Luma)],
        dispatch: Dispatch::Strided {
            lanes: 256,
            items: pixels,
        },
    },
    JAROSZ_ROWS,
    JAROSZ_COLS,
    JAROSZ_ROWS,
    JAROSZ_COLS,
    Stage {
        name: "decimate",
        source: DECIMATE,
        entry: "main",
        algo: Algo::Pdq,
        bindings: &[(0, Frames), (1, Luma), (2, Down)],
        dispatch: Dispatch::Rows64,
    },
    Stage {
        name: "pdq",
        source: PDQ,
        entry: "main",
        algo: Algo::Pdq,
        bindings: &[(0, Down), (1, PdqConsts), (2, Out)],
        dispatch: Dispatch::PerFrame,
    },
];

/// Binding `i` of a stage's WGSL is `bindings[i]`: the files declare them in that order.
pub fn full_source(stage: &Stage) -> String {
    format!("{SHARED_WGSL}\n{}", stage.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each binding a stage lists is declared in its WGSL, and the WGSL declares no other.
    #[test]
    fn declared_bindings_match_the_wgsl() {
        for s in PIPELINE {
            for (i, _) in s.bindings {
                let decl = format!("@group(0) @binding({i})");
                assert!(s.source.contains(&decl), "{} {}: {decl}", s.name, s.entry);
            }
            let declared = s.source.matches("@group(0) @binding(").count();
            let used_by_module: std::collections::HashSet<u32> = PIPELINE
                .iter()
                .filter(|o| o.name == s.name)
                .flat_map(|o| o.bindings.iter().map(|b| b.0))
                .collect();
            assert_eq!(declared, used_by_module.len(), "{}", s.name);
        }
    }

    /// Parse and validate every stage with naga, the shader compiler wgpu uses, so a WGSL
    /// error fails here even on a machine without any GPU adapter.
    #[test]
    fn every_stage_is_valid_wgsl() {
        for s in PIPELINE {
            let module = naga::front::wgsl::parse_str(&full_source(s))
                .unwrap_or_else(|e| panic!("{}: {}", s.name, e.emit_to_string(&full_source(s))));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::empty(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", s.name));
            assert!(module.entry_points.iter().any(|e| e.name == s.entry));
        }
    }

    #[test]
    fn luma_weights_in_wgsl_are_the_cpu_bits() {
        use crate::cpu::luma::{LUMA_B, LUMA_G, LUMA_R};
        for (name, v) in [("LUMA_R", LUMA_R), ("LUMA_G", LUMA_G), ("LUMA_B", LUMA_B)] {
            let (bits, exp) = (v.to_bits(), ((v.to_bits() >> 23) & 255) as i32 - 127);
            let needle = format!(
                "const {name}: f32 = 0x1.{:06x}p{exp}f;",
                (bits & 0x7f_ffff) << 1
            );
            assert!(LUMA.contains(&needle), "{needle}");
        }
    }
}
