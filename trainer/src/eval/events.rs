//! Sound-event references: the events of an audio file, in seconds.
//!
//! Reference events are read from two formats:
//! - ours, an `onset,offset,label` CSV (seconds, header row; the format of
//!   `data/bundled/scenes/*.csv`), one file per audio file ([`read_events_csv`]);
//! - DCASE's tab-separated `filename<TAB>onset<TAB>offset<TAB>event_label`
//!   (header optional), many audio files in one file ([`read_dcase_tsv`]).
//!
//! [`reference_for`] finds the reference of an audio file; the metrics that
//! compare detections with references are in the `event_metrics` module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::EvalError;
use crate::io::{RecordsError, read_records};

/// One event with times in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    /// Start, seconds.
    pub onset: f64,
    /// End, seconds.
    pub offset: f64,
    /// Class name.
    pub label: String,
    /// Detection score `[0, 1]` (1 for reference events).
    pub score: f32,
}

impl TimedEvent {
    /// A reference event (score 1).
    pub fn reference(onset: f64, offset: f64, label: &str) -> Self {
        Self {
            onset,
            offset,
            label: label.into(),
            score: 1.0,
        }
    }
}

/// The expected layout of our CSV, for error messages.
const CSV_FORMAT: &str = "`onset,offset,label` in seconds";
/// The expected layout of a DCASE file, for error messages.
const DCASE_FORMAT: &str = "tab-separated `filename, onset, offset, event_label` in seconds";

/// A reading error at `line` of `path`, naming the expected `format`.
fn bad_row(path: &Path, line: u64, why: &str, format: &str) -> EvalError {
    EvalError::Report(format!(
        "{} line {line}: {why} (expected {format})",
        path.display()
    ))
}

/// The non-blank records of `path`, a delimited file (trimmed fields, any
/// number of fields per row), with their line numbers.
fn records(
    path: &Path,
    delimiter: u8,
    has_headers: bool,
    format: &str,
) -> Result<Vec<(u64, csv::StringRecord)>, EvalError> {
    let mut reader = csv::ReaderBuilder::new();
    reader
        .delimiter(delimiter)
        .has_headers(has_headers)
        .flexible(true)
        .trim(csv::Trim::All)
        .quoting(delimiter == b',');
    read_records(path, &reader).map_err(|e| match e {
        RecordsError::Io(source) => EvalError::Io {
            path: path.to_path_buf(),
            source,
        },
        RecordsError::Record { line, reason } => bad_row(path, line, &reason, format),
    })
}

/// Parses onset and offset fields (`on <= off`, both finite).
fn parse_times(on: &str, off: &str) -> Result<(f64, f64), &'static str> {
    let on: f64 = on.parse().map_err(|_| "onset is not a number")?;
    let off: f64 = off.parse().map_err(|_| "offset is not a number")?;
    if !(on.is_finite() && off.is_finite() && on <= off) {
        return Err("onset after offset");
    }
    Ok((on, off))
}

/// Reads an `onset,offset,label` CSV with a header row.
pub fn read_events_csv(path: &Path) -> Result<Vec<TimedEvent>, EvalError> {
    let mut out = Vec::new();
    for (line, record) in records(path, b',', true, CSV_FORMAT)? {
        let bad = |why: &str| bad_row(path, line, why, CSV_FORMAT);
        let [on, off, label] = record.iter().collect::<Vec<_>>()[..] else {
            return Err(bad("not three fields"));
        };
        let (onset, offset) = parse_times(on, off).map_err(bad)?;
        out.push(TimedEvent {
            onset,
            offset,
            label: label.to_string(),
            score: 1.0,
        });
    }
    Ok(out)
}

