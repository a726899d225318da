//! `bench robustness`: recall and precision under common edits, printed as a table (the
//! work and the corpus are `crate::robustness`'s).

use std::path::PathBuf;

use crate::engine::{BackendChoice, Engine};

pub(super) fn bench_robustness(
    corpus: Option<PathBuf>,
    generate: usize,
    max_side: u32,
    output: &std::path::Path,
    backend: BackendChoice,
) -> anyhow::Result<i32> {
    let (images, title) = match &corpus {
        Some(dir) => {
            let imgs = crate::robustness::load_corpus(dir, max_side);
            let title = format!("{} ({} images)", dir.display(), imgs.len());
            (imgs, title)
        }
        None => (
            crate::robustness::generate(generate, 1),
            format!("{generate} generated images"),
        ),
    };
    if images.len() < 2 {
        anyhow::bail!("robustness needs at least two images");
    }
    let engine = Engine::open(backend, None)?;
    let before = images.len();
    let images = crate::robustness::hashable(&engine, images)?;
    let featureless = before - images.len();
    let images = crate::robustness::distinct(&engine, images)?;
    let title = format!(
        "{title}, {} distinct ({} near-duplicates and {featureless} below PDQ quality {} set aside)",
        images.len(),
        before - featureless - images.len(),
        crate::matching::DEFAULT_MIN_QUALITY
    );
    let rows = crate::robustness::run(&engine, &images)?;
    crate::robustness::report::write_all(&rows, output, &title)?;
    let headline = |t: &str, a: &str| {
        rows.iter()
            .find(|r| r.transform == t && r.algo == a)
            .map_or(String::new(), |r| format!("{:.0}%", r.recall * 100.0))
    };
    crate::cli::outln!(
        "robustness of {title} on {}; tables and plots in {}",
        engine.describe(),
        output.display()
    )?;
    crate::cli::outln!(
        "originals with borders --trim-borders would cut: {} of {}",
        crate::robustness::trimmed_count(&images),
        images.len()
    )?;
    let algos = crate::robustness::ALGOS.map(|(a, _, _)| a);
    let cells = |cells: Vec<String>| -> String {
        cells
            .iter()
            .zip(algos)
            .map(|(c, a)| format!(" {c:>w$}", w = a.len().max(5)))
            .collect()
    };
    crate::cli::outln!(
        "{:<16}{}",
        "transform",
        cells(algos.map(String::from).to_vec())
    )?;
    for (t, _) in crate::robustness::transforms::ALL {
        crate::cli::outln!(
            "{t:<16}{}",
            cells(algos.iter().map(|a| headline(t, a)).collect())
        )?;
    }
    Ok(0)
}
