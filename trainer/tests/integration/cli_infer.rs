//! `matpac infer` on the committed onnxruntime-quantised DS-CNN fixtures: both
//! engines agree with onnxruntime within one output quantisation step, and a
//! corrupt model gets a one-line error.

use matpac_trainer::io::read_npy_f32;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixtures/onnx")
}

fn infer(model: &Path, input: &Path, out: &Path, engine: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matpac"))
        .args([
            "infer",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap(), "--engine", engine])
        .output()
        .unwrap()
}

#[test]
fn both_engines_match_onnxruntime_within_one_step() {
    let dir = tempfile::tempdir().unwrap();
    for form in ["qop", "qdq"] {
        let model = fixtures().join(format!("dscnn_{form}.onnx"));
        let (_, expected) =
            read_npy_f32(&fixtures().join(format!("dscnn_{form}_ort.npy"))).unwrap();
        let step: f32 = std::fs::read_to_string(fixtures().join(format!("dscnn_{form}_step.txt")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        for engine in ["runtime", "tract"] {
            let out = dir.path().join(format!("{form}_{engine}.npy"));
            let o = infer(&model, &fixtures().join("inputs.npy"), &out, engine);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let (shape, got) = read_npy_f32(&out).unwrap();
            assert_eq!(
                got.len(),
                expected.len(),
                "{form}/{engine}: shape {shape:?}"
            );
            // One output quantisation step (plus f32 slack of 1e-6): the two
            // engines' requantisation may round a tie differently from onnxruntime.
            let worst = got
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            println!("{form} {engine}: max |Δ| vs onnxruntime = {worst:.3e} (step {step:.3e})");
            assert!(worst <= step + 1e-6, "{form}/{engine}: {worst} > {step}");
        }
    }
}

#[test]
fn corrupt_model_and_wrong_input_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.onnx");
    let bytes = std::fs::read(fixtures().join("dscnn_qop.onnx")).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let out = dir.path().join("y.npy");
    let o = infer(&bad, &fixtures().join("inputs.npy"), &out, "runtime");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.contains("bad.onnx") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
    // An input whose size is not a multiple of the model's input.
    let small = dir.path().join("small.npy");
    matpac_trainer::io::write_npy_f32(&small, &[3], &[0.0, 1.0, 2.0]).unwrap();
    let o = infer(&fixtures().join("dscnn_qop.onnx"), &small, &out, "runtime");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && stderr.contains("not a whole number of model inputs"),
        "{stderr}"
    );
    assert!(!out.exists());
}
