//! DCASE-style sound-event detection metrics (the semantics of `sed_eval`):
//! event-based and segment-based precision, recall and F1, per class and
//! micro-averaged, for one file ([`evaluate`]) and summed over files
//! ([`FileMetrics::add`]).
//!
//! **Event-based.** Per class, a detection may be paired with a reference
//! event of the same label when their onsets differ by at most
//! [`MetricsConfig::onset_collar`] and, if [`MetricsConfig::offset_collar`]
//! is set, their offsets differ by at most that much. Both limits are
//! inclusive; a slack of [`COLLAR_EPSILON`] (1 ns) is added so that a
//! difference of exactly the collar counts despite f64 rounding (`2.1 − 1.1`
//! is not exactly `1.0`). The pairs form a maximum-cardinality one-to-one
//! matching (augmenting paths), so the counts do not depend on the order of
//! the events. Matched pairs are true positives, unmatched detections false
//! positives, unmatched reference events false negatives.
//!
//! **Segment-based.** The timeline `[0, duration)` (extended to the last
//! event offset if an event ends later) is cut into consecutive segments of
//! [`MetricsConfig::segment`] seconds, the last one possibly shorter. In each
//! segment a class is active in the reference (or the system output) when
//! one of its events overlaps the segment by more than [`COLLAR_EPSILON`].
//! Each (segment, class) is a true positive when active in both, a false
//! positive when active only in the output, a false negative when active only
//! in the reference.
//!
//! Precision, recall and F1 with an empty denominator (`0/0`) are 0.
//!
//! Over 400 lines on purpose: event- and segment-based scoring share the
//! count types, the per-class tables and their CSV/JSON output.

use std::collections::BTreeMap;

use super::events::TimedEvent;

/// Slack added to the collars and required of a segment overlap, seconds.
pub const COLLAR_EPSILON: f64 = 1e-9;

/// True positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
}

/// `num / den`, 0 when `den` is 0.
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl Counts {
    /// `tp / (tp + fp)`; 0 when there is no detection (`0/0`).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// `tp / (tp + fn)`; 0 when there is no reference event (`0/0`).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// `2·tp / (2·tp + fp + fn)`, the harmonic mean of precision and recall;
    /// 0 when there is neither a detection nor a reference event (`0/0`).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }

    /// Counts, precision, recall and F1 as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn_,
            "precision": self.precision(),
            "recall": self.recall(),
            "f1": self.f1(),
        })
    }
}

/// Collars and segment length of the metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsConfig {
    /// Largest onset difference of a matched pair, seconds (inclusive). Default 1.0.
    pub onset_collar: f64,
    /// Largest offset difference of a matched pair, seconds (inclusive);
    /// `None` ignores offsets (the default).
    pub offset_collar: Option<f64>,
    /// Segment length of the segment-based metrics, seconds. Default 1.0.
    pub segment: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            onset_collar: 1.0,
            offset_collar: None,
            segment: 1.0,
        }
    }
}

impl MetricsConfig {
    /// Checks that the collars are finite and non-negative and the segment
    /// finite and positive; the error names the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        let collar_ok = |c: f64| c.is_finite() && c >= 0.0;
        if !collar_ok(self.onset_collar) {
            return Err(format!(
                "onset collar {}: must be a non-negative number of seconds",
                self.onset_collar
            ));
        }
        if let Some(c) = self.offset_collar
            && !collar_ok(c)
        {
            return Err(format!(
                "offset collar {c}: must be a non-negative number of seconds"
            ));
        }
        if !(self.segment.is_finite() && self.segment > 0.0) {
            return Err(format!(
                "segment {}: must be a positive number of seconds",
                self.segment
            ));
        }
        Ok(())
    }
}

/// Event- and segment-based counts of one file, or summed over files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileMetrics {
    /// Event-based counts over all classes.
    pub event: Counts,
    /// Event-based counts per class (every label of the reference or the output).
    pub event_per_class: BTreeMap<String, Counts>,
    /// Segment-based counts over all classes.
    pub segment: Counts,
    /// Segment-based counts per class (every label of the reference or the output).
    pub segment_per_class: BTreeMap<String, Counts>,
}

