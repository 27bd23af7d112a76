//! On-disk cache of log-mel features for pretraining, and random crops of it.
//!
//! Features are computed once per file with the float front end and stored in
//! `CACHE_ROOT/features-<key>/`, where `<key>` hashes the front-end
//! configuration (and this module's format version): changing any front-end
//! parameter starts a new cache, an unchanged one is reused across runs. A
//! file already cached with the same size and modification time is not
//! decoded again. Layout:
//! - `shard-NNNNN.f32`: little-endian f32, clips one after the other, each
//!   `[n_frames, n_mels]` row-major (the front end's layout); a new shard is
//!   started past [`SHARD_BYTES`];
//! - `index.toml`: per clip its source path, size, mtime, shard, offset and
//!   frame count; the files that could not be read, with the reason; and the
//!   data set's mean and standard deviation over all values (what the model
//!   standardises with).
//!
//! Crops ([`CropSource`]): each epoch visits every clip once in a fresh random
//! order and takes one random 608-frame window from it. **Short clips** (fewer
//! frames than the window) are padded: the clip is placed at a uniformly
//! random offset inside the window and the rest is filled with `ln(log_eps)`,
//! the front end's value for digital silence, i.e. what the clip would give
//! had it been zero-padded as audio. (The reference drops clips under 608
//! frames; ours keep them, and the padding is a plausible input rather than a
//! value the model never sees elsewhere.)
//!
//! One file on purpose (over 400 lines): the cache's key, shard format,
//! build and crop sampling share one on-disk layout and change together.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::io::atomic_write;
use crate::matpac::rng::Rng;
use crate::matpac::train::BatchSource;

/// Format version, part of the cache key.
pub const CACHE_VERSION: u32 = 1;
/// A shard is closed once it holds this many bytes.
pub const SHARD_BYTES: u64 = 256 << 20;

/// Errors of the feature cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The index could not be read.
    #[error("feature cache index {path}: {reason}")]
    Index {
        /// Path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No clip could be read.
    #[error("no usable audio among {0} file(s)")]
    Empty(usize),
}

/// Features of one clip: `n_frames × n_mels` row-major, natural-log mel.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Frames.
    pub n_frames: usize,
    /// Mel bands.
    pub n_mels: usize,
    /// Values, frame-major.
    pub data: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    path: PathBuf,
    size: u64,
    mtime_ns: u128,
    shard: u32,
    offset: u64,
    n_frames: usize,
}

/// A file that could not be decoded, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    /// Path.
    pub path: PathBuf,
    /// Reason.
    pub reason: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    key: String,
    n_mels: usize,
    clips: Vec<Entry>,
    failed: Vec<Failure>,
    mean: f64,
    std: f64,
}

/// The cached features of a data set, in memory.
#[derive(Debug)]
pub struct FeatureCache {
    /// Cache folder.
    pub dir: PathBuf,
    /// Clips in input order (unreadable ones left out).
    pub clips: Vec<(PathBuf, Features)>,
    /// Files that could not be read.
    pub failed: Vec<Failure>,
    /// Mean of all values.
    pub mean: f32,
    /// Standard deviation of all values.
    pub std: f32,
    /// Clips decoded this time (the rest came from the cache).
    pub computed: usize,
}

