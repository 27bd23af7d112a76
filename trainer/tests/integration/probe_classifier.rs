//! The linear probe on synthetic embeddings (separable → ≈100 %, label noise →
//! ≈ chance), group leakage, reports, and `matpac probe` end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use matpac_trainer::data::dataset::{Clip, Dataset, Layout};
use matpac_trainer::data::splits::{crossing_group, plan};
use matpac_trainer::eval::probe::{
    Fold, LinearProbe, ProbeConfig, ProbeData, Task, average_precision, mean_std, train,
};
use matpac_trainer::eval::report::{ResultRow, append_result, confusion_png};
use matpac_trainer::eval::run::probe_dataset;

/// Separable data must be classified almost perfectly.
const SEPARABLE_MIN_ACCURACY: f64 = 0.98;
/// Chance-level data: |accuracy − 1/classes| stays below this (1000 test rows:
/// the binomial standard deviation is 0.0126, so this is > 5 σ).
const CHANCE_TOLERANCE: f64 = 0.065;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn uniform(&mut self) -> f32 {
        (self.next() as f64 / (1u64 << 53) as f64) as f32
    }
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform().max(1e-7), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `n` rows of `d` features: class means at distance `sep` on random axes, unit noise.
fn clusters(
    n: usize,
    d: usize,
    classes: usize,
    sep: f32,
    g: &mut Gen,
) -> (Vec<f32>, Vec<Vec<usize>>) {
    let means: Vec<Vec<f32>> = (0..classes)
        .map(|_| {
            (0..d)
                .map(|_| sep * g.normal() / (d as f32).sqrt())
                .collect()
        })
        .collect();
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % classes;
        x.extend(means[c].iter().map(|m| m + g.normal() + 3.0)); // offset: standardisation matters
        y.push(vec![c]);
    }
    (x, y)
}

/// Fits on `fit` + `val`, choosing the L2 strength on `val`.
fn train_with_val(data: &ProbeData, fit: &[usize], val: &[usize]) -> LinearProbe {
    let fold = Fold {
        fit: fit.to_vec(),
        val: val.to_vec(),
    };
    train(data, &[fit, val].concat(), &[fold], &ProbeConfig::default()).unwrap()
}

fn ranges(n: usize) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let idx: Vec<usize> = (0..n).collect();
    let (a, b) = (n * 6 / 10, n * 8 / 10);
    (idx[..a].to_vec(), idx[a..b].to_vec(), idx[b..].to_vec())
}

#[test]
fn separable_clusters_reach_near_100_percent() {
    let mut g = Gen(1);
    let (x, y) = clusters(1000, 24, 5, 12.0, &mut g);
    let data = ProbeData {
        x: &x,
        d: 24,
        labels: &y,
        n_classes: 5,
        task: Task::SingleLabel,
    };
    let (fit, val, test) = ranges(1000);
    let p = train_with_val(&data, &fit, &val);
    let m = p.evaluate(&x, &y, &test);
    assert!(
        m.accuracy >= SEPARABLE_MIN_ACCURACY,
        "accuracy {}",
        m.accuracy
    );
    assert_eq!(m.map, None);
    let total: u32 = m.confusion.iter().flatten().sum();
    assert_eq!(total as usize, test.len());
    let diag: u32 = (0..5).map(|i| m.confusion[i][i]).sum();
    assert_eq!(diag as f64 / total as f64, m.accuracy);
}

#[test]
fn random_labels_stay_at_chance() {
    let mut g = Gen(2);
    let (n, d, c) = (5000, 32, 5);
    let x: Vec<f32> = (0..n * d).map(|_| g.normal()).collect();
    let y: Vec<Vec<usize>> = (0..n).map(|_| vec![g.below(c)]).collect();
    let data = ProbeData {
        x: &x,
        d,
        labels: &y,
        n_classes: c,
        task: Task::SingleLabel,
    };
    let idx: Vec<usize> = (0..n).collect();
    let (fit, val, test) = (&idx[..3000], &idx[3000..4000], &idx[4000..]);
    let p = train_with_val(&data, fit, val);
    let acc = p.evaluate(&x, &y, test).accuracy;
    assert!(
        (acc - 1.0 / c as f64).abs() < CHANCE_TOLERANCE,
        "accuracy {acc}"
    );
}

