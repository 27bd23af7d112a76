//! `matpac scenes` on the bundled data set: the files it writes, that every
//! clip a scene uses comes from the split asked for (test: the manifest's test
//! split; val: the training side), that a second run with the same seed writes
//! the same bytes, and the errors for an argument missing its partner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/bundled")
}

fn scenes(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matpac"))
        .arg("scenes")
        .args(args)
        .output()
        .expect("runs matpac")
}

fn run_split(split: &str, seed: &str, out: &Path) -> Output {
    let data = bundled();
    scenes(&[
        "--data".as_ref(),
        data.as_os_str(),
        "--split".as_ref(),
        split.as_ref(),
        "--count".as_ref(),
        "2".as_ref(),
        "--seed".as_ref(),
        seed.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `path → split` from the bundled manifest (`path,label,split,group,duration`).
fn manifest_splits() -> BTreeMap<String, String> {
    let csv = std::fs::read_to_string(bundled().join("manifest.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("path,label,split,group,duration"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].to_string())
        })
        .collect()
}

/// The `clip` column of every `*.sources.csv` in `dir`, with the label.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in 0..2 {
        let csv = std::fs::read_to_string(dir.join(format!("scene{k:03}.sources.csv"))).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("onset,offset,label,clip"));
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4, "{l}");
            let (on, off): (f64, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
            assert!(0.0 <= on && on <= off && off < 20.0, "{l}");
            out.push((f[3].to_string(), f[2].to_string()));
        }
    }
    out
}

#[test]
fn test_scenes_use_test_clips_and_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let out = run_split("test", "1", &a);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "{}",
        text(&out.stdout)
    );
    for k in 0..2 {
        let name = format!("scene{k:03}");
        let wav = hound::WavReader::open(a.join(format!("{name}.wav"))).unwrap();
        assert_eq!(wav.spec().sample_rate, 16_000);
        assert_eq!(wav.spec().channels, 1);
        assert_eq!(wav.len(), 320_000);
        let refs = std::fs::read_to_string(a.join(format!("{name}.csv"))).unwrap();
        assert!(refs.starts_with("onset,offset,label\n"), "{refs}");
        assert!(refs.lines().count() > 5, "{refs}");
    }
    let index = std::fs::read_to_string(a.join("scenes.csv")).unwrap();
    assert!(
        index.starts_with("scene,events,duration,labels\nscene000,"),
        "{index}"
    );
    assert_eq!(index.lines().count(), 3);

    let splits = manifest_splits();
    let used = sources(&a);
    assert!(!used.is_empty());
    for (clip, label) in &used {
        assert_eq!(splits.get(clip).map(String::as_str), Some("test"), "{clip}");
        assert!(!label.contains(';'), "a mixture was used: {clip}");
    }

    let out = run_split("test", "1", &b);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 7, "{names:?}");
    for name in names {
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name:?} differs between two runs with seed 1"
        );
    }
}

#[test]
fn val_scenes_use_training_side_clips() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_split("val", "2", tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let splits = manifest_splits();
    let used = sources(tmp.path());
    assert!(!used.is_empty());
    for (clip, _) in &used {
        assert_eq!(
            splits.get(clip).map(String::as_str),
            Some("train"),
            "{clip}"
        );
    }
}

#[test]
fn snr_without_background_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = bundled();
    let out = scenes(&[
        "--data".as_ref(),
        data.as_os_str(),
        "--split".as_ref(),
        "test".as_ref(),
        "--count".as_ref(),
        "1".as_ref(),
        "--snr".as_ref(),
        "20".as_ref(),
        "--out".as_ref(),
        tmp.path().as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--background"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
