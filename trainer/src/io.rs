//! File output that never leaves a half-written file: everything is written
//! to a temporary file in the destination's folder, synced, then renamed over
//! the destination (atomic on POSIX file systems), and the folder is synced so
//! that the rename survives a power cut. Every file the trainer writes goes
//! through [`atomic_write`].

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

#[cfg(test)]
mod tests {
    use super::*;

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
