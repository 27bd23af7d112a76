//! `report.md` of the demo: the tables of every stage, with the PNGs beside it.

use std::fmt::Write;
use std::path::Path;

use super::Results;
use crate::eval::events::{TimedEvent, match_events};

/// `x` as a percentage with one decimal.
fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// The report; image links are relative to `out`, listed only if the file exists.
pub fn markdown(r: &Results, out: &Path) -> String {
    let mut md = String::new();
    let image = |md: &mut String, file: &str, alt: &str| {
        if out.join(file).is_file() {
            let _ = writeln!(md, "![{alt}]({file})\n");
        }
    };
    let _ = writeln!(
        md,
        "# matpac demo report\n\nThe whole pipeline on the bundled data (`matpac demo`), \
         from unlabelled audio to an int8 tagger run by the `no_std` runtime.\n"
    );

    md.push_str("## Stages\n\n| stage | time in this run |\n|---|---:|\n");
    for (stage, took) in &r.timings {
        let t = took.map_or_else(|| "reused".to_string(), |s| format!("{s:.0} s"));
        let _ = writeln!(md, "| {stage} | {t} |");
    }

    let _ = writeln!(
        md,
        "\n## 1. Pretraining\n\nPreset `tiny`, {} updates of batch 8 on `unlabelled/`, \
         once with λ = 0.5 (MATPAC) and once with λ = 0 (masked latent prediction only).\n",
        r.steps
    );
    image(&mut md, "matpac/metrics.png", "MATPAC loss curves");
    image(&mut md, "lambda0/metrics.png", "λ = 0 loss curves");

    md.push_str("## 2. Linear probe\n\n");
    md.push_str(&r.probe_table);
    md.push_str("\nConfusion matrices: `probe/confusion_*.png`.\n\n");

    let d = &r.distill;
    md.push_str("## 3. Student vs teacher\n\n");
    let _ = writeln!(
        md,
        "The DS-CNN student ({} parameters, {} MACs per window) distilled from the MATPAC \
         encoder on {} windows (cosine + KL); mean cosine distance to the teacher's embedding \
         at the end: {:.3}.\n",
        d.params, d.macs, d.windows, d.cosine_distance
    );
    if let Some((t, s)) = d.probe {
        let _ = writeln!(
            md,
            "| encoder | linear-probe accuracy, % |\n|---|---:|\n| teacher (MATPAC ViT, clip embedding) | {} |\n| student (DS-CNN, pooled embedding, fixed-point features) | {} |\n| student − teacher | {:+.1} points |\n",
            pct(t),
            pct(s),
            100.0 * (s - t)
        );
    }

    let (q, t) = (&r.quant, &r.tagger);
    md.push_str("## 4. Tagger, float vs int8\n\n");
    md.push_str("Window-level scores on the test side of the labelled clips (thresholds chosen on validation).\n\n| model | top-1, % | micro-F1, % |\n|---|---:|---:|\n");
    let _ = writeln!(
        md,
        "| float student | {} | {} |",
        pct(q.float.0),
        pct(q.float.1)
    );
    let _ = writeln!(
        md,
        "| int8 in the runtime | {} | {} |",
        pct(q.int8.0),
        pct(q.int8.1)
    );
    if q.float.1 > 0.0 {
        let _ = writeln!(
            md,
            "\nint8 keeps {:.1} % of the float micro-F1 ({:.1} % of top-1) on {} windows \
             (target ≥ 95 %). Validation during training: top-1 {}, micro-F1 {} %.\n",
            100.0 * q.int8.1 / q.float.1,
            100.0 * q.int8.0 / q.float.0.max(1e-12),
            q.windows,
            pct(t.val_top1),
            pct(t.val_f1)
        );
    }
    md.push_str("Per-layer error of the int8 activations (runtime) against float:\n\n```\n");
    for l in &q.layers {
        let _ = writeln!(md, "{l}");
    }
    md.push_str("```\n\n");

    let e = &r.export;
    let _ = writeln!(
        md,
        "## 5. The exported model\n\n| file | size | parameters | MACs / window | runtime arena |\n|---|---:|---:|---:|---:|\n| `tagger.onnx` | {} B | {} | {} | {} B |\n",
        e.bytes, e.params, e.macs, e.arena
    );

    let s = &r.scene;
    let _ = writeln!(
        md,
        "## 6. Tagging a scene\n\n`{}` through the runtime's streaming `Tagger` (stride {:.2} s), \
         the same code the firmware runs.\n",
        s.file.display(),
        s.stride_seconds
    );
    let detected: Vec<TimedEvent> = s
        .detected
        .iter()
        .map(|(on, off, label, score)| TimedEvent {
            onset: *on,
            offset: *off,
            label: label.clone(),
            score: *score,
        })
        .collect();
    let truth: Vec<TimedEvent> = s
        .reference
        .iter()
        .map(|(on, off, label)| TimedEvent {
            onset: *on,
            offset: *off,
            label: label.clone(),
            score: 1.0,
        })
        .collect();
    if truth.is_empty() {
        md.push_str("| onset, s | offset, s | class | score |\n|---:|---:|---|---:|\n");
        for ev in &detected {
            let _ = writeln!(
                md,
                "| {:.3} | {:.3} | {} | {:.3} |",
                ev.onset, ev.offset, ev.label, ev.score
            );
        }
    } else {
        let m = match_events(&truth, &detected);
        md.push_str("| reference | onset, s | detected onset, s | onset error, s | score |\n|---|---:|---:|---:|---:|\n");
        for (i, t) in truth.iter().enumerate() {
            let found = m.pairs.iter().find(|p| p.0 == i).map(|p| &detected[p.1]);
            let _ = match found {
                Some(d) => writeln!(
                    md,
                    "| {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                    t.label,
                    t.onset,
                    d.onset,
                    (d.onset - t.onset).abs(),
                    d.score
                ),
                None => writeln!(md, "| {} | {:.3} | missed | | |", t.label, t.onset),
            };
        }
        let err = m.onset_errors(&truth, &detected);
        let within = err.iter().filter(|&&e| e <= s.stride_seconds).count();
        let _ = writeln!(
            md,
            "\n{} of {} reference events found ({} with onset error ≤ one stride), {} false alarm(s):",
            m.pairs.len(),
            truth.len(),
            within,
            m.false_alarms.len()
        );
        for &i in &m.false_alarms {
            let ev = &detected[i];
            let _ = writeln!(
                md,
                "- {:.3}–{:.3} s {} ({:.3})",
                ev.onset, ev.offset, ev.label, ev.score
            );
        }
        md.push('\n');
    }
    image(&mut md, &s.png, "spectrogram with events");
    md
}
