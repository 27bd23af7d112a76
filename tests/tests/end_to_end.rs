//! The whole chain at toy size, asserting every hand-off:
//!
//! 1. `matpac pretrain --preset tiny` on the bundled unlabelled phrases (a few updates);
//! 2. `matpac distill` of a tiny DS-CNN student from that checkpoint (cosine + KL);
//! 3. `matpac train-tagger --init` on three well-separated bundled classes;
//! 4. `matpac export`: the `.onnx` parses in the runtime and in tract, and both
//!    engines give the same scores on the held-out clips' windows;
//! 5. the runtime's streaming `Tagger` finds the held-out sounds in a clip
//!    assembled from them at known times, with onset error ≤ one stride;
//! 6. the firmware built with this model and this clip (`MATPAC_MODEL`,
//!    `MATPAC_SCENE`) and run on a Cortex-M4 in QEMU prints the same events,
//!    byte for byte. Needs `qemu-system-arm` (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use matpac_runtime::Model;
use matpac_runtime::engine::{Engine, Interpreter, TractEngine};
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::tagger::{Tagger, TaggerConfig};
use matpac_trainer::audio::{load_audio, to_pcm_i16};
use matpac_trainer::cli::{Cli, run};
use matpac_trainer::edge::features::{FeatureStats, file_windows};

/// Classes of the toy task: a drum hit, a noisy cymbal and a tonal wind
/// instrument, which a tiny student separates after a few epochs.
const CLASSES: [&str; 3] = ["kick", "cymbal", "pipe"];
/// Student size (`matpac distill --preset`).
const STUDENT: &str = "default";
/// Epochs of the tag head.
const TAGGER_EPOCHS: &str = "40";
/// Seconds between the starts of the sounds in the assembled clip.
const SLOT_SECONDS: f64 = 2.0;

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/bundled")
}

