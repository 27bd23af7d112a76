//! CSV text: RFC 4180 fields, a header and numbered rows, and the row checks
//! every reader shares (file exists, fold is a number).

use std::path::{Path, PathBuf};

use crate::data::dataset::{DataError, resolve};

/// Splits one CSV line into fields (RFC 4180 quoting: `"a,b"`, `""` inside quotes).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(field);
    Ok(out)
}

/// A CSV read into a header and numbered rows (blank lines skipped).
pub(super) struct Table {
    pub(super) file: PathBuf,
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    pub(super) fn read(file: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(file).map_err(|source| DataError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let bad = |row, reason: String| DataError::BadRow {
            file: file.to_path_buf(),
            row,
            reason,
        };
        let header = loop {
            match lines.next() {
                Some((_, l)) if l.trim().is_empty() => continue,
                Some((row, l)) => {
                    break split_csv_line(l)
                        .map_err(|e| bad(row, e))?
                        .into_iter()
                        .map(|h| h.trim().to_ascii_lowercase())
                        .collect::<Vec<_>>();
                }
                None => {
                    return Err(DataError::TooSmall {
                        path: file.to_path_buf(),
                        reason: "empty CSV (a header row and at least one clip are needed)".into(),
                    });
                }
            }
        };
        let mut rows = Vec::new();
        for (row, l) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let fields = split_csv_line(l).map_err(|e| bad(row, e))?;
            if fields.len() != header.len() {
                return Err(bad(
                    row,
                    format!(
                        "{} fields, the header has {} (`{}`)",
                        fields.len(),
                        header.len(),
                        l.trim()
                    ),
                ));
            }
            rows.push((
                row,
                fields.into_iter().map(|f| f.trim().to_string()).collect(),
            ));
        }
        Ok(Self {
            file: file.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of the first header name in `names`.
    pub(super) fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.header.iter().position(|h| h == n))
    }

    pub(super) fn require(&self, names: &[&str]) -> Result<usize, DataError> {
        self.column(names).ok_or_else(|| DataError::MissingColumn {
            file: self.file.clone(),
            column: names.join("` or `"),
            header: self.header.join(","),
        })
    }

    pub(super) fn bad(&self, row: usize, reason: impl Into<String>) -> DataError {
        DataError::BadRow {
            file: self.file.clone(),
            row,
            reason: reason.into(),
        }
    }

    pub(super) fn existing(
        &self,
        row: usize,
        base: &Path,
        clip: &str,
    ) -> Result<PathBuf, DataError> {
        if clip.is_empty() {
            return Err(self.bad(row, "empty path"));
        }
        let p = resolve(base, clip);
        if p.is_file() {
            Ok(p)
        } else {
            Err(DataError::MissingFile {
                file: self.file.clone(),
                row,
                clip: clip.to_string(),
                resolved: p,
            })
        }
    }

    pub(super) fn fold(&self, row: usize, s: &str) -> Result<u32, DataError> {
        s.parse()
            .map_err(|_| self.bad(row, format!("fold `{s}` is not a whole number")))
    }
}