/// 64-bit FNV-1a of `bytes`, as 16 hex digits.
pub fn key_of(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn stamp(path: &Path) -> Option<(u64, u128)> {
    let m = fs::metadata(path).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((m.len(), t))
}

impl FeatureCache {
    /// Loads or builds the features of `files`. `frontend_id` identifies the
    /// front end (e.g. its configuration as TOML); `extract` decodes one file.
    /// Files `extract` rejects are listed in [`FeatureCache::failed`] and skipped.
    pub fn build(
        files: &[PathBuf],
        frontend_id: &str,
        n_mels: usize,
        cache_root: &Path,
        extract: impl Fn(&Path) -> Result<Features, String> + Sync,
    ) -> Result<Self, CacheError> {
        let key = key_of(format!("v{CACHE_VERSION}\n{frontend_id}").as_bytes());
        let dir = cache_root.join(format!("features-{key}"));
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let index_path = dir.join("index.toml");
        let old: Index = match fs::read_to_string(&index_path) {
            Ok(t) => toml::from_str(&t).map_err(|e| CacheError::Index {
                path: index_path.clone(),
                reason: e.to_string(),
            })?,
            Err(_) => Index::default(),
        };
        let by_path: HashMap<&Path, &Entry> =
            old.clips.iter().map(|e| (e.path.as_path(), e)).collect();
        let mut next_shard = old.clips.iter().map(|e| e.shard + 1).max().unwrap_or(0);

        // Decode what is missing, in parallel (the front end is the cost).
        use rayon::prelude::*;
        let todo: Vec<&PathBuf> = files
            .iter()
            .filter(|p| match (by_path.get(p.as_path()), stamp(p)) {
                (Some(e), Some((size, t))) => e.size != size || e.mtime_ns != t,
                _ => true,
            })
            .collect();
        let fresh: Vec<(PathBuf, Result<Features, String>)> = todo
            .par_iter()
            .map(|p| ((*p).clone(), extract(p)))
            .collect();

        let mut clips = Vec::with_capacity(files.len());
        let mut failed = Vec::new();
        let mut fresh_map: HashMap<PathBuf, Result<Features, String>> = fresh.into_iter().collect();
        // The shard being filled: its number, the indices in `clips` of its
        // clips, and its size in bytes.
        let mut shard: Option<(u32, Vec<usize>, u64)> = None;
        let mut entries = Vec::new();
        let computed = fresh_map.values().filter(|r| r.is_ok()).count();
        for p in files {
            if let Some(result) = fresh_map.remove(p) {
                match result {
                    Ok(f)
                        if f.n_mels == n_mels
                            && f.n_frames > 0
                            && f.data.len() == f.n_frames * n_mels =>
                    {
                        if shard.as_ref().is_none_or(|s| s.2 >= SHARD_BYTES) {
                            if let Some((n, members, _)) = shard.take() {
                                write_shard(&dir, n, &clips, &members)?;
                            }
                            shard = Some((next_shard, Vec::new(), 0));
                            next_shard += 1;
                        }
                        let (n, members, offset) = shard.as_mut().expect("open shard");
                        let (size, mtime_ns) = stamp(p).unwrap_or((0, 0));
                        entries.push(Entry {
                            path: p.clone(),
                            size,
                            mtime_ns,
                            shard: *n,
                            offset: *offset,
                            n_frames: f.n_frames,
                        });
                        *offset += (f.data.len() * size_of::<f32>()) as u64;
                        members.push(clips.len());
                        clips.push((p.clone(), f));
                    }
                    Ok(f) => failed.push(Failure {
                        path: p.clone(),
                        reason: format!(
                            "{} frames × {} mels (need ≥ 1 frame of {n_mels} mels)",
                            f.n_frames, f.n_mels
                        ),
                    }),
                    Err(reason) => failed.push(Failure {
                        path: p.clone(),
                        reason,
                    }),
                }
            } else if let Some(e) = by_path.get(p.as_path()) {
                let data = read_clip(&dir, e, n_mels)?;
                entries.push((*e).clone());
                clips.push((
                    p.clone(),
                    Features {
                        n_frames: e.n_frames,
                        n_mels,
                        data,
                    },
                ));
            }
        }
        if let Some((n, members, _)) = shard {
            write_shard(&dir, n, &clips, &members)?;
        }
        if clips.is_empty() {
            return Err(CacheError::Empty(files.len()));
        }
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
        for (_, f) in &clips {
            for &v in &f.data {
                sum += v as f64;
                sq += (v as f64) * (v as f64);
            }
            n += f.data.len();
        }
        let mean = sum / n as f64;
        let std = (sq / n as f64 - mean * mean).max(0.0).sqrt();
        let index = Index {
            key,
            n_mels,
            clips: entries,
            failed: failed.clone(),
            mean,
            std,
        };
        let text = toml::to_string(&index).map_err(|e| CacheError::Index {
            path: index_path.clone(),
            reason: e.to_string(),
        })?;
        atomic_write(&index_path, |w| w.write_all(text.as_bytes())).map_err(io(&index_path))?;
        Ok(Self {
            dir,
            clips,
            failed,
            mean: mean as f32,
            std: std.max(1e-6) as f32,
            computed,
        })
    }

    /// A human-readable list of the files that were skipped.
    pub fn failure_report(&self) -> String {
        self.failed
            .iter()
            .map(|f| format!("{}: {}\n", f.path.display(), f.reason))
            .collect()
    }
}

/// Shard `n` of the cache folder `dir`.
fn shard_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("shard-{n:05}.f32"))
}

