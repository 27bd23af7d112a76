//! `matpac tag` with the committed exported tagger (`firmware-example/models/tagger.onnx`):
//! the three output formats, resampling of audio at another rate, scoring against a
//! reference CSV with a PNG, and clear errors for a model without matpac metadata and
//! for missing audio.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model() -> PathBuf {
    root().join("firmware-example/models/tagger.onnx")
}

fn scene() -> PathBuf {
    root().join("firmware-example/clips/scene01_0-10s.wav")
}

fn tag(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matpac"))
        .arg("tag")
        .args(args)
        .output()
        .expect("runs matpac")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn text_csv_and_json_list_the_same_events() {
    let (m, s) = (model(), scene());
    let out = tag(&[m.as_os_str(), s.as_os_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert!(!lines.is_empty(), "no events");
    for l in &lines {
        let (_, event) = l.split_once(": ").expect("FILE: event");
        assert!(
            event.starts_with("onset=") && event.contains(" class="),
            "{l}"
        );
    }
    let csv = tag(&[
        m.as_os_str(),
        s.as_os_str(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    let csv = text(&csv.stdout);
    assert!(csv.starts_with("file,onset,offset,class,score\n"), "{csv}");
    assert_eq!(csv.lines().count(), lines.len() + 1);
    let json = tag(&[
        m.as_os_str(),
        s.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let json = text(&json.stdout);
    for (line, t) in json.lines().zip(&lines) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let class = v["class"].as_str().unwrap();
        assert!(t.contains(&format!("class={class} ")), "{line} vs {t}");
        let onset = v["onset"].as_f64().unwrap();
        let text_onset: f64 = t
            .split("onset=")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|x| x.parse().ok())
            .unwrap();
        // Text prints whole milliseconds (truncated); JSON the exact seconds.
        assert!(
            (0.0..0.001).contains(&(onset - text_onset + 1e-9)),
            "{line} vs {t}"
        );
    }
}

#[test]
fn audio_at_another_rate_is_resampled() {
    let ogg = root().join("trainer/tests/fixtures/audio/piano_22k_stereo.ogg");
    let m = model();
    let out = tag(&[m.as_os_str(), ogg.as_os_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_reference_csv_beside_the_audio_is_scored_and_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("scene.wav");
    std::fs::copy(scene(), &wav).unwrap();
    // The bundled scene's first ten seconds of events.
    let csv = std::fs::read_to_string(root().join("data/bundled/scenes/scene01.csv")).unwrap();
    let mut kept = String::new();
    for (i, l) in csv.lines().enumerate() {
        let onset: f64 = l.split(',').next().unwrap().parse().unwrap_or(0.0);
        if i == 0 || onset < 10.0 {
            kept.push_str(l);
            kept.push('\n');
        }
    }
    std::fs::write(dir.path().join("scene.csv"), kept).unwrap();
    let m = model();
    let png_dir = dir.path().join("png");
    let out = tag(&[
        m.as_os_str(),
        wav.as_os_str(),
        "--png".as_ref(),
        png_dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("reference events found"), "{err}");
    let png = std::fs::read(png_dir.join("scene.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn a_model_without_matpac_metadata_and_missing_audio_are_clear_errors() {
    let foreign = root().join("runtime/tests/fixtures/onnx/dscnn_qop.onnx");
    let s = scene();
    let out = tag(&[foreign.as_os_str(), s.as_os_str()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("not a matpac tagger export"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let m = model();
    let missing = root().join("no/such/file.wav");
    let out = tag(&[m.as_os_str(), missing.as_os_str()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no/such/file.wav") && !err.contains("panicked"),
        "{err}"
    );
}
