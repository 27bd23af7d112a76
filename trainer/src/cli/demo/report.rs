//! `report.md` of the demo: the tables of every stage, with the PNGs beside it.

use std::fmt::Write;
use std::path::Path;

use super::Results;
use super::tagging::SetScore;

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

    let ((t, q), (st, sq)) = (&r.tagger, &r.scratch);
    md.push_str("## 4. Tagger: distilled student vs the same DS-CNN from scratch\n\n");
    md.push_str(
        "Both trained on the same scene-like augmented windows of the labelled training clips, \
         with the same number of updates; thresholds and smoothing chosen on validation scenes \
         (held-out training groups). Window- and clip-level scores on the test clips; \
         the encoder-free baseline's clip accuracy is the last column of the probe table.\n\n\
         | model | float window top-1, % | int8 window top-1, % | int8 clip top-1, % | int8 window micro-F1, % | validation-scene event F1 |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (name, t, q) in [
        ("distilled student + tag head", t, q),
        ("same DS-CNN from scratch", st, sq),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} |",
            pct(q.float.0),
            pct(q.int8.0),
            pct(q.int8_clip_top1),
            pct(q.int8.1),
            t.val_scene_f1.map_or("–".into(), |f| format!("{f:.3}"))
        );
    }
    if q.float.1 > 0.0 {
        let _ = writeln!(
            md,
            "\nint8 keeps {:.1} % of the float micro-F1 ({:.1} % of top-1) on {} windows \
             (target ≥ 95 %).\n",
            100.0 * q.int8.1 / q.float.1,
            100.0 * q.int8.0 / q.float.0.max(1e-12),
            q.windows,
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

    let s = &r.scores;
    md.push_str(
        "## 6. Sound-event detection on scenes never trained on\n\n\
         The int8 models through the runtime's streaming tagger (the firmware's code). \
         Event-based F1: a detection matches a reference of the same label whose onset is within \
         1 s; segment-based F1 over 1 s segments (`docs/event-metrics.md`).\n\n\
         | scenes | model | events found | false alarms | event P / R / F1 | segment F1 |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    let row = |md: &mut String, set: &str, model: &str, x: &SetScore| {
        let _ = writeln!(
            md,
            "| {set} | {model} | {} of {} | {} | {:.2} / {:.2} / **{:.3}** | {:.3} |",
            x.event.tp,
            x.event.tp + x.event.fn_,
            x.event.fp,
            x.event.precision,
            x.event.recall,
            x.event.f1,
            x.segment.f1
        );
    };
    for (set, (a, b)) in [
        (format!("{} test-split scenes", s.test.0.files), &s.test),
        ("`scene01` + `scene02`".to_string(), &s.bundled),
    ] {
        row(&mut md, &set, "distilled + tag head", a);
        row(&mut md, &set, "from scratch", b);
    }
    md.push_str("\nPer class, test-split scenes, distilled tagger (event F1, found / reference):\n\n| class | F1 | found |\n|---|---:|---:|\n");
    for (class, c) in &s.test.0.per_class {
        let _ = writeln!(
            md,
            "| {class} | {:.2} | {} / {} |",
            c.f1,
            c.tp,
            c.tp + c.fn_
        );
    }
    md.push('\n');
    image(&mut md, &s.png, "scene01 with the tagger's events");
    md
}