fn matpac(args: &[&str]) {
    let mut argv = vec!["matpac"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    run(cli).unwrap_or_else(|e| panic!("{argv:?}: {e:#}"));
}

/// `(path, label, split)` of the bundled single-label clips of `CLASSES`.
fn toy_clips() -> Vec<(PathBuf, String, String, String)> {
    let manifest = std::fs::read_to_string(bundled().join("manifest.csv")).unwrap();
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            CLASSES.contains(&f[1]).then(|| {
                (
                    bundled().join(f[0]),
                    f[1].to_string(),
                    f[2].to_string(),
                    f[3].to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn pretrain_distill_tag_export_and_tag_a_scene() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let unlabelled = bundled().join("unlabelled").display().to_string();

    // 1–2. Pretrain and distil.
    matpac(&[
        "pretrain",
        "--data",
        &unlabelled,
        "--preset",
        "tiny",
        "--out",
        &p("matpac"),
        "--steps",
        "4",
        "--cache",
        &p("cache"),
        "--quiet",
    ]);
    matpac(&[
        "distill",
        "--teacher",
        &p("matpac"),
        "--data",
        &unlabelled,
        "--out",
        &p("student"),
        "--preset",
        STUDENT,
        "--epochs",
        "2",
    ]);

    // 3. The toy labelled set, with the bundled split and groups.
    let clips = toy_clips();
    let mut csv = String::from("path,label,split,group\n");
    for (path, label, split, group) in &clips {
        csv.push_str(&format!("{},{label},{split},{group}\n", path.display()));
    }
    std::fs::write(dir.path().join("toy.csv"), csv).unwrap();
    matpac(&[
        "train-tagger",
        &p("toy.csv"),
        "--out",
        &p("tagger"),
        "--init",
        &p("student"),
        "--epochs",
        TAGGER_EPOCHS,
        // Fresh augmented windows per epoch, sized to the toy set (the
        // default 1024 is for real data sets).
        "--augment-set",
        "windows_per_epoch=128",
    ]);

    // 4. Export; both engines read the file and agree.
    matpac(&[
        "export",
        &p("tagger"),
        "--data",
        &p("toy.csv"),
        "--out",
        &p("tagger.onnx"),
    ]);
    let bytes = std::fs::read(dir.path().join("tagger.onnx")).unwrap();
    let model = Model::parse(&bytes).expect("the runtime parses the exported model");
    let tract = TractEngine::from_bytes(&bytes).expect("tract loads the exported model");
    let mut arena = vec![0u8; model.arena_len()];
    let mut runtime = Interpreter::new(&model, &mut arena).unwrap();
    let fe = FrontendConfig::default();
    let mean: f32 = model
        .metadata("matpac.feature_mean")
        .unwrap()
        .parse()
        .unwrap();
    let std: f32 = model
        .metadata("matpac.feature_std")
        .unwrap()
        .parse()
        .unwrap();
    let stats = FeatureStats { mean, std };
    let (t, m) = (98, fe.n_mels);
    assert_eq!(model.input_len(), t * m, "model input [1, 1, 98, 80]");
    let (mut total, mut exact, mut worst) = (0usize, 0usize, 0f32);
    let test: Vec<_> = clips.iter().filter(|c| c.2 == "test").collect();
    for (path, ..) in &test {
        for w in file_windows(&fe, path, t, 49).unwrap() {
            let x = stats.apply(&w);
            let mut ours = vec![0f32; model.output_len()];
            runtime.run(&x, &mut ours).unwrap();
            let theirs = tract.try_run(&x).unwrap();
            for (a, b) in ours.iter().zip(&theirs) {
                total += 1;
                exact += usize::from(a == b);
                worst = worst.max((a - b).abs());
            }
        }
    }
    println!("runtime vs tract: {exact}/{total} scores bit-equal, max |Δ| {worst:.2e}");
    // Both run the same int8 graph; only the final float sigmoid may differ
    // by an f32 rounding (≤ 1e-6 on a value in [0, 1]).
    assert!(total > 0 && worst <= 1e-6, "max |Δ| {worst}");

    // 5. A clip assembled from one held-out sound of each class.
    let mut pcm: Vec<i16> = Vec::new();
    let mut placed = Vec::new();
    for (k, class) in CLASSES.iter().enumerate() {
        let (path, ..) = test.iter().find(|c| c.1 == *class).unwrap();
        let start = ((0.5 + k as f64 * SLOT_SECONDS) * f64::from(fe.sample_rate)) as usize;
        let sound = to_pcm_i16(&load_audio(path, fe.sample_rate).unwrap());
        pcm.resize(start, 0);
        pcm.extend_from_slice(&sound);
        placed.push((k, start as f64 / f64::from(fe.sample_rate)));
    }
    pcm.resize(pcm.len() + fe.sample_rate as usize, 0);
    let config = TaggerConfig::for_model(&model).unwrap();
    let mut window = vec![0i8; Tagger::<8>::window_len(&model)];
    let mut tagger_arena = vec![0u8; model.arena_len()];
    let mut tagger = Tagger::<8>::new(&model, config, &mut window, &mut tagger_arena).unwrap();
    let mut events = Vec::new();
    tagger.push(&pcm, |e| events.push(e)).unwrap();
    tagger.finish(|e| events.push(e));
    let sr = f64::from(fe.sample_rate);
    let stride = (config.stride_frames * fe.hop_length) as f64 / sr;
    for e in &events {
        println!(
            "event {} {:.3}–{:.3} s score {:.3}",
            tagger.class_name(e.class),
            e.onset as f64 / sr,
            e.offset as f64 / sr,
            e.score
        );
    }
    let host_lines: Vec<String> = events
        .iter()
        .map(|e| {
            let mut line = String::new();
            e.write_text(&mut line, tagger.class_name(e.class), fe.sample_rate)
                .unwrap();
            line
        })
        .collect();
    for (class, onset) in placed {
        let hit = events.iter().find(|e| {
            tagger.class_name(e.class) == CLASSES[class]
                && (e.onset as f64 / sr - onset).abs() <= stride
        });
        assert!(
            hit.is_some(),
            "{} at {onset:.2} s not found within one stride ({stride} s)",
            CLASSES[class]
        );
    }

    // 6. The same model and clip in the firmware, on a Cortex-M4 in QEMU.
    let wav = dir.path().join("clip.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: fe.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
    pcm.iter().for_each(|&s| writer.write_sample(s).unwrap());
    writer.finalize().unwrap();
    let firmware = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-example");
    let run = Command::new(firmware.join("run-qemu.sh"))
        .current_dir(&firmware)
        .env("MATPAC_MODEL", dir.path().join("tagger.onnx"))
        .env("MATPAC_SCENE", &wav)
        .output()
        .expect("runs firmware-example/run-qemu.sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "QEMU firmware run failed (needs qemu-system-arm and the thumbv7em target):\n{}\n{stdout}",
        String::from_utf8_lossy(&run.stderr)
    );
    let qemu_lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("onset=")).collect();
    println!(
        "QEMU: {} events, host: {}",
        qemu_lines.len(),
        host_lines.len()
    );
    assert!(!host_lines.is_empty());
    assert_eq!(
        qemu_lines, host_lines,
        "firmware events differ from the host tagger's"
    );
}
