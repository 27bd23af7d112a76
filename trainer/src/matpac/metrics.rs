//! Training metrics: one CSV row per logged update and a PNG of the curves.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use plotters::prelude::*;

use super::MatpacError;
use super::train::StepStats;
use crate::io::{RecordsError, csv_record, read_records, write_csv};

/// CSV columns (the order of [`csv_row`]).
pub const CSV_COLUMNS: [&str; 12] = [
    "step",
    "loss",
    "loss_pred",
    "loss_cls",
    "lr",
    "grad_norm",
    "teacher_temp",
    "teacher_entropy",
    "teacher_classes",
    "accuracy",
    "ema_decay",
    "seconds",
];

/// One CSV row (no line break).
pub fn csv_row(s: &StepStats) -> String {
    csv_record([
        s.step.to_string(),
        format!("{:.6}", s.loss),
        format!("{:.6}", s.loss_pred),
        format!("{:.6}", s.loss_cls),
        format!("{:.6e}", s.lr),
        format!("{:.4}", s.grad_norm),
        format!("{:.5}", s.teacher_temp),
        format!("{:.4}", s.teacher_entropy),
        s.teacher_classes.to_string(),
        format!("{:.4}", s.accuracy),
        format!("{:.7}", s.ema_decay),
        format!("{:.4}", s.seconds),
    ])
}

/// The rows of the metrics CSV at `path` (header skipped).
fn rows(path: &Path) -> Result<Vec<csv::StringRecord>, MatpacError> {
    let mut reader = csv::ReaderBuilder::new();
    reader.flexible(true);
    match read_records(path, &reader) {
        Ok(records) => Ok(records.into_iter().map(|(_, r)| r).collect()),
        Err(source) => Err(MatpacError::Csv {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Appends rows to `metrics.csv`; on resume, rows at or after `from_step`
/// (and a partial last row of a killed run) are dropped first, rewriting the
/// file atomically, so a resumed run does not repeat updates.
pub struct MetricsCsv {
    path: std::path::PathBuf,
}

impl MetricsCsv {
    /// Opens (or creates) the file, keeping rows of updates before `from_step`.
    pub fn open(path: &Path, from_step: u64) -> Result<Self, MatpacError> {
        let kept: Vec<csv::StringRecord> = match rows(path) {
            Err(MatpacError::Csv {
                source: RecordsError::Io(e),
                ..
            }) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            rows => rows?
                .into_iter()
                .filter(|r| {
                    r.len() == CSV_COLUMNS.len()
                        && r[0].parse::<u64>().is_ok_and(|step| step < from_step)
                })
                .collect(),
        };
        write_csv(path, &CSV_COLUMNS, &kept).map_err(|source| MatpacError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Appends one row.
    pub fn append(&mut self, s: &StepStats) -> Result<(), MatpacError> {
        let io = |source| MatpacError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        writeln!(f, "{}", csv_row(s)).map_err(io)
    }
}

/// Reads `(step, loss, loss_pred, loss_cls, accuracy)` back from a metrics CSV
/// (a value that is not a number reads as NaN; short rows are skipped).
pub fn read_curves(path: &Path) -> Result<Vec<[f64; 5]>, MatpacError> {
    Ok(rows(path)?
        .iter()
        .filter(|r| r.len() >= 10)
        .map(|r| {
            let v = |i: usize| r[i].parse().unwrap_or(f64::NAN);
            [v(0), v(1), v(2), v(3), v(9)]
        })
        .collect())
}

/// Draws the loss curves (top) and the student/teacher agreement (bottom) to a PNG.
pub fn plot(csv: &Path, png: &Path) -> Result<(), MatpacError> {
    let rows = read_curves(csv)?;
    if rows.is_empty() {
        return Ok(());
    }
    let size = (1000, 700);
    crate::io::write_png(png, size, |buffer| {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let root = BitMapBackend::with_buffer(buffer, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (top, bottom) = root.split_vertically(450);
        let x_max = rows.last().map_or(1.0, |r| r[0]).max(1.0);
        let y_max = rows
            .iter()
            .flat_map(|r| [r[1], r[2], r[3]])
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            * 1.05;
        let mut chart = ChartBuilder::on(&top)
            .caption("MATPAC losses", ("sans-serif", 22))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max.max(1e-3))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("update")
            .y_desc("loss")
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (name, color)) in [
            ("total", BLACK),
            ("latent (2-2cos)", BLUE),
            ("classification (CE)", RED),
        ]
        .into_iter()
        .enumerate()
        {
            chart
                .draw_series(LineSeries::new(
                    rows.iter().map(|r| (r[0], r[i + 1])),
                    color,
                ))
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        let mut acc = ChartBuilder::on(&bottom)
            .caption(
                "student / teacher pseudo-class agreement",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..x_max, 0.0..1.0)
            .map_err(|e| err(&e))?;
        acc.configure_mesh()
            .x_desc("update")
            .y_desc("accuracy")
            .draw()
            .map_err(|e| err(&e))?;
        acc.draw_series(LineSeries::new(rows.iter().map(|r| (r[0], r[4])), GREEN))
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))
    })
    .map_err(MatpacError::Plot)
}