/// Writes shard `n`: the values of `clips[members]`, one clip after the other.
fn write_shard(
    dir: &Path,
    n: u32,
    clips: &[(PathBuf, Features)],
    members: &[usize],
) -> Result<(), CacheError> {
    let path = shard_path(dir, n);
    atomic_write(&path, |w| {
        for &i in members {
            for v in &clips[i].1.data {
                w.write_all(&v.to_le_bytes())?;
            }
        }
        Ok(())
    })
    .map_err(io(&path))
}

fn read_clip(dir: &Path, e: &Entry, n_mels: usize) -> Result<Vec<f32>, CacheError> {
    let sp = shard_path(dir, e.shard);
    let mut f = File::open(&sp).map_err(io(&sp))?;
    f.seek(SeekFrom::Start(e.offset)).map_err(io(&sp))?;
    let mut bytes = vec![0u8; e.n_frames * n_mels * 4];
    f.read_exact(&mut bytes).map_err(io(&sp))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// `[n_mels, window]` crop (mel-major, as the model takes it) of frame-major
/// features starting at frame `start`, which may be negative or run past the
/// end: frames outside the clip are `fill`.
pub fn crop(f: &Features, start: i64, window: usize, fill: f32) -> Vec<f32> {
    let m = f.n_mels;
    let mut out = vec![fill; m * window];
    for t in 0..window {
        let src = start + t as i64;
        if src < 0 || src >= f.n_frames as i64 {
            continue;
        }
        let row = &f.data[src as usize * m..][..m];
        for (mel, &v) in row.iter().enumerate() {
            out[mel * window + t] = v;
        }
    }
    out
}

/// Random window start for a clip of `n_frames` and a `window`: uniform over
/// the valid starts for a long clip; for a short one, a uniform negative
/// start placing the clip at a random offset inside the window.
pub fn crop_start(n_frames: usize, window: usize, rng: &mut Rng) -> i64 {
    if n_frames >= window {
        rng.below((n_frames - window + 1) as u64) as i64
    } else {
        -(rng.below((window - n_frames + 1) as u64) as i64)
    }
}

/// Batches of random crops in epochs over the cached clips.
pub struct CropSource<'a> {
    clips: Vec<&'a Features>,
    fill: f32,
    seed: u64,
    /// Index of the next sample since the start of the run (`step × batch` on resume).
    pub next: u64,
    order: Vec<usize>,
    order_epoch: Option<u64>,
}

impl<'a> CropSource<'a> {
    /// Crops of `cache`; `fill` is the padding value (`ln(log_eps)`); `seed` fixes
    /// the epoch orders; `next` is the number of samples already drawn.
    pub fn new(cache: &'a FeatureCache, fill: f32, seed: u64, next: u64) -> Self {
        Self {
            clips: cache.clips.iter().map(|(_, f)| f).collect(),
            fill,
            seed,
            next,
            order: Vec::new(),
            order_epoch: None,
        }
    }

    fn clip_of(&mut self, i: u64) -> &'a Features {
        let n = self.clips.len() as u64;
        let epoch = i / n;
        if self.order_epoch != Some(epoch) {
            let mut rng = Rng::new(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            self.order = (0..self.clips.len()).collect();
            rng.shuffle(&mut self.order);
            self.order_epoch = Some(epoch);
        }
        self.clips[self.order[(i % n) as usize]]
    }
}

