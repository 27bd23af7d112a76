//! Probe reports: the results CSV (one row appended per probe run, written
//! atomically), the confusion-matrix PNG and the probe-suite markdown table.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::EvalError;
use crate::io::{RecordsError, read_records, write_csv};

/// Columns of the results CSV.
pub const RESULTS_COLUMNS: [&str; 13] = [
    "unix_time",
    "data",
    "encoder",
    "encoder_id",
    "task",
    "clips",
    "classes",
    "splits",
    "accuracy_mean",
    "accuracy_std",
    "map_mean",
    "map_std",
    "split_accuracies",
];

/// One probe run, as a results-CSV row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// Data set (path as given).
    pub data: String,
    /// Encoder description.
    pub encoder: String,
    /// Encoder identity (cache key part).
    pub encoder_id: String,
    /// `single-label` or `multi-label`.
    pub task: String,
    /// Clips in the data set.
    pub clips: usize,
    /// Classes.
    pub classes: usize,
    /// Test accuracy of each split.
    pub accuracies: Vec<f64>,
    /// Test mAP of each split (multi-label).
    pub maps: Vec<f64>,
}

impl ResultRow {
    /// The fields of its results-CSV row, stamped with the current time.
    fn fields(&self) -> [String; 13] {
        let (am, asd) = super::probe::mean_std(&self.accuracies);
        let (mm, msd) = if self.maps.is_empty() {
            (String::new(), String::new())
        } else {
            let (m, s) = super::probe::mean_std(&self.maps);
            (format!("{m:.4}"), format!("{s:.4}"))
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let per: Vec<String> = self.accuracies.iter().map(|a| format!("{a:.4}")).collect();
        [
            now.to_string(),
            self.data.clone(),
            self.encoder.clone(),
            self.encoder_id.clone(),
            self.task.clone(),
            self.clips.to_string(),
            self.classes.to_string(),
            self.accuracies.len().to_string(),
            format!("{am:.4}"),
            format!("{asd:.4}"),
            mm,
            msd,
            per.join(";"),
        ]
    }
}

/// Appends `row` to the results CSV at `path` (created with a header), atomically:
/// the old rows plus the new one go to a temporary file renamed over `path`.
pub fn append_result(path: &Path, row: &ResultRow) -> Result<(), EvalError> {
    let io = |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new();
    reader.has_headers(false).flexible(true);
    let mut rows: Vec<csv::StringRecord> = match read_records(path, &reader) {
        Ok(records) => {
            let mut records = records.into_iter().map(|(_, r)| r);
            if !records.next().is_some_and(|h| h.iter().eq(RESULTS_COLUMNS)) {
                return Err(EvalError::Report(format!(
                    "{}: not a probe results CSV (first line is not `{}`)",
                    path.display(),
                    RESULTS_COLUMNS.join(",")
                )));
            }
            records.collect()
        }
        Err(RecordsError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(RecordsError::Io(e)) => return Err(io(e)),
        Err(e) => return Err(EvalError::Report(format!("{}: {e}", path.display()))),
    };
    rows.push(csv::StringRecord::from(row.fields().to_vec()));
    write_csv(path, &RESULTS_COLUMNS, &rows).map_err(io)
}

const CELL: i32 = 34;
const MARGIN: i32 = 190;

/// Draws the confusion matrix (rows: true label, columns: predicted; colour:
/// share of the row; numbers: counts) to a PNG. If the text cannot be drawn
/// (no usable system font), the cells are drawn without text and `Ok(false)` is
/// returned.
pub fn confusion_png(
    path: &Path,
    labels: &[String],
    confusion: &[Vec<u32>],
    title: &str,
) -> Result<bool, EvalError> {
    match draw_confusion(path, labels, confusion, title, true) {
        Ok(()) => Ok(true),
        Err(_) => draw_confusion(path, labels, confusion, title, false)
            .map(|()| false)
            .map_err(EvalError::Report),
    }
}

fn draw_confusion(
    path: &Path,
    labels: &[String],
    confusion: &[Vec<u32>],
    title: &str,
    text: bool,
) -> Result<(), String> {
    let n = labels.len() as i32;
    let size = (
        (MARGIN + n * CELL + 20) as u32,
        (MARGIN + n * CELL + 20) as u32,
    );
    let e = |e: &dyn std::fmt::Display| e.to_string();
    crate::io::write_png(path, size, |buffer| {
        let root = BitMapBackend::with_buffer(buffer, size).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        for (i, row) in confusion.iter().enumerate() {
            let total: u32 = row.iter().sum::<u32>().max(1);
            for (j, &count) in row.iter().enumerate() {
                let share = count as f64 / total as f64;
                let (x, y) = (MARGIN + j as i32 * CELL, MARGIN + i as i32 * CELL);
                let shade = (255.0 * (1.0 - share)) as u8;
                let colour = if i == j {
                    RGBColor(shade, shade, 255)
                } else {
                    RGBColor(255, shade, shade)
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    colour.filled(),
                ))
                .map_err(|x| e(&x))?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(|x| e(&x))?;
                if text && count > 0 {
                    let style = ("sans-serif", 13)
                        .into_font()
                        .color(&if share > 0.6 { WHITE } else { BLACK })
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    root.draw(&Text::new(
                        count.to_string(),
                        (x + CELL / 2, y + CELL / 2),
                        style,
                    ))
                    .map_err(|x| e(&x))?;
                }
            }
        }
        if text {
            let left = ("sans-serif", 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            let top = ("sans-serif", 13)
                .into_font()
                .transform(FontTransform::Rotate270)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            for (i, l) in labels.iter().enumerate() {
                let c = MARGIN + i as i32 * CELL + CELL / 2;
                root.draw(&Text::new(l.clone(), (MARGIN - 6, c), left.clone()))
                    .map_err(|x| e(&x))?;
                root.draw(&Text::new(l.clone(), (c, MARGIN - 6), top.clone()))
                    .map_err(|x| e(&x))?;
            }
            root.draw(&Text::new(
                format!("{title}  (rows: true, columns: predicted)"),
                (10, 10),
                ("sans-serif", 15).into_font().color(&BLACK),
            ))
            .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))
    })
}

/// One cell of the suite table.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Accuracy per split.
    pub accuracies: Vec<f64>,
    /// mAP per split (multi-label).
    pub maps: Vec<f64>,
}

impl Cell {
    /// `81.2 ± 3.4` (percent), with ` (mAP 0.71)` for multi-label tasks.
    pub fn format(&self) -> String {
        let (m, s) = super::probe::mean_std(&self.accuracies);
        let mut out = format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * s);
        if !self.maps.is_empty() {
            out.push_str(&format!(
                " (mAP {:.3})",
                super::probe::mean_std(&self.maps).0
            ));
        }
        out
    }
}

/// A markdown table: one row per task, one column per encoder.
pub fn markdown_table(
    encoders: &[String],
    tasks: &[(String, String, Vec<Option<Cell>>)],
) -> String {
    let mut out = format!("| task | splits | {} |\n", encoders.join(" | "));
    out.push_str(&format!("|---|---|{}\n", "---:|".repeat(encoders.len())));
    for (task, splits, cells) in tasks {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.as_ref().map_or_else(|| "–".to_string(), Cell::format))
            .collect();
        out.push_str(&format!("| {task} | {splits} | {} |\n", cells.join(" | ")));
    }
    out
}
