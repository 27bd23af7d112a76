//! File output that never leaves a half-written file: everything is written
//! to a temporary file in the destination's folder, synced, then renamed over
//! the destination (atomic on POSIX file systems), and the folder is synced so
//! that the rename survives a power cut. Every file the trainer writes goes
//! through [`atomic_write`].
//!
//! CSV and other delimited text is read and written with the `csv` crate:
//! [`read_records`] reads a file with the line numbers an editor shows,
//! [`csv_record`] formats one record.

use npyz::WriterBuilder;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` atomically: `write` fills a temporary sibling file, which is
/// flushed, synced and renamed over `path` only if `write` succeeds; then the
/// folder is synced (best effort: not every file system can sync a folder).
/// A process killed at any point leaves the old file or the new one, and at
/// worst a stray temporary file, never a torn `path`.
pub fn atomic_write<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<&mut fs::File>) -> io::Result<()>,
{
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    // The temporary file is created 0600; outputs are ordinary files (0644).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Draws a `size` (width, height) RGB bitmap with `draw`, which gets the
/// pixel buffer (`[height, width, 3]` bytes, e.g. for plotters'
/// `BitMapBackend::with_buffer`), and writes it to `path` as a PNG through
/// [`atomic_write`]. Errors are one line naming the file.
pub fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&mut [u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    draw(&mut rgb)?;
    atomic_write(path, |w| {
        let mut encoder = png::Encoder::new(w, size.0, size.1);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut png| png.write_image_data(&rgb))
            .map_err(io::Error::other)
    })
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a little-endian f32 `.npy` array of `shape` atomically.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> io::Result<()> {
    let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    atomic_write(path, |w| {
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape_u64)
            .writer(w)
            .begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })
}

/// Reads a `.npy` array of f32 (or f64, converted) with its shape.
pub fn read_npy_f32(path: &Path) -> io::Result<(Vec<usize>, Vec<f32>)> {
    let bytes = fs::read(path)?;
    let npy = npyz::NpyFile::new(&bytes[..])?;
    if npy.order() != npyz::Order::C {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "Fortran-ordered .npy is not supported: save with numpy.ascontiguousarray",
        ));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let data = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            npy.into_vec::<f64>()?
                .into_iter()
                .map(|v| v as f32)
                .collect()
        }
        _ => npy.into_vec::<f32>()?,
    };
    Ok((shape, data))
}

/// Why a delimited text file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A record could not be decoded.
    #[error("line {line}: {reason}")]
    Record {
        /// 1-based line the record starts on.
        line: u64,
        /// Why.
        reason: String,
    },
}

/// Line numbers from byte offsets. (The `csv` crate's own line count skips
/// blank lines, and a record's position lies before the blank lines that
/// precede it, so neither is what an editor shows.)
struct Lines<'a> {
    /// The file.
    bytes: &'a [u8],
    /// Offsets of its `\n`s.
    newlines: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let newlines = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Self { bytes, newlines }
    }

    /// The 1-based line of the first byte at or after `pos` that is not a
    /// line break (0 without a position).
    fn of(&self, pos: Option<&csv::Position>) -> u64 {
        let Some(pos) = pos else { return 0 };
        let start = usize::try_from(pos.byte()).unwrap_or(usize::MAX);
        let first = self
            .bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|b| !matches!(b, b'\n' | b'\r')))
            .map_or(self.bytes.len(), |k| start + k);
        1 + self.newlines.partition_point(|&nl| nl < first) as u64
    }
}

/// Reads the delimited text file `path` with `reader` (which sets the
/// delimiter, quoting, trimming, headers) and returns its records that are
/// not blank (every field empty once trimmed), each with the 1-based line it
/// starts on. A leading UTF-8 byte-order mark is skipped.
pub fn read_records(
    path: &Path,
    reader: &csv::ReaderBuilder,
) -> Result<Vec<(u64, csv::StringRecord)>, RecordsError> {
    let bytes = fs::read(path)?;
    let lines = Lines::new(&bytes);
    let mut out = Vec::new();
    for record in reader.from_reader(&bytes[..]).into_records() {
        let record = record.map_err(|e| {
            let line = lines.of(e.position());
            let reason = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
                _ => e.to_string(),
            };
            match e.into_kind() {
                csv::ErrorKind::Io(e) => RecordsError::Io(e),
                _ => RecordsError::Record { line, reason },
            }
        })?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        out.push((lines.of(record.position()), record));
    }
    Ok(out)
}

/// Writes a CSV file of `header` and `rows`, atomically.
pub fn write_csv(path: &Path, header: &[&str], rows: &[csv::StringRecord]) -> io::Result<()> {
    atomic_write(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(header)?;
        for r in rows {
            csv.write_record(r)?;
        }
        csv.flush()
    })
}

/// `fields` as one CSV record (quoted where needed), without a line break.
pub fn csv_record<I>(fields: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields.into_iter().map(|f| f.as_ref().to_owned()))
        .expect("writing to memory");
    let mut bytes = w.into_inner().expect("writing to memory");
    bytes.pop(); // the `\n` terminator
    String::from_utf8(bytes).expect("the fields are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_and_quotes_round_trip_with_their_lines() {
        let fields = ["plain", "a,b", "say \"hi\"", ""];
        let line = csv_record(fields);
        assert_eq!(line, r#"plain,"a,b","say ""hi""","#);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let text = format!("\u{feff}h1,h2,h3,h4\n\n  \n{line}\r\nx,y\n");
        fs::write(&path, text).unwrap();
        let mut reader = csv::ReaderBuilder::new();
        reader.has_headers(false).flexible(true);
        let records = read_records(&path, &reader).unwrap();
        let lines: Vec<u64> = records.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            lines,
            [1, 4, 5],
            "blank lines skipped, lines as an editor counts"
        );
        assert_eq!(&records[0].1[0], "h1", "byte-order mark skipped");
        assert!(records[1].1.iter().eq(fields));
        fs::write(&path, b"a,b\n\xff,c\n").unwrap();
        let err = read_records(&path, &reader).unwrap_err().to_string();
        assert_eq!(err, "line 2: not valid UTF-8");
    }

    #[test]
    fn npy_round_trip_and_failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        write_npy_f32(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let (shape, data) = read_npy_f32(&path).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let failed = atomic_write(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(failed.is_err());
        assert_eq!(
            read_npy_f32(&path).unwrap().1.len(),
            6,
            "old file must survive"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "outputs are ordinary readable files");
        }
    }
}