#[test]
fn multi_label_separable_has_high_map_and_random_has_low() {
    let mut g = Gen(3);
    let (n, d, c) = (1200, 20, 6);
    let axes: Vec<Vec<f32>> = (0..c)
        .map(|_| (0..d).map(|_| g.normal()).collect())
        .collect();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let a = g.below(c);
        let mut l = vec![a];
        if g.below(2) == 0 {
            let b = (a + 1 + g.below(c - 1)) % c;
            l.push(b);
        }
        l.sort_unstable();
        let row: Vec<f32> = (0..d)
            .map(|j| l.iter().map(|&k| 3.0 * axes[k][j]).sum::<f32>() + 0.5 * g.normal())
            .collect();
        x.extend(row);
        y.push(l);
    }
    let (fit, val, test) = ranges(n);
    let data = ProbeData {
        x: &x,
        d,
        labels: &y,
        n_classes: c,
        task: Task::MultiLabel,
    };
    let m = train_with_val(&data, &fit, &val).evaluate(&x, &y, &test);
    assert!(m.map.unwrap() > 0.95, "mAP {:?}", m.map);
    assert!(
        m.accuracy > SEPARABLE_MIN_ACCURACY,
        "top-1 accuracy {}",
        m.accuracy
    );

    // Shuffled labels: mAP near the positive rate (≈ 1.5 / 6).
    let mut shuffled = y.clone();
    shuffled.rotate_left(7);
    let data = ProbeData {
        labels: &shuffled,
        ..data
    };
    let m = train_with_val(&data, &fit, &val).evaluate(&x, &shuffled, &test);
    assert!(m.map.unwrap() < 0.4, "mAP {:?}", m.map);
}

#[test]
fn average_precision_and_mean_std_table() {
    const EPS: f64 = 1e-12;
    type Case<'a> = (&'a [(f32, bool)], Option<f64>);
    let cases: &[Case] = &[
        (
            &[(0.9, true), (0.8, false), (0.7, true)],
            Some((1.0 + 2.0 / 3.0) / 2.0),
        ),
        (&[(0.1, true), (0.5, false)], Some(0.5)),
        (&[(0.5, true), (0.5, false)], Some(0.5)), // ties ranked pessimistically
        (&[(0.5, false)], None),
        (&[(0.2, true), (0.1, true)], Some(1.0)),
    ];
    for (items, want) in cases {
        let got = average_precision(items);
        assert!(
            match (got, want) {
                (Some(a), Some(b)) => (a - b).abs() < EPS,
                (a, b) => a == *b,
            },
            "{items:?}: {got:?} vs {want:?}"
        );
    }
    let (m, s) = mean_std(&[0.8, 0.9, 1.0]);
    assert!((m - 0.9).abs() < EPS && (s - 0.1).abs() < EPS, "{m} {s}");
    assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
}