/// Adds `from`'s per-class counts to `into`'s.
fn add_per_class(into: &mut BTreeMap<String, Counts>, from: &BTreeMap<String, Counts>) {
    for (class, c) in from {
        into.entry(class.clone()).or_default().add(c);
    }
}

/// Mean F1 over the classes with at least one reference event (0 if none).
fn macro_f1(per_class: &BTreeMap<String, Counts>) -> f64 {
    let f1: Vec<f64> = per_class
        .values()
        .filter(|c| c.tp + c.fn_ > 0)
        .map(Counts::f1)
        .collect();
    if f1.is_empty() {
        0.0
    } else {
        f1.iter().sum::<f64>() / f1.len() as f64
    }
}

impl FileMetrics {
    /// Adds `other`'s counts (micro and per class) to these.
    pub fn add(&mut self, other: &FileMetrics) {
        self.event.add(&other.event);
        self.segment.add(&other.segment);
        add_per_class(&mut self.event_per_class, &other.event_per_class);
        add_per_class(&mut self.segment_per_class, &other.segment_per_class);
    }

    /// Event-based F1 averaged over the classes that have reference events
    /// (each class's F1 from its summed counts); 0 if there are none.
    pub fn event_macro_f1(&self) -> f64 {
        macro_f1(&self.event_per_class)
    }

    /// Segment-based F1 averaged over the classes that are active in at least
    /// one reference segment; 0 if there are none.
    pub fn segment_macro_f1(&self) -> f64 {
        macro_f1(&self.segment_per_class)
    }

