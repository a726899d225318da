//! The robustness tables (Markdown, CSV) and plots (SVG, drawn by hand: a few rectangles
//! and lines need no plotting library).

use std::fmt::Write as _;
use std::path::Path;

use super::{ALGOS, PRECISION, Row};

pub fn write_all(rows: &[Row], dir: &Path, title: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("robustness.md"), markdown(rows, title))?;
    std::fs::write(dir.join("robustness.csv"), csv(rows))?;
    std::fs::write(dir.join("recall.svg"), recall_svg(rows))?;
    for (algo, _, _) in ALGOS {
        std::fs::write(
            dir.join(format!("distances_{algo}.svg")),
            histogram_svg(rows, algo),
        )?;
    }
    Ok(())
}

pub fn markdown(rows: &[Row], title: &str) -> String {
    let mut s = format!("# Robustness: {title}\n\n");
    let _ = writeln!(
        s,
        "Recall of each edited copy against its original at the recommended threshold (PDQ 31, pHash 10), and at the largest threshold that keeps precision >= {:.1}% against all other originals.\n",
        PRECISION * 100.0
    );
    s += "| transform | algorithm | images | recall @ default | threshold @ 99.9% precision | recall there | mean distance | max distance | closest other image |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1}% | {} | {:.1}% | {:.1} | {} | {} |",
            r.transform,
            r.algo,
            r.images,
            r.recall * 100.0,
            r.threshold_999.map_or("-".into(), |t| t.to_string()),
            r.recall_999 * 100.0,
            r.same_mean,
            r.same_max,
            r.different_min
        );
    }
    s
}

pub fn csv(rows: &[Row]) -> String {
    let mut w = csv::Writer::from_writer(vec![]);
    let header = [
        "transform",
        "algorithm",
        "images",
        "threshold",
        "recall",
        "threshold_999",
        "recall_999",
        "same_mean",
        "same_max",
        "different_min",
    ];
    let mut put = |cells: &[String]| w.write_record(cells).expect("writing to memory");
    put(&header.map(String::from));
    for r in rows {
        put(&[
            r.transform.to_string(),
            r.algo.to_string(),
            r.images.to_string(),
            r.threshold.to_string(),
            format!("{:.4}", r.recall),
            r.threshold_999.map_or(String::new(), |t| t.to_string()),
            format!("{:.4}", r.recall_999),
            format!("{:.3}", r.same_mean),
            r.same_max.to_string(),
            r.different_min.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8 cells")
}

const COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f",
];

/// Horizontal bars: recall at the default threshold, one group per transform.
pub fn recall_svg(rows: &[Row]) -> String {
    let transforms: Vec<&str> =
        rows.iter()
            .map(|r| r.transform.as_str())
            .fold(vec![], |mut v, t| {
                if v.last() != Some(&t) {
                    v.push(t);
                }
                v
            });
    let (left, bar, width) = (130.0, 6.0, 400.0);
    let group = bar * ALGOS.len() as f64 + 6.0;
    let height = 40.0 + group * transforms.len() as f64 + 30.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="10">"#,
        left + width + 120.0
    );
    let _ = write!(
        s,
        r#"<text x="10" y="15" font-size="12">Recall at the recommended threshold (PDQ 31, pHash 10)</text>"#
    );
    for (g, t) in transforms.iter().enumerate() {
        let y0 = 30.0 + g as f64 * group;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{t}</text>"#,
            left - 5.0,
            y0 + group / 2.0
        );
        for (k, (algo, _, _)) in ALGOS.iter().enumerate() {
            let r = rows.iter().find(|r| r.transform == *t && r.algo == *algo);
            let v = r.map_or(0.0, |r| r.recall);
            let _ = write!(
                s,
                r#"<rect x="{left}" y="{}" width="{}" height="{}" fill="{}"><title>{t} {algo}: {:.1}%</title></rect>"#,
                y0 + k as f64 * bar,
                v * width,
                bar - 1.0,
                COLOURS[k],
                v * 100.0
            );
        }
    }
    let axis = 30.0 + group * transforms.len() as f64;
    for p in [0, 25, 50, 75, 100] {
        let x = left + width * f64::from(p) / 100.0;
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="30" x2="{x}" y2="{axis}" stroke="#ccc"/><text x="{x}" y="{}" text-anchor="middle">{p}%</text>"##,
            axis + 12.0
        );
    }
    for (k, (algo, _, _)) in ALGOS.iter().enumerate() {
        let y = 40.0 + 14.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{algo}</text>"#,
            left + width + 10.0,
            y,
            COLOURS[k],
            left + width + 25.0,
            y + 9.0
        );
    }
    s + "</svg>\n"
}

/// Distance distributions over all transforms: same image against different images.
pub fn histogram_svg(rows: &[Row], algo: &str) -> String {
    let picked: Vec<&Row> = rows.iter().filter(|r| r.algo == algo).collect();
    let bins = picked.first().map_or(65, |r| r.same_hist.len());
    let sum = |f: fn(&Row) -> &Vec<u64>| -> Vec<f64> {
        let mut v = vec![0.0; bins];
        for r in &picked {
            v.iter_mut().zip(f(r)).for_each(|(a, &b)| *a += b as f64);
        }
        let total: f64 = v.iter().sum::<f64>().max(1.0);
        v.iter().map(|x| x / total).collect()
    };
    let (same, different) = (sum(|r| &r.same_hist), sum(|r| &r.different_hist));
    let top = same
        .iter()
        .chain(&different)
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let (left, w, h) = (40.0, 520.0, 220.0);
    let bw = w / bins as f64;
    let threshold = picked.first().map_or(0, |r| r.threshold);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="10">"#,
        left + w + 20.0,
        h + 60.0
    );
    let _ = write!(
        s,
        r#"<text x="10" y="15" font-size="12">{algo}: distance of edited copies to their original (blue) and to other originals (orange)</text>"#
    );
    for (k, (series, colour)) in [(&same, COLOURS[0]), (&different, COLOURS[1])]
        .into_iter()
        .enumerate()
    {
        for (d, &v) in series.iter().enumerate() {
            let bh = v / top * h;
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{bh}" fill="{colour}" fill-opacity="0.6"><title>{} distance {d}: {:.2}%</title></rect>"#,
                left + d as f64 * bw,
                30.0 + h - bh,
                bw.max(1.0),
                if k == 0 { "same" } else { "different" },
                v * 100.0
            );
        }
    }
    let tx = left + threshold as f64 * bw;
    let _ = write!(
        s,
        r#"<line x1="{tx}" y1="30" x2="{tx}" y2="{}" stroke="black" stroke-dasharray="4 3"/><text x="{tx}" y="{}">threshold {threshold}</text>"#,
        30.0 + h,
        28.0
    );
    for d in (0..bins).step_by(if bins > 65 { 32 } else { 8 }) {
        let x = left + d as f64 * bw;
        let _ = write!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="middle">{d}</text>"#,
            45.0 + h
        );
    }
    s + "</svg>\n"
}