/// The last path component of `name` (either separator), as DCASE lists
/// files with or without their folder.
fn file_name_of(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// Reads a DCASE reference: tab-separated `filename onset offset event_label`
/// rows (seconds), optionally after a header (a first row whose onset field
/// is not a number). Rows with no onset or an empty label list a file without
/// events. The events are keyed by the file name (last path component of the
/// filename column); every listed file has an entry, possibly empty.
pub fn read_dcase_tsv(path: &Path) -> Result<BTreeMap<String, Vec<TimedEvent>>, EvalError> {
    let mut out: BTreeMap<String, Vec<TimedEvent>> = BTreeMap::new();
    let mut first = true;
    for (line, record) in records(path, b'\t', false, DCASE_FORMAT)? {
        let bad = |why: &str| bad_row(path, line, why, DCASE_FORMAT);
        let field = |i: usize| record.get(i).unwrap_or("");
        let (name, on, off, label) = (field(0), field(1), field(2), field(3));
        let is_first = std::mem::replace(&mut first, false);
        if is_first && !on.is_empty() && on.parse::<f64>().is_err() {
            continue; // header
        }
        if record.len() > 4 {
            return Err(bad("more than four fields"));
        }
        if name.is_empty() {
            return Err(bad("no file name"));
        }
        let events = out.entry(file_name_of(name).to_string()).or_default();
        if on.is_empty() || label.is_empty() {
            continue; // a file without events
        }
        let (onset, offset) = parse_times(on, off).map_err(bad)?;
        events.push(TimedEvent {
            onset,
            offset,
            label: label.to_string(),
            score: 1.0,
        });
    }
    Ok(out)
}

/// Whether `path` names a DCASE reference (`.tsv`, `.txt`) rather than ours (`.csv`).
fn is_dcase(path: &Path) -> Result<bool, EvalError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("tsv" | "txt") => Ok(true),
        Some("csv") => Ok(false),
        _ => Err(EvalError::Report(format!(
            "{}: unknown reference format: use .csv ({CSV_FORMAT}) or .tsv/.txt (DCASE, {DCASE_FORMAT})",
            path.display()
        ))),
    }
}

/// The reference file of `audio`: `explicit` if given, else `AUDIO.csv`
/// beside it, else `AUDIO.tsv` beside it; `None` when there is none.
pub fn reference_path(audio: &Path, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    ["csv", "tsv"]
        .into_iter()
        .map(|ext| audio.with_extension(ext))
        .find(|p| p.is_file())
}