/// Groups whose embeddings identify the group and whose labels are random per
/// group: a split that let groups cross would score far above chance; group
/// splits must stay at chance.
#[test]
fn group_splits_prevent_leakage() {
    let mut g = Gen(4);
    let (groups, per, d, c) = (200, 5, 16, 4);
    let mut clips = Vec::new();
    let mut x = Vec::new();
    for k in 0..groups {
        let centre: Vec<f32> = (0..d).map(|_| 4.0 * g.normal()).collect();
        let label = g.below(c);
        for _ in 0..per {
            x.extend(centre.iter().map(|v| v + 0.1 * g.normal()));
            clips.push(Clip {
                path: PathBuf::from(format!("g{k}.wav")),
                labels: vec![label],
                group: format!("g{k}"),
                fold: None,
                split: None,
                row: 0,
            });
        }
    }
    let ds = Dataset {
        name: "leak".into(),
        source: PathBuf::from("leak"),
        layout: Layout::Csv,
        labels: (0..c).map(|l| l.to_string()).collect(),
        clips,
    };
    let splits = plan(&ds, Some(5), 0).unwrap();
    for s in &splits {
        assert_eq!(crossing_group(&ds, &s.train, &s.test), None);
    }
    let out = probe_dataset(&ds, &x, d, &splits, &ProbeConfig::default()).unwrap();
    let (acc, _) = mean_std(&out.accuracies());
    assert!((acc - 0.25).abs() < 0.08, "group folds: {acc}");
    assert!(
        out.summary().ends_with("over 5 splits"),
        "{}",
        out.summary()
    );

    // The same data split by clip (groups crossing) leaks: far above chance.
    let mut by_clip = splits[0].clone();
    by_clip.test = (0..ds.clips.len()).step_by(5).collect();
    by_clip.train = (0..ds.clips.len()).filter(|i| i % 5 != 0).collect();
    let out = probe_dataset(&ds, &x, d, &[by_clip.clone()], &ProbeConfig::default());
    assert!(
        out.is_err(),
        "probe_dataset must refuse a split where groups cross"
    );
    assert!(crossing_group(&ds, &by_clip.train, &by_clip.test).is_some());
}

#[test]
fn results_csv_appends_and_refuses_foreign_files() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("r/results.csv");
    let row = ResultRow {
        data: "a,\"b\"".into(),
        encoder: "random init".into(),
        encoder_id: "random:1".into(),
        task: "single-label".into(),
        clips: 10,
        classes: 2,
        accuracies: vec![0.5, 1.0],
        maps: vec![],
    };
    append_result(&csv, &row).unwrap();
    append_result(&csv, &row).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].contains(r#","a,""b""",random init,"#),
        "{}",
        lines[1]
    );
    let back: Vec<csv::StringRecord> = csv::Reader::from_path(&csv)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|r| &r[1] == "a,\"b\""), "{back:?}");
    assert!(
        lines[1].ends_with(",2,0.7500,0.3536,,,0.5000;1.0000"),
        "{}",
        lines[1]
    );
    let other = d.path().join("other.csv");
    std::fs::write(&other, "x,y\n").unwrap();
    assert!(append_result(&other, &row).is_err());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "x,y\n");
}

#[test]
fn confusion_png_is_written() {
    let d = tempfile::tempdir().unwrap();
    let png = d.path().join("c.png");
    let labels = vec!["dog".to_string(), "rain".to_string(), "engine".to_string()];
    let m = vec![vec![5, 1, 0], vec![0, 6, 0], vec![2, 0, 3]];
    confusion_png(&png, &labels, &m, "test").unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

/// Two classes of tones (low vs high pitch) as 16 kHz WAV files, folder per class.
fn tones(root: &Path) {
    for (class, base) in [("low", 220.0f32), ("high", 2200.0)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..6 {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 16_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let path = root.join(class).join(format!("{k}.wav"));
            let mut w = hound::WavWriter::create(path, spec).unwrap();
            let f = base * (1.0 + 0.05 * k as f32);
            for i in 0..8000 {
                let t = i as f32 / 16_000.0;
                w.write_sample((8000.0 * (std::f32::consts::TAU * f * t).sin()) as i16)
                    .unwrap();
            }
            w.finalize().unwrap();
        }
    }
}

#[test]
fn cli_probe_random_init_on_a_folder_per_class() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("tones");
    tones(&data);
    let results = d.path().join("out/results.csv");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_matpac"))
            .args([
                "probe",
                "--random-init",
                "--preset",
                "tiny",
                "--quiet",
                "--folds",
                "3",
            ])
            .arg("--data")
            .arg(&data)
            .arg("--results")
            .arg(&results)
            .arg("--cache")
            .arg(d.path().join("cache"))
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("accuracy ") && last.ends_with(" over 3 splits"),
        "{last}"
    );
    let mean: f64 = last.split_whitespace().nth(1).unwrap().parse().unwrap();
    // Even a random encoder separates 220 Hz from 2.2 kHz tones.
    assert!(mean >= 90.0, "{stdout}");
    assert!(
        d.path()
            .join("out/confusion_tones_random-init.png")
            .is_file()
    );
    // Second run: embeddings from the cache, same numbers, one more results row.
    let again = run();
    assert!(String::from_utf8_lossy(&again.stderr).contains("embeddings from cache"));
    assert_eq!(
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .last()
            .unwrap(),
        last
    );
    let rows = std::fs::read_to_string(&results).unwrap().lines().count();
    assert_eq!(rows, 3);
}

