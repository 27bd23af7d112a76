//! Dataset readers and splits on small generated folders and CSVs: layouts,
//! relative paths, errors with row numbers, and groups that never cross a split.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use matpac_trainer::data::dataset::{DataError, Dataset, Layout, Split};
use matpac_trainer::data::readers::open;
use matpac_trainer::data::splits::{crossing_group, group_folds, plan, validation};

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b"").unwrap();
}

fn write(path: &Path, text: &str) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// A CSV in `dir/meta/` whose clips live in `dir/clips/` (paths relative to the CSV).
fn csv_with_clips(dir: &Path, header: &str, rows: &[&str]) -> PathBuf {
    for r in rows {
        let first = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(r.as_bytes())
            .records()
            .next()
            .and_then(Result::ok)
            .and_then(|fields| fields.get(0).map(str::to_string))
            .unwrap_or_default();
        if !first.is_empty() && !first.contains("missing") {
            touch(&dir.join("meta").join(first));
        }
    }
    write(
        &dir.join("meta/list.csv"),
        &format!("{header}\n{}\n", rows.join("\n")),
    )
}

fn err_text(e: DataError) -> String {
    e.to_string()
}

#[test]
fn folder_per_class_labels_groups_and_extensions() {
    let d = tempfile::tempdir().unwrap();
    for f in [
        "dog/a.wav",
        "dog/b.FLAC",
        "cat/x.ogg",
        "cat/session1/y.wav",
        "cat/session1/z.wav",
    ] {
        touch(&d.path().join(f));
    }
    touch(&d.path().join("cat/notes.txt"));
    touch(&d.path().join("stray.wav")); // not in a class folder: ignored
    fs::create_dir_all(d.path().join("empty")).unwrap();
    let ds = open(d.path()).unwrap();
    assert_eq!(ds.layout, Layout::FolderPerClass);
    assert_eq!(ds.labels, ["cat", "dog"]);
    assert_eq!(ds.clips.len(), 5);
    let groups: Vec<&str> = ds.clips.iter().map(|c| c.group.as_str()).collect();
    assert_eq!(
        groups,
        [
            "cat/session1",
            "cat/session1",
            "cat/x.ogg",
            "dog/a.wav",
            "dog/b.FLAC"
        ]
    );
    assert!(
        ds.clips
            .iter()
            .all(|c| c.labels.len() == 1 && c.split.is_none())
    );
}

#[test]
fn folder_with_one_class_or_none_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let e = open(d.path()).unwrap_err();
    assert!(matches!(e, DataError::NotADataset { .. }), "{e}");
    touch(&d.path().join("only/a.wav"));
    let e = err_text(open(d.path()).unwrap_err());
    assert!(e.contains("at least two"), "{e}");
}

#[test]
fn csv_relative_paths_multi_label_quotes_and_split() {
    let d = tempfile::tempdir().unwrap();
    let csv = csv_with_clips(
        d.path(),
        "path,label,split,group,duration",
        &[
            "../clips/a.flac,piano,train,g1,1.0",
            "\"../clips/b,c.flac\",bass,train,g2,1.0",
            "../clips/m.flac,piano; bass,test,g3,1.0",
            "../clips/v.flac,bass,val,g4,1.0",
        ],
    );
    let ds = open(&csv).unwrap();
    assert_eq!(ds.layout, Layout::Csv);
    assert_eq!(ds.labels, ["bass", "piano"]);
    assert_eq!(ds.clips[0].path, d.path().join("meta/../clips/a.flac"));
    assert!(ds.clips[1].path.ends_with("b,c.flac"));
    assert_eq!(ds.clips[2].labels, [0, 1]);
    assert!(ds.is_multi_label());
    assert_eq!(ds.clips[2].row, 4);
    assert_eq!(ds.clips[3].split, Some(Split::Val));
    let p = plan(&ds, None, 0).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].train.clone(), p[0].val.clone(), p[0].test.clone()),
        (vec![0, 1], vec![3], vec![2])
    );
}

#[test]
fn manifest_folder_is_read_as_csv() {
    let d = tempfile::tempdir().unwrap();
    touch(&d.path().join("task/clips/a.flac"));
    touch(&d.path().join("task/clips/b.flac"));
    write(
        &d.path().join("task/manifest.csv"),
        "path,label,split,group,duration\nclips/a.flac,x,train,g1,1\nclips/b.flac,y,train,g2,1\n",
    );
    let ds = open(&d.path().join("task")).unwrap();
    assert_eq!(ds.name, "task");
    assert_eq!(ds.clips.len(), 2);
}