    /// Every class of either map, sorted.
    fn classes(&self) -> Vec<&str> {
        let mut c: Vec<&str> = self
            .event_per_class
            .keys()
            .chain(self.segment_per_class.keys())
            .map(String::as_str)
            .collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// A markdown table: one row per class and a `micro` row with the
    /// totals; event and segment precision, recall, F1 and `tp/fp/fn`.
    pub fn table(&self) -> String {
        let cells = |c: &Counts| {
            format!(
                "{:.3} | {:.3} | {:.3} | {}/{}/{}",
                c.precision(),
                c.recall(),
                c.f1(),
                c.tp,
                c.fp,
                c.fn_
            )
        };
        let mut s = String::from(
            "| class | event P | event R | event F1 | event tp/fp/fn | segment P | segment R | segment F1 | segment tp/fp/fn |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let zero = Counts::default();
        for class in self.classes() {
            let e = self.event_per_class.get(class).unwrap_or(&zero);
            let g = self.segment_per_class.get(class).unwrap_or(&zero);
            s.push_str(&format!("| {class} | {} | {} |\n", cells(e), cells(g)));
        }
        s.push_str(&format!(
            "| micro | {} | {} |\n",
            cells(&self.event),
            cells(&self.segment)
        ));
        s
    }

    /// The metrics as JSON: `event` and `segment` (micro counts, precision,
    /// recall, F1), `event_macro_f1`, `segment_macro_f1` and `per_class`
    /// (`{class: {event, segment}}`).
    pub fn to_json(&self) -> serde_json::Value {
        let zero = Counts::default();
        let per_class: serde_json::Map<String, serde_json::Value> = self
            .classes()
            .into_iter()
            .map(|class| {
                let e = self.event_per_class.get(class).unwrap_or(&zero);
                let g = self.segment_per_class.get(class).unwrap_or(&zero);
                (
                    class.to_string(),
                    serde_json::json!({"event": e.to_json(), "segment": g.to_json()}),
                )
            })
            .collect();
        serde_json::json!({
            "event": self.event.to_json(),
            "segment": self.segment.to_json(),
            "event_macro_f1": self.event_macro_f1(),
            "segment_macro_f1": self.segment_macro_f1(),
            "per_class": per_class,
        })
    }

    /// Writes the metrics as CSV: header `class,metric,tp,fp,fn,precision,recall,f1`,
    /// the totals (class `micro`) first, then one row per class and metric
    /// (`event`, `segment`).
    pub fn write_csv(&self, w: impl std::io::Write) -> csv::Result<()> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record([
            "class",
            "metric",
            "tp",
            "fp",
            "fn",
            "precision",
            "recall",
            "f1",
        ])?;
        let mut row = |class: &str, metric: &str, c: &Counts| {
            out.write_record([
                class.to_string(),
                metric.to_string(),
                c.tp.to_string(),
                c.fp.to_string(),
                c.fn_.to_string(),
                c.precision().to_string(),
                c.recall().to_string(),
                c.f1().to_string(),
            ])
        };
        row("micro", "event", &self.event)?;
        row("micro", "segment", &self.segment)?;
        let zero = Counts::default();
        for class in self.classes() {
            row(
                class,
                "event",
                self.event_per_class.get(class).unwrap_or(&zero),
            )?;
            row(
                class,
                "segment",
                self.segment_per_class.get(class).unwrap_or(&zero),
            )?;
        }
        out.flush()?;
        Ok(())
    }
}

/// Maximum-cardinality bipartite matching by augmenting paths (Kuhn's
/// algorithm, iterative). `adj[l]` lists the right vertices `l` may take, in
/// order of preference; returns each left vertex's partner.
fn max_matching(adj: &[Vec<usize>], n_right: usize) -> Vec<Option<usize>> {
    let mut left_of: Vec<Option<usize>> = vec![None; n_right];
    let mut right_of: Vec<Option<usize>> = vec![None; adj.len()];
    for start in 0..adj.len() {
        let mut visited = vec![false; n_right];
        // The path: `stack[i].0` would take `via[i]`, which `stack[i + 1].0` holds now.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        let mut via: Vec<usize> = Vec::new();
        while let Some((l, next)) = stack.last_mut() {
            let Some(&r) = adj[*l].get(*next) else {
                stack.pop();
                via.pop();
                continue;
            };
            *next += 1;
            if std::mem::replace(&mut visited[r], true) {
                continue;
            }
            via.push(r);
            match left_of[r] {
                Some(holder) => stack.push((holder, 0)),
                None => {
                    for (&(l, _), &r) in stack.iter().zip(&via) {
                        right_of[l] = Some(r);
                        left_of[r] = Some(l);
                    }
                    break;
                }
            }
        }
    }
    right_of
}

/// The event-based pairs `(reference index, detection index)`, sorted by
/// reference index: per class a maximum one-to-one matching of detections
/// to reference events within the collars (see the module documentation).
/// Among candidates, closer onsets are tried first.
pub fn event_pairs(
    truth: &[TimedEvent],
    detected: &[TimedEvent],
    config: &MetricsConfig,
) -> Vec<(usize, usize)> {
    let mut by_class: BTreeMap<&str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, t) in truth.iter().enumerate() {
        by_class.entry(&t.label).or_default().0.push(i);
    }
    for (i, d) in detected.iter().enumerate() {
        by_class.entry(&d.label).or_default().1.push(i);
    }
    let within = |diff: f64, collar: f64| diff.abs() <= collar + COLLAR_EPSILON;
    let mut pairs = Vec::new();
    for (refs, dets) in by_class.values() {
        let adj: Vec<Vec<usize>> = refs
            .iter()
            .map(|&r| {
                let t = &truth[r];
                let mut cand: Vec<usize> = (0..dets.len())
                    .filter(|&j| {
                        let d = &detected[dets[j]];
                        within(d.onset - t.onset, config.onset_collar)
                            && config
                                .offset_collar
                                .is_none_or(|c| within(d.offset - t.offset, c))
                    })
                    .collect();
                cand.sort_by(|&a, &b| {
                    let da = (detected[dets[a]].onset - t.onset).abs();
                    let db = (detected[dets[b]].onset - t.onset).abs();
                    da.total_cmp(&db).then(a.cmp(&b))
                });
                cand
            })
            .collect();
        for (k, partner) in max_matching(&adj, dets.len()).into_iter().enumerate() {
            if let Some(j) = partner {
                pairs.push((refs[k], dets[j]));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

/// Per (segment, class) activity of `events`: `active[class][segment]`.
fn activity(
    events: &[TimedEvent],
    n_segments: usize,
    total: f64,
    segment: f64,
) -> BTreeMap<&str, Vec<bool>> {
    let mut active: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for e in events {
        let row = active
            .entry(&e.label)
            .or_insert_with(|| vec![false; n_segments]);
        if !(e.onset.is_finite() && e.offset.is_finite()) || n_segments == 0 {
            continue;
        }
        // Candidate segments from the division, one either side for rounding;
        // the overlap itself decides.
        let first = (e.onset / segment).floor().max(0.0) as usize;
        let last = (e.offset / segment).ceil().max(0.0) as usize;
        for (k, cell) in row
            .iter_mut()
            .enumerate()
            .take(last.saturating_add(1).min(n_segments))
            .skip(first.saturating_sub(1))
        {
            let start = k as f64 * segment;
            let end = ((k + 1) as f64 * segment).min(total);
            if e.offset.min(end) - e.onset.max(start) > COLLAR_EPSILON {
                *cell = true;
            }
        }
    }
    active
}

/// Event- and segment-based counts of `detected` against `truth` over a file
/// of `duration` seconds (see the module documentation).
///
/// # Panics
/// If `config` is invalid ([`MetricsConfig::validate`]).
pub fn evaluate(
    truth: &[TimedEvent],
    detected: &[TimedEvent],
    duration: f64,
    config: &MetricsConfig,
) -> FileMetrics {
    if let Err(e) = config.validate() {
        panic!("invalid metrics configuration: {e}");
    }
    let mut m = FileMetrics::default();
    for e in truth.iter().chain(detected) {
        m.event_per_class.entry(e.label.clone()).or_default();
        m.segment_per_class.entry(e.label.clone()).or_default();
    }

    // Event-based.
    let pairs = event_pairs(truth, detected, config);
    let (mut ref_used, mut det_used) = (vec![false; truth.len()], vec![false; detected.len()]);
    for &(r, d) in &pairs {
        ref_used[r] = true;
        det_used[d] = true;
        m.event_per_class
            .get_mut(&truth[r].label)
            .expect("every label has an entry")
            .tp += 1;
    }
    for (t, _) in truth.iter().zip(&ref_used).filter(|(_, u)| !**u) {
        m.event_per_class
            .get_mut(&t.label)
            .expect("every label has an entry")
            .fn_ += 1;
    }
    for (d, _) in detected.iter().zip(&det_used).filter(|(_, u)| !**u) {
        m.event_per_class
            .get_mut(&d.label)
            .expect("every label has an entry")
            .fp += 1;
    }

    // Segment-based.
    let total = truth
        .iter()
        .chain(detected)
        .map(|e| e.offset)
        .filter(|o| o.is_finite())
        .fold(duration.max(0.0), f64::max);
    let n_segments = (total / config.segment - COLLAR_EPSILON).ceil().max(0.0) as usize;
    let ref_active = activity(truth, n_segments, total, config.segment);
    let sys_active = activity(detected, n_segments, total, config.segment);
    let none = vec![false; n_segments];
    for (class, counts) in &mut m.segment_per_class {
        let r = ref_active.get(class.as_str()).unwrap_or(&none);
        let s = sys_active.get(class.as_str()).unwrap_or(&none);
        for (&r, &s) in r.iter().zip(s) {
            match (r, s) {
                (true, true) => counts.tp += 1,
                (false, true) => counts.fp += 1,
                (true, false) => counts.fn_ += 1,
                (false, false) => {}
            }
        }
    }

    for c in m.event_per_class.values() {
        m.event.add(c);
    }
    for c in m.segment_per_class.values() {
        m.segment.add(c);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(onset: f64, offset: f64, label: &str) -> TimedEvent {
        TimedEvent::reference(onset, offset, label)
    }

    fn counts(tp: usize, fp: usize, fn_: usize) -> Counts {
        Counts { tp, fp, fn_ }
    }

    fn event_counts(truth: &[TimedEvent], det: &[TimedEvent], config: &MetricsConfig) -> Counts {
        evaluate(truth, det, 10.0, config).event
    }

    #[test]
    fn the_onset_collar_is_inclusive() {
        let cfg = MetricsConfig::default();
        let truth = [ev(2.0, 3.0, "a")];
        // Just inside and just outside.
        assert_eq!(
            event_counts(&truth, &[ev(2.999, 3.5, "a")], &cfg),
            counts(1, 0, 0)
        );
        assert_eq!(
            event_counts(&truth, &[ev(1.001, 3.0, "a")], &cfg),
            counts(1, 0, 0)
        );
        assert_eq!(
            event_counts(&truth, &[ev(3.001, 3.5, "a")], &cfg),
            counts(0, 1, 1)
        );
        assert_eq!(
            event_counts(&truth, &[ev(0.999, 3.0, "a")], &cfg),
            counts(0, 1, 1)
        );
        // Exactly one collar, including differences that f64 makes 1.0000000000000002.
        let (r, d): (f64, f64) = (1.2, 2.2);
        assert!(d - r > 1.0);
        for (r, d) in [(2.0, 3.0), (2.0, 1.0), (1.2, 2.2), (2.2, 1.2), (1.14, 2.14)] {
            assert_eq!(
                event_counts(&[ev(r, r + 1.0, "a")], &[ev(d, d + 1.0, "a")], &cfg),
                counts(1, 0, 0),
                "{r} vs {d}"
            );
        }
        // Offsets are ignored by default, overlap is not needed.
        assert_eq!(
            event_counts(&truth, &[ev(2.5, 9.0, "a")], &cfg),
            counts(1, 0, 0)
        );
        let tight = MetricsConfig {
            onset_collar: 0.2,
            ..Default::default()
        };
        assert_eq!(
            event_counts(&truth, &[ev(2.25, 3.0, "a")], &tight),
            counts(0, 1, 1)
        );
    }

    #[test]
    fn two_detections_of_one_reference_give_one_tp_and_one_fp() {
        let truth = [ev(1.0, 2.0, "a")];
        let det = [ev(1.1, 1.5, "a"), ev(1.3, 2.0, "a")];
        let cfg = MetricsConfig::default();
        assert_eq!(event_counts(&truth, &det, &cfg), counts(1, 1, 0));
        assert_eq!(event_pairs(&truth, &det, &cfg), vec![(0, 0)]);
    }

    #[test]
    fn a_wrong_label_is_a_false_positive_and_a_false_negative() {
        let m = evaluate(
            &[ev(1.0, 2.0, "kick")],
            &[ev(1.0, 2.0, "snare")],
            3.0,
            &MetricsConfig::default(),
        );
        assert_eq!(m.event, counts(0, 1, 1));
        assert_eq!(m.event_per_class["kick"], counts(0, 0, 1));
        assert_eq!(m.event_per_class["snare"], counts(0, 1, 0));
        // Segments 1 s: [1, 2) is active in both, for different classes.
        assert_eq!(m.segment, counts(0, 1, 1));
        assert_eq!(m.segment_per_class["kick"], counts(0, 0, 1));
    }

    /// Greedy matching by closest onset within the collar, for comparison.
    fn greedy_closest(truth: &[TimedEvent], det: &[TimedEvent], collar: f64) -> usize {
        let mut cand: Vec<(f64, usize, usize)> = Vec::new();
        for (r, t) in truth.iter().enumerate() {
            for (d, e) in det.iter().enumerate() {
                let diff = (e.onset - t.onset).abs();
                if e.label == t.label && diff <= collar + COLLAR_EPSILON {
                    cand.push((diff, r, d));
                }
            }
        }
        cand.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut ur, mut ud) = (vec![false; truth.len()], vec![false; det.len()]);
        let mut n = 0;
        for (_, r, d) in cand {
            if !ur[r] && !ud[d] {
                (ur[r], ud[d]) = (true, true);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn the_matching_is_maximum_not_greedy() {
        // r0 = 0.0, r1 = 0.6; d0 = 0.5 (0.5 from r0, 0.1 from r1), d1 = 1.5
        // (1.5 from r0, 0.9 from r1). Closest first pairs r1–d0, after which
        // nothing is within 1 s of r0: 1 TP. The maximum matching is r0–d0,
        // r1–d1: 2 TP.
        let truth = [ev(0.0, 1.0, "a"), ev(0.6, 1.0, "a")];
        let det = [ev(0.5, 1.0, "a"), ev(1.5, 2.0, "a")];
        let cfg = MetricsConfig::default();
        assert_eq!(greedy_closest(&truth, &det, 1.0), 1);
        assert_eq!(event_pairs(&truth, &det, &cfg), vec![(0, 0), (1, 1)]);
        assert_eq!(event_counts(&truth, &det, &cfg), counts(2, 0, 0));
        // The order of the events does not change the counts.
        let rt: Vec<TimedEvent> = truth.iter().rev().cloned().collect();
        let rd: Vec<TimedEvent> = det.iter().rev().cloned().collect();
        assert_eq!(event_counts(&rt, &rd, &cfg), counts(2, 0, 0));
        assert_eq!(event_counts(&truth, &rd, &cfg), counts(2, 0, 0));
        // A longer chain needs a longer augmenting path: r_k at k, d_k at k + 0.9
        // (d_k is closest to r_{k+1}); every r_k still gets a partner.
        let truth: Vec<TimedEvent> = (0..6).map(|k| ev(k as f64, k as f64 + 0.5, "a")).collect();
        let det: Vec<TimedEvent> = (0..6)
            .rev()
            .map(|k| ev(k as f64 + 0.9, k as f64 + 1.0, "a"))
            .collect();
        assert!(greedy_closest(&truth, &det, 1.0) < 6);
        assert_eq!(event_counts(&truth, &det, &cfg), counts(6, 0, 0));
    }

    #[test]
    fn the_offset_collar_applies_when_set() {
        let truth = [ev(1.0, 3.0, "a")];
        let det = [ev(1.2, 3.6, "a")];
        let off = |c| MetricsConfig {
            offset_collar: Some(c),
            ..Default::default()
        };
        assert_eq!(
            event_counts(&truth, &det, &MetricsConfig::default()),
            counts(1, 0, 0)
        );
        assert_eq!(event_counts(&truth, &det, &off(0.5)), counts(0, 1, 1));
        assert_eq!(event_counts(&truth, &det, &off(0.6)), counts(1, 0, 0));
        assert_eq!(event_counts(&truth, &det, &off(0.7)), counts(1, 0, 0));
        // Both collars must hold.
        let both = MetricsConfig {
            onset_collar: 0.1,
            offset_collar: Some(1.0),
            segment: 1.0,
        };
        assert_eq!(event_counts(&truth, &det, &both), counts(0, 1, 1));
    }

    #[test]
    fn segment_based_counts_on_a_small_timeline() {
        // 3.5 s → segments [0,1) [1,2) [2,3) [3,3.5).
        let truth = [ev(0.2, 1.5, "a"), ev(3.1, 3.4, "b")];
        let det = [
            ev(0.5, 0.8, "a"), // segment 0: a TP
            ev(2.0, 3.0, "a"), // segment 2 only (touches 3.0 without overlap): a FP
            ev(0.9, 1.0, "b"), // segment 0 only (ends at 1.0): b FP
        ];
        let m = evaluate(&truth, &det, 3.5, &MetricsConfig::default());
        // a: ref in 0, 1; sys in 0, 2 → TP 1 (seg 0), FN 1 (seg 1), FP 1 (seg 2).
        assert_eq!(m.segment_per_class["a"], counts(1, 1, 1));
        // b: ref in 3; sys in 0 → FP 1, FN 1.
        assert_eq!(m.segment_per_class["b"], counts(0, 1, 1));
        assert_eq!(m.segment, counts(1, 2, 2));
        // Events: a r0 (0.2) – d0 (0.5) match; d1 (2.0) is 1.8 away; b d (0.9)
        // is 2.2 from 3.1.
        assert_eq!(m.event, counts(1, 2, 1));
        assert!((m.segment.f1() - 2.0 / 6.0).abs() < 1e-12);

        // Partial overlap: an event over [0.9, 1.1) touches segments 0 and 1.
        let m = evaluate(
            &[ev(0.9, 1.1, "a")],
            &[ev(1.05, 1.6, "a")],
            2.0,
            &MetricsConfig::default(),
        );
        assert_eq!(m.segment, counts(1, 0, 1));

        // Events past `duration` extend the timeline: 2.0 s plus an event to
        // 4.2 s → 5 segments, the last [4, 4.2).
        let m = evaluate(&[], &[ev(4.1, 4.2, "a")], 2.0, &MetricsConfig::default());
        assert_eq!(m.segment, counts(0, 1, 0));
        let seg = MetricsConfig {
            segment: 0.5,
            ..Default::default()
        };
        // 0.5 s segments, 1.5 s: [0.4, 1.2) touches 3 of them.
        let m = evaluate(&[ev(0.4, 1.2, "a")], &[], 1.5, &seg);
        assert_eq!(m.segment, counts(0, 0, 3));
        // A zero-length event is active nowhere.
        let m = evaluate(&[ev(1.0, 1.0, "a")], &[], 2.0, &seg);
        assert_eq!(m.segment, counts(0, 0, 0));
        assert_eq!(m.event, counts(0, 0, 1));
    }

    #[test]
    fn metrics_add_up_over_files() {
        let cfg = MetricsConfig::default();
        let f1 = evaluate(
            &[ev(0.0, 1.0, "a"), ev(2.0, 3.0, "b")],
            &[ev(0.1, 0.9, "a")],
            3.0,
            &cfg,
        );
        let f2 = evaluate(
            &[ev(0.0, 1.0, "b")],
            &[ev(0.0, 1.0, "b"), ev(1.5, 2.0, "c")],
            2.0,
            &cfg,
        );
        assert_eq!(f1.event, counts(1, 0, 1));
        assert_eq!(f2.event, counts(1, 1, 0));
        let mut total = FileMetrics::default();
        total.add(&f1);
        total.add(&f2);
        assert_eq!(total.event, counts(2, 1, 1));
        assert_eq!(total.event_per_class["a"], counts(1, 0, 0));
        assert_eq!(total.event_per_class["b"], counts(1, 0, 1));
        assert_eq!(total.event_per_class["c"], counts(0, 1, 0));
        assert_eq!(total.segment, counts(2, 1, 1));
        assert!((total.event.f1() - 4.0 / 6.0).abs() < 1e-12);
        // Macro: a (F1 1) and b (F1 2/3); c has no reference events.
        assert!((total.event_macro_f1() - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);

        let json = total.to_json();
        assert_eq!(json["event"]["tp"], 2);
        assert_eq!(json["event"]["fn"], 1);
        assert_eq!(json["per_class"]["c"]["event"]["fp"], 1);
        let mut csv = Vec::new();
        total.write_csv(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "class,metric,tp,fp,fn,precision,recall,f1");
        assert!(lines[1].starts_with("micro,event,2,1,1,"), "{csv}");
        assert!(lines[2].starts_with("micro,segment,2,1,1,"), "{csv}");
        assert_eq!(lines.len(), 3 + 2 * 3);
        let table = total.table();
        assert!(
            table.contains("| micro | 0.667 | 0.667 | 0.667 | 2/1/1 |"),
            "{table}"
        );
        assert!(
            table.contains("| c | 0.000 | 0.000 | 0.000 | 0/1/0 |"),
            "{table}"
        );
    }

    #[test]
    fn zero_over_zero_is_zero() {
        let c = Counts::default();
        assert_eq!((c.precision(), c.recall(), c.f1()), (0.0, 0.0, 0.0));
        let only_fp = counts(0, 3, 0);
        assert_eq!(
            (only_fp.precision(), only_fp.recall(), only_fp.f1()),
            (0.0, 0.0, 0.0)
        );
        let c = counts(3, 1, 2);
        assert!((c.precision() - 0.75).abs() < 1e-12);
        assert!((c.recall() - 0.6).abs() < 1e-12);
        assert!((c.f1() - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12);
        let m = evaluate(&[], &[], 0.0, &MetricsConfig::default());
        assert_eq!(m, FileMetrics::default());
        assert_eq!(m.event_macro_f1(), 0.0);
    }

    #[test]
    fn invalid_configurations_are_named() {
        assert!(MetricsConfig::default().validate().is_ok());
        let bad = MetricsConfig {
            segment: 0.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("segment"));
        let bad = MetricsConfig {
            offset_collar: Some(-1.0),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("offset collar"));
    }
}
