//! End to end: bundled clips → the runtime's fixed-point front end → a tiny
//! DS-CNN student (Burn) → int8 PTQ calibrated on train-split clips →
//! QOperator `.onnx` → the runtime's interpreter and tract on held-out
//! (test-split) clips.
//!
//! Checks: the file parses in both engines with its metadata; runtime ==
//! tract (exact-match fraction printed; every value within one int8 output
//! step); the int8 model stays close to the float student; the device path
//! (Q16 frames → `FeatureQuantizer` → `run_quantized`) agrees with the float
//! input path.

use burn::tensor::Device;
use matpac_runtime::engine::{Engine, Interpreter, TractEngine};
use matpac_runtime::frontend::{FeatureQuantizer, FrontendConfig};
use matpac_runtime::metadata as keys;
use matpac_runtime::model::Model;
use matpac_runtime::tagger::TaggerConfig;
use matpac_trainer::edge::features::{FeatureStats, file_windows};
use matpac_trainer::edge::layer_errors::layer_errors;
use matpac_trainer::edge::onnx_export::{
    Cut, ExportMeta, OutputKind, to_onnx, to_onnx_cut, write_onnx,
};
use matpac_trainer::edge::quantize::{Calibration, quantize};
use matpac_trainer::edge::student::StudentConfig;
use matpac_trainer::edge::tagger_head::{LabelledWindows, TaggerTrainConfig, TrainWindows, train};
use std::path::{Path, PathBuf};

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/bundled")
}