#[test]
fn csv_errors_name_the_row() {
    let cases: &[(&str, &[&str], &str)] = &[
        // (header, rows, expected fragment)
        (
            "path,label",
            &["a.wav,x", "b.wav,y,extra"],
            "row 3: 3 fields, the header has 2",
        ),
        (
            "path,label",
            &["a.wav,x", "missing.wav,y"],
            "row 3: audio file `missing.wav` not found",
        ),
        ("path,label", &["a.wav,x", "b.wav,"], "row 3: empty label"),
        (
            "path,label",
            &["a.wav,x", "b.wav,y;;z"],
            "row 3: empty label",
        ),
        (
            "path,label",
            &["a.wav,x", "\"b.wav,y"],
            "row 3: unterminated quoted field",
        ),
        (
            "path,label,split",
            &["a.wav,x,train", "b.wav,y,holdout"],
            "row 3: split `holdout`",
        ),
        (
            "path,label,split",
            &["a.wav,x,train", "b.wav,y,train", "c.wav,z,test"],
            "row 4: unknown label `z`",
        ),
        (
            "path,label,fold",
            &["a.wav,x,1", "b.wav,y,two"],
            "row 3: fold `two`",
        ),
        (
            "path,label,split,group",
            &["a.wav,x,train,g", "b.wav,x,test,g"],
            "row 3: group `g` is on both sides",
        ),
        (
            "path,label,group",
            &["a.wav,x,g", "b.wav,y,"],
            "row 3: empty group",
        ),
        (
            "file_name,label",
            &["a.wav,x"],
            "line 1: the header has no `path`",
        ),
        ("path,tag", &["a.wav,x"], "the header has no `label`"),
    ];
    for (header, rows, want) in cases {
        let d = tempfile::tempdir().unwrap();
        let csv = csv_with_clips(d.path(), header, rows);
        let e = err_text(open(&csv).unwrap_err());
        assert!(
            e.contains(want),
            "{header} {rows:?}: got `{e}`, want `{want}`"
        );
        assert!(e.contains("list.csv"), "error names the file: {e}");
    }
}

#[test]
fn esc50_folds_groups_and_errors() {
    let d = tempfile::tempdir().unwrap();
    let header = "filename,fold,target,category,esc10,src_file,take";
    let mut rows = Vec::new();
    for fold in 1..=3 {
        for (t, cat) in [(0, "dog"), (1, "rain")] {
            let name = format!("{fold}-{t}00-A-0.wav");
            touch(&d.path().join("audio").join(&name));
            rows.push(format!("{name},{fold},{t},{cat},True,{t}00{fold},A"));
        }
    }
    write(
        &d.path().join("meta/esc50.csv"),
        &format!("{header}\n{}\n", rows.join("\n")),
    );
    let ds = open(d.path()).unwrap();
    assert_eq!(ds.layout, Layout::Esc50);
    assert_eq!(ds.labels, ["dog", "rain"]);
    assert_eq!(ds.clips[1].fold, Some(1));
    assert_eq!(ds.clips[1].group, "src:1001");
    let p = plan(&ds, None, 0).unwrap();
    assert_eq!(
        p.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["fold 1", "fold 2", "fold 3"]
    );
    assert_eq!(p[1].test, [2, 3]);

    // A category with two targets, a target with two categories, a missing clip.
    for (bad, want) in [
        (
            "3-999-A-0.wav,3,0,cat,True,9,A",
            "row 8: unknown label `cat`: class id 0 is `dog` at row 2",
        ),
        (
            "3-999-A-0.wav,3,5,dog,True,9,A",
            "row 8: unknown label `dog`: it has class id 0 at row 2, here 5",
        ),
        (
            "gone.wav,3,0,dog,True,9,A",
            "row 8: audio file `gone.wav` not found",
        ),
    ] {
        touch(&d.path().join("audio/3-999-A-0.wav"));
        let text = format!("{header}\n{}\n{bad}\n", rows.join("\n"));
        write(&d.path().join("meta/esc50.csv"), &text);
        let e = err_text(open(d.path()).unwrap_err());
        assert!(e.contains(want), "got `{e}`, want `{want}`");
    }
}