impl BatchSource for CropSource<'_> {
    fn next_batch(
        &mut self,
        batch: usize,
        n_mels: usize,
        n_frames: usize,
        rng: &mut Rng,
    ) -> Vec<f32> {
        let mut out = Vec::with_capacity(batch * n_mels * n_frames);
        for _ in 0..batch {
            let clip = self.clip_of(self.next);
            self.next += 1;
            debug_assert_eq!(clip.n_mels, n_mels);
            let start = crop_start(clip.n_frames, n_frames, rng);
            out.extend(crop(clip, start, n_frames, self.fill));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fake(path: &Path) -> Result<Features, String> {
        let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
        let n: usize = text.trim().parse().map_err(|_| "not audio".to_string())?;
        Ok(Features {
            n_frames: n,
            n_mels: 2,
            data: (0..2 * n).map(|i| i as f32).collect(),
        })
    }

    #[test]
    fn cache_is_reused_invalidated_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = ["3", "5", "oops"]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = dir.path().join(format!("f{i}.txt"));
                fs::write(&p, c).unwrap();
                p
            })
            .collect();
        let calls = AtomicUsize::new(0);
        let counting = |p: &Path| {
            calls.fetch_add(1, Ordering::SeqCst);
            fake(p)
        };
        let root = dir.path().join("cache");
        let c = FeatureCache::build(&files, "frontend A", 2, &root, counting).unwrap();
        assert_eq!(c.clips.len(), 2);
        assert_eq!(c.failed.len(), 1);
        assert!(c.failure_report().contains("not audio"));
        assert_eq!(
            c.clips[1].1.data,
            (0..10).map(|i| i as f32).collect::<Vec<_>>()
        );
        // Mean/std over all 16 values: 0,1,2,3,4,5 and 0..9.
        let vals: Vec<f64> = (0..6).chain(0..10).map(|v| v as f64).collect();
        let mean = vals.iter().sum::<f64>() / 16.0;
        let std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 16.0).sqrt();
        assert!((c.mean as f64 - mean).abs() < 1e-6 && (c.std as f64 - std).abs() < 1e-5);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        // Same front end: only the failed file is tried again.
        let again = FeatureCache::build(&files, "frontend A", 2, &root, counting).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(again.clips, c.clips);
        assert_eq!(again.computed, 0);
        // Another front end: a new cache, everything decoded again.
        FeatureCache::build(&files, "frontend B", 2, &root, counting).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 7);
        assert_eq!(fs::read_dir(&root).unwrap().count(), 2);
    }

    #[test]
    fn crops_transpose_and_pad_short_clips() {
        let f = Features {
            n_frames: 3,
            n_mels: 2,
            data: vec![1., 2., 3., 4., 5., 6.],
        };
        // Window of 5 starting at −1: frames [pad, 0, 1, 2, pad], mel-major.
        assert_eq!(
            crop(&f, -1, 5, -9.0),
            vec![-9., 1., 3., 5., -9., -9., 2., 4., 6., -9.]
        );
        assert_eq!(crop(&f, 1, 2, 0.0), vec![3., 5., 4., 6.]);
        let mut rng = Rng::new(0);
        let mut seen = [false; 3];
        for _ in 0..200 {
            let s = crop_start(3, 5, &mut rng);
            assert!((-2..=0).contains(&s));
            seen[(-s) as usize] = true;
            let l = crop_start(700, 608, &mut rng);
            assert!((0..=92).contains(&l));
        }
        assert!(
            seen.iter().all(|&s| s),
            "every placement of a short clip occurs"
        );
    }

    #[test]
    fn epochs_visit_every_clip_once() {
        let clips: Vec<(PathBuf, Features)> = (0..5)
            .map(|i| {
                (
                    PathBuf::from(format!("{i}")),
                    Features {
                        n_frames: 1,
                        n_mels: 1,
                        data: vec![i as f32],
                    },
                )
            })
            .collect();
        let cache = FeatureCache {
            dir: PathBuf::new(),
            clips,
            failed: vec![],
            mean: 0.0,
            std: 1.0,
            computed: 0,
        };
        let mut src = CropSource::new(&cache, 0.0, 1, 0);
        let mut rng = Rng::new(0);
        let mut first: Vec<f32> = src.next_batch(5, 1, 1, &mut rng);
        first.sort_by(f32::total_cmp);
        assert_eq!(first, vec![0., 1., 2., 3., 4.]);
        // Resuming at sample 5 continues with the same epoch-2 order as an uninterrupted source.
        let a = src.next_batch(5, 1, 1, &mut Rng::new(9));
        let b = CropSource::new(&cache, 0.0, 1, 5).next_batch(5, 1, 1, &mut Rng::new(9));
        assert_eq!(a, b);
    }
}
