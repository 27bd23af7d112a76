//! Sound-event scoring: reference events from an `onset,offset,label` CSV
//! (seconds, header row; the format of `data/bundled/scenes/*.csv`) matched
//! one to one with detected events.
//!
//! A detection matches a reference event when it has the same label and the
//! two intervals overlap; among the candidates the pairs with the smallest
//! onset difference are taken first (greedy, deterministic). The onset error
//! of a pair is `|detected onset − reference onset|` in seconds.

use std::path::Path;

use super::EvalError;

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

/// Reads an `onset,offset,label` CSV with a header row.
pub fn read_events_csv(path: &Path) -> Result<Vec<TimedEvent>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |line: usize, why: &str| {
        EvalError::Report(format!(
            "{} line {line}: {why} (expected `onset,offset,label` in seconds)",
            path.display()
        ))
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [on, off, label] = f[..] else {
            return Err(bad(i + 1, "not three fields"));
        };
        let on: f64 = on
            .parse()
            .map_err(|_| bad(i + 1, "onset is not a number"))?;
        let off: f64 = off
            .parse()
            .map_err(|_| bad(i + 1, "offset is not a number"))?;
        if !(on.is_finite() && off.is_finite() && on <= off) {
            return Err(bad(i + 1, "onset after offset"));
        }
        out.push(TimedEvent {
            onset: on,
            offset: off,
            label: label.to_string(),
            score: 1.0,
        });
    }
    Ok(out)
}

/// The one-to-one matching of detections to reference events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventMatch {
    /// `(reference index, detection index)`, in reference order.
    pub pairs: Vec<(usize, usize)>,
    /// Reference events no detection matched.
    pub missed: Vec<usize>,
    /// Detections that matched no reference event.
    pub false_alarms: Vec<usize>,
}

impl EventMatch {
    /// Onset error of each pair, seconds.
    pub fn onset_errors(&self, truth: &[TimedEvent], detected: &[TimedEvent]) -> Vec<f64> {
        self.pairs
            .iter()
            .map(|&(r, d)| (detected[d].onset - truth[r].onset).abs())
            .collect()
    }
}

/// Matches `detected` to `truth` (see the module documentation).
pub fn match_events(truth: &[TimedEvent], detected: &[TimedEvent]) -> EventMatch {
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (r, t) in truth.iter().enumerate() {
        for (d, e) in detected.iter().enumerate() {
            if e.label == t.label && e.onset < t.offset && t.onset < e.offset {
                candidates.push(((e.onset - t.onset).abs(), r, d));
            }
        }
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let (mut used_r, mut used_d) = (vec![false; truth.len()], vec![false; detected.len()]);
    let mut pairs = Vec::new();
    for (_, r, d) in candidates {
        if !used_r[r] && !used_d[d] {
            used_r[r] = true;
            used_d[d] = true;
            pairs.push((r, d));
        }
    }
    pairs.sort_unstable();
    let unused = |used: &[bool]| -> Vec<usize> {
        used.iter()
            .enumerate()
            .filter(|(_, u)| !**u)
            .map(|(i, _)| i)
            .collect()
    };
    EventMatch {
        pairs,
        missed: unused(&used_r),
        false_alarms: unused(&used_d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(onset: f64, offset: f64, label: &str) -> TimedEvent {
        TimedEvent {
            onset,
            offset,
            label: label.into(),
            score: 1.0,
        }
    }

    #[test]
    fn matching_needs_label_and_overlap_and_is_one_to_one() {
        let truth = [
            ev(1.0, 2.0, "kick"),
            ev(3.0, 4.0, "snare"),
            ev(5.0, 6.0, "kick"),
        ];
        let det = [
            ev(1.2, 1.8, "kick"), // matches truth 0
            ev(1.5, 2.5, "kick"), // also overlaps truth 0, but it is taken: false alarm
            ev(3.1, 3.9, "kick"), // wrong label: false alarm
            ev(6.5, 7.0, "kick"), // no overlap with truth 2
        ];
        let m = match_events(&truth, &det);
        assert_eq!(m.pairs, vec![(0, 0)]);
        assert_eq!(m.missed, vec![1, 2]);
        assert_eq!(m.false_alarms, vec![1, 2, 3]);
        let err = m.onset_errors(&truth, &det);
        assert!((err[0] - 0.2).abs() < 1e-12, "{err:?}");
    }

    #[test]
    fn the_closest_onset_wins() {
        let truth = [ev(1.0, 3.0, "a")];
        let det = [ev(0.2, 1.5, "a"), ev(1.1, 2.0, "a")];
        assert_eq!(match_events(&truth, &det).pairs, vec![(0, 1)]);
    }

    #[test]
    fn csv_round_trip_and_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.csv");
        std::fs::write(&ok, "onset,offset,label\n0.5,1.25,piano\n\n2,3,kick\n").unwrap();
        let e = read_events_csv(&ok).unwrap();
        assert_eq!(e, vec![ev(0.5, 1.25, "piano"), ev(2.0, 3.0, "kick")]);
        for (body, why) in [
            ("onset,offset,label\n1,x,a\n", "offset is not a number"),
            ("onset,offset,label\n2,1,a\n", "onset after offset"),
            ("onset,offset,label\n1,2\n", "not three fields"),
        ] {
            let p = dir.path().join("bad.csv");
            std::fs::write(&p, body).unwrap();
            let msg = read_events_csv(&p).unwrap_err().to_string();
            assert!(msg.contains(why) && msg.contains("line 2"), "{msg}");
        }
    }
}