/// `(path, label, split)` rows of the bundled manifest.
fn manifest() -> Vec<(PathBuf, String, String)> {
    let text =
        std::fs::read_to_string(bundled().join("manifest.csv")).expect("data/bundled/manifest.csv");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (bundled().join(f[0]), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// Windows (98 frames, hop 49) of every `every`-th clip of `split`, with
/// multi-hot targets over `classes`.
fn windows(split: &str, every: usize, classes: &[String]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let config = FrontendConfig::default();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (p, label, _) in manifest()
        .iter()
        .filter(|(_, _, s)| s == split)
        .step_by(every)
    {
        let target: Vec<f32> = classes
            .iter()
            .map(|c| f32::from(u8::from(label.split(';').any(|l| l == c))))
            .collect();
        for w in file_windows(&config, p, 98, 49).unwrap() {
            x.push(w);
            y.push(target.clone());
        }
    }
    (x, y)
}

fn labels() -> Vec<String> {
    let mut l: Vec<String> = manifest()
        .into_iter()
        .flat_map(|(_, l, _)| l.split(';').map(String::from).collect::<Vec<_>>())
        .collect();
    l.sort();
    l.dedup();
    l
}

#[test]
fn exported_student_runs_identically_in_runtime_and_tract() {
    let classes = labels();
    assert_eq!(classes.len(), 15);
    let (raw_cal, cal_y) = windows("train", 4, &classes);
    let (raw_test, _) = windows("test", 3, &classes);
    assert!(
        raw_cal.len() >= 40 && raw_test.len() >= 30,
        "{} / {}",
        raw_cal.len(),
        raw_test.len()
    );
    let stats = FeatureStats::from_windows(&raw_cal);
    let cal: Vec<Vec<f32>> = raw_cal.iter().map(|w| stats.apply(w)).collect();
    let test: Vec<Vec<f32>> = raw_test.iter().map(|w| stats.apply(w)).collect();

    // A briefly trained tiny student (realistic BatchNorm statistics and
    // logit ranges; accuracy is not the point here).
    let config = StudentConfig::tiny(classes.len());
    println!("{}", config.stats());
    let train_set = LabelledWindows {
        x: cal.clone(),
        y: cal_y,
        clip: Vec::new(),
    };
    let tc = TaggerTrainConfig {
        epochs: 6,
        batch: 16,
        lr: 1e-2,
        seed: 11,
        ..Default::default()
    };
    let (student, reports) = train(
        &config,
        &tc,
        TrainWindows::Fixed(&train_set),
        &LabelledWindows::default(),
        &Device::flex().autodiff(),
        |_| {},
    );
    println!(
        "training loss {:.3} → {:.3}",
        reports[0].train_loss,
        reports.last().unwrap().train_loss
    );
    let net = student.to_float_net(&config);
    let q = quantize(&net, &cal, Calibration::default());
    let meta = ExportMeta {
        frontend: FrontendConfig::default(),
        class_names: classes.clone(),
        thresholds: vec![0.5; classes.len()],
        tagger: Some(TaggerConfig {
            smoothing_windows: 1,
            top_k: 2,
            ..TaggerConfig::default()
        }),
        feature_mean: stats.mean,
        feature_std: stats.std,
        provenance: "export_parity test: tiny student, 6 epochs".into(),
        output: OutputKind::Sigmoid,
    };
    let bytes = to_onnx(&q, &meta).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("student.onnx");
    write_onnx(&path, &bytes).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    // The runtime reads it, with its metadata.
    let model = Model::parse(&bytes).unwrap();
    assert_eq!(model.input().shape.dims(), &[1, 1, 98, 80]);
    assert_eq!(model.output_len(), classes.len());
    assert_eq!(model.input().quant.scale, q.input.scale);
    assert_eq!(model.input().quant.zero_point, q.input.zero_point);
    let names: Vec<&str> = keys::list(model.metadata(keys::CLASS_NAMES).unwrap()).collect();
    assert_eq!(
        names,
        classes.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        keys::parse_frontend(model.metadata(keys::FRONTEND).unwrap()).unwrap(),
        FrontendConfig::default()
    );
    assert_eq!(
        keys::parse_f32(
            keys::FEATURE_STD,
            model.metadata(keys::FEATURE_STD).unwrap()
        )
        .unwrap(),
        stats.std
    );
    // The tagger settings travel with the model and set the tagger's defaults.
    let tagger = TaggerConfig::for_model(&model).unwrap();
    assert_eq!((tagger.smoothing_windows, tagger.top_k), (1, 2));
    println!("arena {} B, file {} B", model.arena_len(), bytes.len());

    // Runtime vs tract: sigmoid scores and (a logits cut of the same model) integer-exact logits.
    let step = q.head.y.scale;
    let logits_bytes = to_onnx_cut(&q, Cut::Logits);
    let logits_model = Model::parse(&logits_bytes).unwrap();
    let mut arena = vec![0u8; model.arena_len()];
    let mut arena2 = vec![0u8; logits_model.arena_len()];
    let mut rt = Interpreter::new(&model, &mut arena).unwrap();
    let mut rt_logits = Interpreter::new(&logits_model, &mut arena2).unwrap();
    let mut tr = TractEngine::from_bytes(&bytes).unwrap();
    let mut tr_logits = TractEngine::from_bytes(&logits_bytes).unwrap();
    let n = classes.len();
    let (mut exact, mut exact_logits, mut total) = (0usize, 0usize, 0usize);
    let (mut worst_steps, mut int8_vs_float, mut int8_vs_float_score, mut float_span) =
        (0f32, 0f32, 0f32, 0f32);
    let mut sum_steps = 0f64;
    let mut worst_score = 0f32;
    for x in &test {
        let (mut a, mut b, mut la, mut lb) =
            (vec![0f32; n], vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        rt.run(x, &mut a).unwrap();
        tr.run(x, &mut b).unwrap();
        rt_logits.run(x, &mut la).unwrap();
        tr_logits.run(x, &mut lb).unwrap();
        let float = net.forward(x).logits;
        for i in 0..n {
            total += 1;
            exact += usize::from(a[i] == b[i]);
            exact_logits += usize::from(la[i] == lb[i]);
            // One int8 logit step moves a sigmoid by at most step/4.
            let d = (a[i] - b[i]).abs();
            worst_score = worst_score.max(d);
            assert!(
                d <= step / 4.0 + 1e-6,
                "score {i}: runtime {} vs tract {} (step {step})",
                a[i],
                b[i]
            );
            let dl = (la[i] - lb[i]).abs() / step;
            assert!(
                dl <= 1.0 + 1e-3,
                "logit {i}: runtime {} vs tract {} ({dl} steps)",
                la[i],
                lb[i]
            );
            worst_steps = worst_steps.max(dl);
            let e = (la[i] - float[i]).abs() / step;
            int8_vs_float = int8_vs_float.max(e);
            sum_steps += f64::from(e);
            let fs = 1.0 / (1.0 + (-float[i]).exp());
            int8_vs_float_score = int8_vs_float_score.max((a[i] - fs).abs());
            float_span = float_span.max(float[i].abs());
        }
    }
    println!(
        "runtime vs tract on {} held-out windows: logits exact {exact_logits}/{total} ({:.2} %), max {worst_steps} steps; \
         scores exact {exact}/{total} ({:.2} %), max |Δ| {worst_score:.1e}",
        test.len(),
        100.0 * exact_logits as f64 / total as f64,
        100.0 * exact as f64 / total as f64
    );
    let mean_steps = sum_steps / total as f64;
    println!(
        "int8 vs float logits: mean {mean_steps:.2} steps, max {int8_vs_float:.2} steps (step {step:.3e}, float |logit| ≤ {float_span:.3}); \
         max |Δscore| {int8_vs_float_score:.4}"
    );
    // Tolerance, int8 vs float. Each of the 5 int8 layers adds ≤ ½ step of
    // rounding (plus saturation at the calibrated percentile); after
    // pooling and the head, the logit error measured here is a few output
    // steps. 4 steps mean / 16 steps max / 0.05 in score catch any real
    // quantisation bug (a wrong scale or zero point gives tens of steps).
    assert!(mean_steps <= 4.0, "int8 vs float: mean {mean_steps} steps");
    assert!(
        int8_vs_float <= 16.0,
        "int8 vs float: max {int8_vs_float} steps"
    );
    assert!(
        int8_vs_float_score <= 0.05,
        "int8 vs float score: {int8_vs_float_score}"
    );

    // Per-layer error report (runtime on cuts of the same model).
    for e in layer_errors(&net, &q, &test[..8]).unwrap() {
        println!("{e}");
        assert!(e.sqnr_db > 15.0, "{e}");
    }

    // Device path: Q16 frames → FeatureQuantizer → run_quantized equals the float path.
    let fq =
        FeatureQuantizer::new(stats.mean, stats.std, q.input.scale, q.input.zero_point).unwrap();
    let (mut same_inputs, mut inputs) = (0usize, 0usize);
    for (raw, x) in raw_test.iter().zip(&test).take(8) {
        let q16: Vec<i32> = raw.iter().map(|v| (v * 65536.0).round() as i32).collect();
        let mut xq = vec![0i8; q16.len()];
        fq.quantize(&q16, &mut xq);
        for (&a, &v) in xq.iter().zip(x) {
            inputs += 1;
            same_inputs += usize::from(a == q.input.quantize(v));
        }
        let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
        rt.run_quantized(&xq, &mut a).unwrap();
        rt.run(x, &mut b).unwrap();
        for i in 0..n {
            assert!(
                (a[i] - b[i]).abs() <= step / 4.0 + 1e-6,
                "device path {} vs float path {}",
                a[i],
                b[i]
            );
        }
    }
    println!(
        "FeatureQuantizer vs float quantisation: {same_inputs}/{inputs} identical int8 inputs"
    );
    assert!(same_inputs as f64 >= 0.999 * inputs as f64);
}

#[test]
fn default_student_fits_the_device_arena() {
    let device = Device::flex();
    device.seed(3);
    let config = StudentConfig::default();
    let net = config.init(&device).to_float_net(&config);
    let x: Vec<Vec<f32>> = (0..2)
        .map(|k| {
            (0..98 * 80)
                .map(|i| (((i * 31 + k * 7) % 97) as f32 / 24.0) - 2.0)
                .collect()
        })
        .collect();
    let q = quantize(&net, &x, Calibration::MinMax);
    let model_bytes = to_onnx_cut(&q, Cut::Logits);
    let model = Model::parse(&model_bytes).unwrap();
    let stats = config.stats();
    println!("{stats}");
    println!(
        "default student: runtime arena {} B, file {} B",
        model.arena_len(),
        model_bytes.len()
    );
    assert!(
        model.arena_len() <= 32 * 1024,
        "arena {} B",
        model.arena_len()
    );
    assert!(stats.params <= 300_000 && stats.macs <= 5_000_000);
}

/// The subcommands on a small subset of the bundled clips (three labels):
/// `train-tagger` (tiny, 3 epochs) → `quantize` → `export`, then the
/// exported file is read back with its metadata.
#[test]
fn cli_train_tagger_quantize_export() {
    use clap::Parser;
    use matpac_trainer::cli::{Cli, run};
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("path,label,split,group\n");
    for label in ["piano", "kick", "snare"] {
        for split in ["train", "test"] {
            let rows = manifest();
            let picked = rows.iter().filter(|(_, l, s)| l == label && s == split);
            for (k, (p, _, _)) in picked
                .take(if split == "train" { 8 } else { 3 })
                .enumerate()
            {
                csv.push_str(&format!(
                    "{},{label},{split},{label}-{split}{}\n",
                    p.display(),
                    k % 4
                ));
            }
        }
    }
    let data = dir.path().join("subset.csv");
    std::fs::write(&data, csv).unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let d = data.display().to_string();
    let cmd = |args: &[&str]| run(Cli::parse_from([&["matpac"], args].concat())).unwrap();
    cmd(&[
        "train-tagger",
        &d,
        "--out",
        &p("student"),
        "--preset",
        "tiny",
        "--epochs",
        "3",
        "--batch",
        "8",
    ]);
    cmd(&[
        "quantize",
        &p("student"),
        "--data",
        &d,
        "--out",
        &p("q.onnx"),
    ]);
    cmd(&[
        "export",
        &p("student"),
        "--data",
        &d,
        "--out",
        &p("model.onnx"),
    ]);
    let bytes = std::fs::read(p("model.onnx")).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(p("q.onnx")).unwrap(),
        "quantize --out and export write the same model"
    );
    let model = Model::parse(&bytes).unwrap();
    let names: Vec<&str> = keys::list(model.metadata(keys::CLASS_NAMES).unwrap()).collect();
    assert_eq!(names, ["kick", "piano", "snare"]);
    let thresholds: Vec<f32> = keys::list(model.metadata(keys::THRESHOLDS).unwrap())
        .map(|t| keys::parse_f32(keys::THRESHOLDS, t).unwrap())
        .collect();
    assert_eq!(thresholds.len(), 3);
    assert!(
        model
            .metadata(keys::PROVENANCE)
            .unwrap()
            .contains("train-tagger")
    );
    assert_eq!(model.output_len(), 3);
}
