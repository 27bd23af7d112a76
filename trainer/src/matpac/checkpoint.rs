//! Resumable checkpoints, written atomically.
//!
//! One file holds everything a run needs to continue exactly: the
//! configuration, the student (burnpack), the teacher encoder and head
//! (burnpack), the AdamW state (burnpack, keyed by the student's parameter
//! ids, which burnpack restores), the centre, the update count and the
//! generator state. Layout: `MATPACK1`, then sections
//! `[u32 name length][name][u64 data length][data]`, then `END!`.
//!
//! Atomicity: the file is written with [`crate::io::atomic_write`] (a
//! temporary file in the same folder, synced, renamed over `NAME`). A process
//! killed at any point leaves either the previous checkpoint or the new one,
//! never a torn file; a stray temporary file is ignored.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::MatpacError;
use super::config::MatpacConfig;
use super::loss::Centre;
use super::model::build;
use super::rng::Rng;
use super::train::{Trainer, optimizer};

const MAGIC: &[u8; 8] = b"MATPACK1";
const END: &[u8; 4] = b"END!";

#[derive(Serialize, Deserialize)]
struct State {
    step: u64,
    rng: Rng,
    centre: Vec<f32>,
}

fn ck_err(path: &Path, reason: impl std::fmt::Display) -> MatpacError {
    MatpacError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Writes `trainer` to `path` atomically.
pub fn save(trainer: &Trainer, path: &Path) -> Result<(), MatpacError> {
    let state = State {
        step: trainer.step,
        rng: trainer.rng,
        centre: trainer.centre.value.clone(),
    };
    let state = toml::to_string(&state).map_err(|e| ck_err(path, e))?;
    let pack = |r: Result<Bytes, burn::store::RecordError>| {
        r.map(|b| b.to_vec()).map_err(|e| ck_err(path, e))
    };
    let sections: Vec<(&str, Vec<u8>)> = vec![
        ("config", trainer.cfg.to_toml().into_bytes()),
        ("state", state.into_bytes()),
        (
            "student",
            pack(trainer.student.clone().into_record().into_bytes())?,
        ),
        (
            "teacher",
            pack(trainer.teacher.clone().into_record().into_bytes())?,
        ),
        ("optimizer", pack(trainer.optim.into_bytes())?),
    ];
    let mut buf = Vec::with_capacity(sections.iter().map(|s| s.1.len() + 16).sum::<usize>() + 12);
    buf.extend_from_slice(MAGIC);
    for (name, data) in &sections {
        buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&(data.len() as u64).to_le_bytes());
        buf.extend_from_slice(data);
    }
    buf.extend_from_slice(END);
    write_atomic(path, &buf)
}

/// Writes `bytes` to `path` with [`crate::io::atomic_write`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MatpacError> {
    crate::io::atomic_write(path, |w| w.write_all(bytes)).map_err(|source| MatpacError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn sections(path: &Path) -> Result<Vec<(String, Vec<u8>)>, MatpacError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| MatpacError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() < 12 || &bytes[..8] != MAGIC || &bytes[bytes.len() - 4..] != END {
        return Err(ck_err(path, "not a complete MATPAC checkpoint"));
    }
    let body = &bytes[8..bytes.len() - 4];
    let mut out = Vec::new();
    let mut i = 0;
    let take = |i: &mut usize, n: usize| -> Result<&[u8], MatpacError> {
        let s = body
            .get(*i..*i + n)
            .ok_or_else(|| ck_err(path, "truncated section"))?;
        *i += n;
        Ok(s)
    };
    while i < body.len() {
        let n = u32::from_le_bytes(take(&mut i, 4)?.try_into().expect("4 bytes")) as usize;
        let name = String::from_utf8(take(&mut i, n)?.to_vec()).map_err(|e| ck_err(path, e))?;
        let len = u64::from_le_bytes(take(&mut i, 8)?.try_into().expect("8 bytes")) as usize;
        out.push((name, take(&mut i, len)?.to_vec()));
    }
    Ok(out)
}

fn section<'a>(
    all: &'a [(String, Vec<u8>)],
    name: &str,
    path: &Path,
) -> Result<&'a [u8], MatpacError> {
    all.iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.as_slice())
        .ok_or_else(|| ck_err(path, format!("missing section `{name}`")))
}

/// Reads only the configuration of a checkpoint.
pub fn load_config(path: &Path) -> Result<MatpacConfig, MatpacError> {
    let all = sections(path)?;
    let text = std::str::from_utf8(section(&all, "config", path)?).map_err(|e| ck_err(path, e))?;
    MatpacConfig::from_toml(text)
}

/// Restores a run from `path` onto `device` (with autodiff, to continue training).
pub fn load(path: &Path, device: &Device) -> Result<Trainer, MatpacError> {
    let all = sections(path)?;
    let text = std::str::from_utf8(section(&all, "config", path)?).map_err(|e| ck_err(path, e))?;
    let cfg = MatpacConfig::from_toml(text)?;
    let text = std::str::from_utf8(section(&all, "state", path)?).map_err(|e| ck_err(path, e))?;
    let state: State = toml::from_str(text).map_err(|e| ck_err(path, e))?;
    if state.centre.len() != cfg.model.n_classes {
        return Err(ck_err(path, "centre length does not match n_classes"));
    }
    let record = |name: &str| -> Result<ModuleRecord, MatpacError> {
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(section(&all, name, path)?.to_vec()))
            .map_err(|e| ck_err(path, e))
    };
    // Build the structure (any seed), then overwrite every parameter and its id.
    let (student, teacher) = build(&cfg, &mut Rng::new(0), device);
    let student = student
        .try_load_record(record("student")?)
        .map_err(|e| ck_err(path, e))?;
    let teacher = teacher
        .try_load_record(record("teacher")?)
        .map_err(|e| ck_err(path, e))?
        .no_grad();
    let optim_record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(
        section(&all, "optimizer", path)?.to_vec(),
    ))
    .map_err(|e| ck_err(path, e))?;
    let optim = optimizer(&cfg).load_record(optim_record);
    let mut centre = Centre::new(
        cfg.model.n_classes,
        cfg.train.centre_momentum,
        cfg.train.centre_mode,
    );
    centre.value = state.centre;
    Ok(Trainer {
        cfg,
        student,
        teacher,
        optim,
        centre,
        step: state.step,
        rng: state.rng,
        device: device.clone(),
    })
}