#[test]
fn urbansound8k_folds_and_fold_folders() {
    let d = tempfile::tempdir().unwrap();
    let header = "slice_file_name,fsID,start,end,salience,fold,classID,class";
    let mut rows = Vec::new();
    for fold in 1..=2 {
        for (id, class) in [(3, "dog_bark"), (1, "car_horn")] {
            let name = format!("{id}{fold}-{id}-0-0.wav");
            touch(&d.path().join(format!("audio/fold{fold}/{name}")));
            rows.push(format!("{name},{id}{fold},0,1,1,{fold},{id},{class}"));
        }
    }
    let csv = d.path().join("metadata/UrbanSound8K.csv");
    write(&csv, &format!("{header}\n{}\n", rows.join("\n")));
    let ds = open(d.path()).unwrap();
    assert_eq!(ds.layout, Layout::UrbanSound8k);
    assert_eq!(ds.labels, ["car_horn", "dog_bark"], "ordered by classID");
    assert_eq!(ds.clips[0].labels, [1]);
    assert_eq!(plan(&ds, None, 0).unwrap().len(), 2);
    // The clip is looked for in its own fold's folder.
    let moved = rows[0].replace(",1,3,dog_bark", ",2,3,dog_bark");
    write(
        &csv,
        &format!("{header}\n{moved}\n{}\n", rows[1..].join("\n")),
    );
    let e = err_text(open(d.path()).unwrap_err());
    assert!(
        e.contains("row 2: audio file `31-3-0-0.wav` not found"),
        "{e}"
    );
}

/// A data set of `groups` groups of 1–4 clips, labels by group, no files needed.
fn synthetic(groups: usize, labels: usize, seed: u64) -> Dataset {
    let mut clips = Vec::new();
    let mut s = seed;
    for g in 0..groups {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = 1 + (s >> 60) as usize % 4;
        for _ in 0..n {
            clips.push(matpac_trainer::data::dataset::Clip {
                path: PathBuf::from(format!("g{g}.wav")),
                labels: vec![g % labels],
                group: format!("g{g}"),
                fold: None,
                split: None,
                row: 0,
            });
        }
    }
    Dataset {
        name: "synthetic".into(),
        source: PathBuf::from("synthetic"),
        layout: Layout::Csv,
        labels: (0..labels).map(|l| format!("l{l}")).collect(),
        clips,
    }
}

#[test]
fn group_folds_never_split_a_group_and_cover_every_clip_once() {
    for seed in 0..20 {
        let ds = synthetic(40 + seed as usize, 4, seed);
        let splits = plan(&ds, Some(5), seed).unwrap();
        assert_eq!(splits.len(), 5);
        let mut tested = vec![0usize; ds.clips.len()];
        for s in &splits {
            assert_eq!(
                crossing_group(&ds, &s.train, &s.test),
                None,
                "seed {seed} {}",
                s.name
            );
            assert_eq!(s.train.len() + s.test.len(), ds.clips.len());
            s.test.iter().for_each(|&i| tested[i] += 1);
            // Stratified: every label is tested in every fold (40+ groups, 4 labels).
            let labels: BTreeSet<usize> = s.test.iter().map(|&i| ds.clips[i].labels[0]).collect();
            assert_eq!(labels.len(), 4, "seed {seed} {}", s.name);
            let (fit, val) = validation(&ds, &s.train, seed);
            assert_eq!(crossing_group(&ds, &fit, &val), None);
            assert_eq!(fit.len() + val.len(), s.train.len());
            assert!(!val.is_empty() && !fit.is_empty());
        }
        assert!(
            tested.iter().all(|&n| n == 1),
            "each clip is tested exactly once"
        );
    }
    let ds = synthetic(3, 2, 0);
    assert!(group_folds(&ds, &(0..ds.clips.len()).collect::<Vec<_>>(), 5, 0).is_err());
    // Without folds or a split: 5 group folds, or fewer with fewer groups.
    assert_eq!(plan(&ds, None, 0).unwrap().len(), 3);
}

#[test]
fn bundled_manifest_reads_and_keeps_groups_apart() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/bundled");
    let ds = open(&root).unwrap();
    assert_eq!(ds.name, "bundled");
    assert_eq!(ds.clips.len(), 436);
    assert_eq!(ds.labels.len(), 15);
    assert!(ds.is_multi_label());
    assert_eq!(ds.clips.iter().filter(|c| c.labels.len() == 2).count(), 65);
    let given = plan(&ds, None, 0).unwrap();
    assert_eq!(
        (given.len(), given[0].train.len(), given[0].test.len()),
        (1, 343, 93)
    );
    for s in given.iter().chain(&plan(&ds, Some(5), 1).unwrap()) {
        assert_eq!(crossing_group(&ds, &s.train, &s.test), None, "{}", s.name);
    }
}
