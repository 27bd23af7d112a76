//! `matpac tag` with the committed exported tagger (`firmware-example/models/tagger.onnx`):
//! the three output formats, resampling of audio at another rate, scoring against a
//! reference CSV with a PNG, the DCASE-style metrics (CSV or DCASE TSV reference, text,
//! JSON and CSV output, `--metrics FILE`), and clear errors for a model without matpac
//! metadata, for missing audio and for a `--metrics` file of another format.

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

fn bundled_scene() -> PathBuf {
    root().join("data/bundled/scenes/scene01.flac")
}

/// The event `tp/fp/fn` of the `micro` row of a metrics table.
fn micro_event_counts(table: &str) -> [u64; 3] {
    let row = table
        .lines()
        .find(|l| l.starts_with("| micro |"))
        .unwrap_or_else(|| panic!("no micro row in\n{table}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let counts: Vec<u64> = cells[5].split('/').map(|n| n.parse().unwrap()).collect();
    [counts[0], counts[1], counts[2]]
}

fn json_counts(v: &serde_json::Value) -> [u64; 3] {
    ["tp", "fp", "fn"].map(|k| v[k].as_u64().unwrap())
}

#[test]
fn the_bundled_scene_is_scored_alike_with_its_csv_and_a_dcase_tsv() {
    let (m, s) = (model(), bundled_scene());
    let csv = std::fs::read_to_string(s.with_extension("csv")).unwrap();
    let n_reference = csv.lines().skip(1).filter(|l| !l.trim().is_empty()).count() as u64;

    // The CSV beside the audio.
    let beside = tag(&[m.as_os_str(), s.as_os_str()]);
    assert!(beside.status.success(), "{}", text(&beside.stderr));
    let (stdout, stderr) = (text(&beside.stdout), text(&beside.stderr));
    assert!(stdout.contains("| micro |"), "{stdout}");
    assert!(
        stderr.contains("event F1 ")
            && stderr.contains("segment F1 ")
            && stderr.contains(&format!("/{n_reference} reference events found")),
        "{stderr}"
    );
    let [tp, fp, fn_] = micro_event_counts(&stdout);
    assert_eq!(tp + fn_, n_reference, "{stdout}");
    let n_events = stdout.lines().filter(|l| l.contains(": onset=")).count() as u64;
    assert_eq!(tp + fp, n_events, "{stdout}");

    // The same reference as DCASE TSV (header, folder in the file name, other
    // files and a file without events), with the metrics written as JSON.
    let dir = tempfile::tempdir().unwrap();
    let mut tsv = String::from("filename\tonset\toffset\tevent_label\n");
    tsv.push_str("other.wav\t1.0\t2.0\tpiano\n");
    for l in csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        tsv.push_str(&format!(
            "scenes/scene01.flac\t{}\t{}\t{}\n",
            f[0], f[1], f[2]
        ));
    }
    tsv.push_str("silent.wav\t\t\t\n");
    let reference = dir.path().join("reference.tsv");
    std::fs::write(&reference, tsv).unwrap();
    let json_path = dir.path().join("out/metrics.json");
    let dcase = tag(&[
        m.as_os_str(),
        s.as_os_str(),
        "--reference".as_ref(),
        reference.as_os_str(),
        "--metrics".as_ref(),
        json_path.as_os_str(),
    ]);
    assert!(dcase.status.success(), "{}", text(&dcase.stderr));
    assert_eq!(text(&dcase.stdout), stdout);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json_counts(&written["event"]), [tp, fp, fn_]);
    assert_eq!(written["files"], 1);

    // JSON lines end with the metrics; the CSV metrics file agrees.
    let csv_path = dir.path().join("metrics.csv");
    let json = tag(&[
        m.as_os_str(),
        s.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--metrics".as_ref(),
        csv_path.as_os_str(),
    ]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let json = text(&json.stdout);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len() as u64, n_events + 1, "{json}");
    let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    assert_eq!(last["metrics"], written);
    let rows = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = rows.lines();
    assert_eq!(
        lines.next(),
        Some("class,metric,tp,fp,fn,precision,recall,f1")
    );
    let micro: Vec<&str> = lines
        .find(|l| l.starts_with("micro,event,"))
        .unwrap()
        .split(',')
        .collect();
    let counts: Vec<u64> = micro[2..5].iter().map(|n| n.parse().unwrap()).collect();
    assert_eq!(counts, [tp, fp, fn_]);
    let f1: f64 = micro[7].parse().unwrap();
    assert!((f1 - written["event"]["f1"].as_f64().unwrap()).abs() < 1e-12);
    assert!(rows.contains("\nmicro,segment,"), "{rows}");

    // CSV output holds only the events and says where the metrics go.
    let out = tag(&[
        m.as_os_str(),
        s.as_os_str(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count() as u64, n_events + 1);
    assert!(
        text(&out.stderr).contains("--metrics FILE.csv"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_metrics_file_of_another_format_is_a_one_line_error_before_tagging() {
    let m = model();
    let missing = root().join("no/such/file.wav");
    let out = tag(&[
        m.as_os_str(),
        missing.as_os_str(),
        "--metrics".as_ref(),
        "x.txt".as_ref(),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("--metrics")
            && err.contains("x.txt")
            && err.contains(".json")
            && err.contains(".csv")
            && !err.contains("no/such/file.wav"),
        "{err}"
    );
    assert!(!Path::new("x.txt").exists());
}