#[test]
fn cli_probe_reports_bad_rows() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("list.csv");
    std::fs::write(&csv, "path,label\nnothing.wav,a\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_matpac"))
        .args(["probe", "--random-init", "--preset", "tiny", "--data"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 2: audio file `nothing.wav` not found"),
        "{err}"
    );
}

#[test]
fn cli_probe_suite_tables_matpac_lambda0_random_init_and_log_mel_stats() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("tones");
    tones(&data);
    let (run, out) = (d.path().join("run"), d.path().join("suite"));
    let matpac = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(env!("CARGO_BIN_EXE_matpac"))
            .args(args)
            .env("RAYON_NUM_THREADS", "2")
            .output()
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "matpac {args:?}:\n{text}");
        text
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let cache = d.path().join("cache");
    // A two-update `tiny` run stands in for both checkpoints: the test is
    // about the suite's plumbing and table, not about the numbers.
    matpac(&[
        os("pretrain"),
        os("--data"),
        data.as_os_str(),
        os("--preset"),
        os("tiny"),
        os("--steps"),
        os("2"),
        os("--quiet"),
        os("--out"),
        run.as_os_str(),
        os("--cache"),
        cache.as_os_str(),
    ]);
    let log = matpac(&[
        os("probe-suite"),
        os("--matpac"),
        run.as_os_str(),
        os("--lambda0"),
        run.as_os_str(),
        // No bundled set (a warning), the tones as the one task.
        os("--bundled"),
        os("/nonexistent"),
        os("--data"),
        data.as_os_str(),
        os("--out"),
        out.as_os_str(),
        os("--folds"),
        os("3"),
        os("--quiet"),
        os("--cache"),
        cache.as_os_str(),
    ]);
    let table = std::fs::read_to_string(out.join("probe_suite.md")).unwrap();
    let header = table
        .lines()
        .find(|l| l.starts_with("| task"))
        .unwrap_or_else(|| panic!("no table header:\n{table}\n{log}"));
    for column in [
        "MATPAC",
        "λ = 0",
        "random init",
        "log-mel stats (no encoder)",
    ] {
        assert!(header.contains(column), "{header}");
    }
    // One row for the task: its splits and four "mean ± std" cells.
    let row = table
        .lines()
        .find(|l| l.starts_with("| tones"))
        .unwrap_or_else(|| panic!("no task row:\n{table}"));
    let means: Vec<f64> = row
        .split('|')
        .filter_map(|cell| cell.trim().split(" ± ").next()?.parse().ok())
        .collect();
    assert_eq!(means.len(), 4, "{row}");
    // 220 Hz against 2.2 kHz tones: every encoder, even random, and the
    // log-mel statistics separate them.
    assert!(means.iter().all(|&m| m >= 90.0), "{row}");
    for encoder in ["matpac", "lambda0", "random-init", "log-mel-stats"] {
        let png = out.join(format!("confusion_tones_{encoder}.png"));
        assert!(png.is_file(), "{} missing", png.display());
    }
}