/// The reference events of `audio`. With `explicit` (a `--reference` file):
/// a `.tsv`/`.txt` is read as DCASE and gives the rows of `audio`'s file name
/// (none: the file has no events); a `.csv` is ours and applies as is. Without:
/// `AUDIO.csv` beside the file (ours), else `AUDIO.tsv` beside it (DCASE).
/// `None` when there is no reference.
pub fn reference_for(
    audio: &Path,
    explicit: Option<&Path>,
) -> Result<Option<Vec<TimedEvent>>, EvalError> {
    let Some(path) = reference_path(audio, explicit) else {
        return Ok(None);
    };
    if !is_dcase(&path)? {
        return read_events_csv(&path).map(Some);
    }
    let name = audio
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut all = read_dcase_tsv(&path)?;
    Ok(Some(all.remove(&name).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(onset: f64, offset: f64, label: &str) -> TimedEvent {
        TimedEvent::reference(onset, offset, label)
    }

    #[test]
    fn csv_round_trip_and_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.csv");
        std::fs::write(&ok, "onset,offset,label\n0.5,1.25,piano\n\n2,3,kick\n").unwrap();
        let e = read_events_csv(&ok).unwrap();
        assert_eq!(e, vec![ev(0.5, 1.25, "piano"), ev(2.0, 3.0, "kick")]);
        for (body, line, why) in [
            ("onset,offset,label\n1,x,a\n", 2, "offset is not a number"),
            ("onset,offset,label\n2,1,a\n", 2, "onset after offset"),
            ("onset,offset,label\n1,2\n", 2, "not three fields"),
            // Blank lines count.
            ("onset,offset,label\n\n1,x,a\n", 3, "offset is not a number"),
            (
                "onset,offset,label\n0,1,a\n\n\n1,x,a\n",
                5,
                "offset is not a number",
            ),
        ] {
            let p = dir.path().join("bad.csv");
            std::fs::write(&p, body).unwrap();
            let msg = read_events_csv(&p).unwrap_err().to_string();
            assert!(
                msg.contains(why)
                    && msg.contains(&format!("line {line}:"))
                    && msg.contains("bad.csv")
                    && msg.contains("onset,offset,label"),
                "{body:?}: {msg}"
            );
        }
    }

    #[test]
    fn dcase_tsv_with_a_header_two_files_and_a_file_without_events() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("ref.tsv");
        std::fs::write(
            &tsv,
            "filename\tonset\toffset\tevent_label\n\
             audio/a.wav\t0.5\t1.25\tdog\n\
             audio/b.wav\t2\t3\tcat\n\
             \n\
             audio/a.wav\t4.0\t4.5\tcat\n\
             audio/c.wav\t\t\t\n\
             d.wav\n",
        )
        .unwrap();
        let all = read_dcase_tsv(&tsv).unwrap();
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            ["a.wav", "b.wav", "c.wav", "d.wav"]
        );
        assert_eq!(
            all["a.wav"],
            vec![ev(0.5, 1.25, "dog"), ev(4.0, 4.5, "cat")]
        );
        assert_eq!(all["b.wav"], vec![ev(2.0, 3.0, "cat")]);
        assert!(all["c.wav"].is_empty() && all["d.wav"].is_empty());

        // Without a header, the first row is an event.
        let plain = dir.path().join("plain.txt");
        std::fs::write(&plain, "a.wav\t1\t2\tdog\n").unwrap();
        assert_eq!(
            read_dcase_tsv(&plain).unwrap()["a.wav"],
            vec![ev(1.0, 2.0, "dog")]
        );

        // reference_for picks the audio's rows by file name; a file the
        // reference does not list has no events.
        let audio = Path::new("/elsewhere/a.wav");
        assert_eq!(
            reference_for(audio, Some(&tsv)).unwrap().unwrap(),
            all["a.wav"]
        );
        assert_eq!(
            reference_for(Path::new("z.wav"), Some(&tsv)).unwrap(),
            Some(Vec::new())
        );
        assert_eq!(
            reference_for(audio, Some(&plain)).unwrap().unwrap(),
            vec![ev(1.0, 2.0, "dog")]
        );
    }

    #[test]
    fn dcase_bad_rows_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (body, line, why) in [
            (
                "filename\tonset\toffset\tevent_label\na.wav\t1\tx\tdog\n",
                2,
                "offset is not a number",
            ),
            (
                "a.wav\t1\t2\tdog\na.wav\tx\t2\tdog\n",
                2,
                "onset is not a number",
            ),
            (
                "a.wav\t1\t2\tdog\n\na.wav\t3\t2\tdog\n",
                3,
                "onset after offset",
            ),
            ("a.wav\t1\t2\tdog\textra\n", 1, "more than four fields"),
            ("\t1\t2\tdog\n", 1, "no file name"),
        ] {
            let p = dir.path().join("bad.tsv");
            std::fs::write(&p, body).unwrap();
            let msg = read_dcase_tsv(&p).unwrap_err().to_string();
            assert!(
                msg.contains(why)
                    && msg.contains(&format!("line {line}:"))
                    && msg.contains("bad.tsv"),
                "{body:?}: {msg}"
            );
            assert!(msg.contains("event_label"), "names the format: {msg}");
        }
    }

    #[test]
    fn references_beside_the_audio_csv_first_then_tsv() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("clip.wav");
        assert_eq!(reference_for(&audio, None).unwrap(), None);
        std::fs::write(dir.path().join("clip.tsv"), "clip.wav\t1\t2\tdog\n").unwrap();
        assert_eq!(
            reference_for(&audio, None).unwrap(),
            Some(vec![ev(1.0, 2.0, "dog")])
        );
        std::fs::write(dir.path().join("clip.csv"), "onset,offset,label\n0,1,cat\n").unwrap();
        assert_eq!(
            reference_for(&audio, None).unwrap(),
            Some(vec![ev(0.0, 1.0, "cat")])
        );
        // An explicit CSV applies as is; another extension is an error.
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "onset,offset,label\n5,6,kick\n").unwrap();
        assert_eq!(
            reference_for(&audio, Some(&other)).unwrap(),
            Some(vec![ev(5.0, 6.0, "kick")])
        );
        let msg = reference_for(&audio, Some(Path::new("ref.json")))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("ref.json") && msg.contains(".tsv"), "{msg}");
    }
}
