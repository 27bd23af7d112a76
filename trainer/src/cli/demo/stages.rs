//! The demo's stage cache: each finished stage records its figures and the
//! settings of itself and every stage before it in `OUT/stages/NAME.json`; a
//! rerun reuses a stage while that chain is unchanged and otherwise deletes
//! its outputs and runs it again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::io::atomic_write;

/// How long a stage took in this run (`None`: reused from an earlier run).
pub type Took = Option<f64>;

/// A finished stage as stored in `OUT/stages/NAME.json`.
#[derive(Serialize, serde::Deserialize)]
struct Record<T> {
    /// The settings of this stage and of every stage before it.
    settings: String,
    /// What the stage measured.
    value: T,
}

/// The demo's stages, in order. A stage's result is reused while its
/// settings and those of every earlier stage are the ones it ran with;
/// otherwise its outputs are deleted and it runs again.
pub struct Stages {
    dir: PathBuf,
    chain: String,
}

impl Stages {
    /// Stages whose records live in `OUT/stages/`.
    pub fn new(out: &Path) -> Self {
        Self {
            dir: out.join("stages"),
            chain: String::new(),
        }
    }

    /// Runs `f` (whose outputs are `outputs`) unless an earlier run did it with these settings.
    pub fn run<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &str,
        title: &str,
        settings: String,
        outputs: &[PathBuf],
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Took)> {
        self.chain = format!("{}|{name}: {settings}", self.chain);
        let file = self.dir.join(format!("{name}.json"));
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(done) = serde_json::from_str::<Record<T>>(&text)
        {
            if done.settings == self.chain {
                eprintln!(
                    "
== {title}: done in an earlier run ({})",
                    file.display()
                );
                return Ok((done.value, None));
            }
            eprintln!(
                "
{title}: settings changed since the last run; redoing it"
            );
            for path in outputs {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                removed
                    .or_else(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => Ok(()),
                        _ => Err(e),
                    })
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
        eprintln!(
            "
== {title}"
        );
        let t0 = Instant::now();
        let value = f().with_context(|| format!("demo stage `{name}`"))?;
        let took = t0.elapsed().as_secs_f64();
        let record = Record {
            settings: self.chain.clone(),
            value,
        };
        let json = serde_json::to_string_pretty(&record)?;
        atomic_write(&file, |w| std::io::Write::write_all(w, json.as_bytes()))?;
        eprintln!("== {title}: {took:.0} s");
        Ok((record.value, Some(took)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_reused_only_with_the_same_settings_upstream_and_own() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let product = out.join("b.out");
        let run = |first: &str, second: &str, calls: &mut Vec<&'static str>| {
            let mut stages = Stages::new(out);
            let (a, _) = stages
                .run("a", "a", first.into(), &[], || {
                    calls.push("a");
                    Ok(1u32)
                })
                .unwrap();
            let (b, took) = stages
                .run(
                    "b",
                    "b",
                    second.into(),
                    std::slice::from_ref(&product),
                    || {
                        calls.push("b");
                        std::fs::write(&product, "x").unwrap();
                        Ok(a + 1)
                    },
                )
                .unwrap();
            (b, took.is_some())
        };
        let mut calls = Vec::new();
        assert_eq!(run("s1", "t1", &mut calls), (2, true));
        assert_eq!(run("s1", "t1", &mut calls), (2, false), "reused");
        assert_eq!(calls, ["a", "b"]);
        // Own settings changed: only b reruns, its old output removed first.
        std::fs::write(&product, "stale").unwrap();
        calls.clear();
        let mut stages = Stages::new(out);
        stages.run("a", "a", "s1".into(), &[], || Ok(1u32)).unwrap();
        let (_, took) = stages
            .run(
                "b",
                "b",
                "t2".into(),
                std::slice::from_ref(&product),
                || {
                    assert!(
                        !product.exists(),
                        "the stale output is removed before the rerun"
                    );
                    Ok(5u32)
                },
            )
            .unwrap();
        assert!(took.is_some());
        // Upstream settings changed: both rerun.
        assert_eq!(run("s2", "t2", &mut calls), (2, true));
        assert_eq!(calls, ["a", "b"]);
    }
}
