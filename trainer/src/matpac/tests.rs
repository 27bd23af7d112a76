//! Tests of the whole MATPAC update: EMA, gradient isolation, a tiny
//! pretraining run, resume, checkpoints.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use super::MatpacError;
use super::checkpoint;
use super::config::MatpacConfig;
use super::ema::ema_update;
use super::init::linear_from;
use super::mask::Mask;
use super::rng::Rng;
use super::run::{RunOptions, checkpoint_path, run};
use super::train::{BatchSource, Trainer};

fn device() -> Device {
    Device::flex().autodiff()
}

/// Log-mel-like crops: a noise floor around −10 plus 1–3 "events" (a band of
/// mel channels raised by 6 over a stretch of frames), so there is structure
/// to predict from context.
pub struct Synthetic;

impl BatchSource for Synthetic {
    fn next_batch(
        &mut self,
        batch: usize,
        n_mels: usize,
        n_frames: usize,
        rng: &mut Rng,
    ) -> Vec<f32> {
        let mut out = Vec::with_capacity(batch * n_mels * n_frames);
        for _ in 0..batch {
            let mut x: Vec<f32> = (0..n_mels * n_frames)
                .map(|_| (-10.0 + 0.5 * rng.normal()) as f32)
                .collect();
            for _ in 0..1 + rng.below(3) {
                let f0 = rng.below(n_mels as u64 - 8) as usize;
                let fw = 4 + rng.below(12) as usize;
                let t0 = rng.below(n_frames as u64 / 2) as usize;
                let tw = 32 + rng.below(n_frames as u64 / 2) as usize;
                for f in f0..(f0 + fw).min(n_mels) {
                    for t in t0..(t0 + tw).min(n_frames) {
                        x[f * n_frames + t] += 6.0;
                    }
                }
            }
            out.extend(x);
        }
        out
    }
}

fn tiny() -> MatpacConfig {
    let mut c = MatpacConfig::tiny();
    c.model.input_mean = -9.0;
    c.model.input_std = 2.5;
    c
}

#[test]
fn ema_of_a_linear_matches_hand_computation() {
    let dev = Device::flex();
    let teacher = linear_from(vec![1.0, 2.0, 3.0, 4.0], 2, 2, true, &dev);
    let mut student = linear_from(vec![5.0, 6.0, 7.0, 8.0], 2, 2, true, &dev);
    student.bias = Some(Param::from_tensor(Tensor::from_data(
        [10.0f32, -10.0],
        &dev,
    )));
    let ids: Vec<_> = [teacher.weight.id, teacher.bias.as_ref().unwrap().id].into();
    let out = ema_update(teacher, &student, 0.75);
    // 0.75·t + 0.25·s
    let w: Vec<f32> = out.weight.val().into_data().try_to_vec().unwrap();
    assert_eq!(w, vec![2.0, 3.0, 4.0, 5.0]);
    let b: Vec<f32> = out
        .bias
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(b, vec![2.5, -2.5]);
    assert_eq!(
        ids,
        vec![out.weight.id, out.bias.unwrap().id],
        "teacher keeps its parameter ids"
    );
}

#[test]
fn no_gradient_reaches_the_teacher_and_the_ema_moves_it() {
    let cfg = tiny();
    let mut tr = Trainer::new(cfg.clone(), &device()).unwrap();
    let mut rng = Rng::new(3);
    let batch = Synthetic.next_batch(cfg.train.batch_size, 80, 608, &mut rng);
    let mask = Mask::random(cfg.train.batch_size, 190, 0.7, &mut rng);
    let x = Tensor::<3>::from_data(
        TensorData::new(batch, [cfg.train.batch_size, 80, 608]),
        &tr.device,
    );
    let out = tr.student.forward_train(&tr.teacher, x, &mask);
    assert_eq!(out.hyp_losses.dims(), [8, 133, 1]);
    assert_eq!(out.best.dims(), [8, 133, 1]);
    assert_eq!(out.target.dims(), [8, 133, 64]);
    assert_eq!(out.student_logits.dims(), [8, 133, 64]);
    assert!(
        !out.target.is_autodiff() && !out.teacher_logits.is_autodiff(),
        "teacher runs without autodiff"
    );
    // Backward through a loss that uses the teacher outputs as well.
    let loss = out.hyp_losses.sum() + (out.student_logits * out.teacher_logits).sum();
    let mut grads = loss.backward();
    let teacher_grads = GradientsParams::from_module(&mut grads, &tr.teacher);
    assert!(
        teacher_grads.is_empty(),
        "{} teacher parameters got gradients",
        teacher_grads.len()
    );
    let student_grads = GradientsParams::from_module(&mut grads, &tr.student);
    assert!(
        student_grads.len() > 10,
        "student gets gradients ({})",
        student_grads.len()
    );

    // Update 0 leaves the teacher encoder alone (as the reference); update 1 applies the EMA.
    let before = flat(&tr.teacher.encoder);
    let src = Synthetic.next_batch(8, 80, 608, &mut rng);
    tr.train_step(src).unwrap();
    assert_eq!(flat(&tr.teacher.encoder), before, "no EMA at update 0");
    let student = flat(&tr.student.encoder);
    let s1 = tr
        .train_step(Synthetic.next_batch(8, 80, 608, &mut rng))
        .unwrap();
    let d = s1.ema_decay;
    assert!((d - (0.99 + 0.009 / 200.0)).abs() < 1e-12, "decay {d}");
    let after = flat(&tr.teacher.encoder);
    // EMA in f32: |error| ≤ a few ulps of values of order 1.
    for ((a, t), s) in after.iter().zip(&before).zip(&student) {
        let want = d * *t as f64 + (1.0 - d) * *s as f64;
        assert!((*a as f64 - want).abs() < 1e-6, "{a} vs {want}");
    }
}

fn flat<M: Module>(m: &M) -> Vec<f32> {
    struct V(Vec<f32>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0
                .extend(p.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut v = V(Vec::new());
    m.visit(&mut v);
    v.0
}

#[test]
fn tiny_pretraining_learns_without_collapse() {
    // 60 updates of the tiny preset on synthetic log-mels (≈ seconds).
    let mut cfg = tiny();
    cfg.train.total_steps = 60;
    let mut tr = Trainer::new(cfg, &device()).unwrap();
    let stats: Vec<_> = (0..60)
        .map(|_| tr.step_from(&mut Synthetic).unwrap())
        .collect();
    let mean = |s: &[super::StepStats], f: fn(&super::StepStats) -> f64| {
        s.iter().map(f).sum::<f64>() / s.len() as f64
    };
    let (first, last) = (&stats[..5], &stats[55..]);
    let (l0, l1) = (mean(first, |s| s.loss), mean(last, |s| s.loss));
    let (p0, p1) = (mean(first, |s| s.loss_pred), mean(last, |s| s.loss_pred));
    let (c0, c1) = (mean(first, |s| s.loss_cls), mean(last, |s| s.loss_cls));
    eprintln!("loss {l0:.4} → {l1:.4}; pred {p0:.4} → {p1:.4}; cls {c0:.4} → {c1:.4}");
    for s in stats.iter().step_by(10) {
        eprintln!("{}", super::metrics::csv_row(s));
    }
    assert!(l1 < 0.8 * l0, "total loss must fall by 20 %: {l0} → {l1}");
    assert!(
        p1 < p0 && c1 < c0,
        "both terms fall: pred {p0} → {p1}, cls {c0} → {c1}"
    );
    // Non-collapse: over the last 5 batches (5 × 8 × 133 tokens) the teacher uses more
    // than one class, and its batch-mean distribution keeps an entropy above ln 4
    // (≥ 4 effectively used pseudo-classes of K = 64; a collapse gives 0).
    for s in last {
        assert!(
            s.teacher_classes > 1,
            "teacher arg-max uses {} class(es)",
            s.teacher_classes
        );
        assert!(
            s.teacher_entropy > 4f64.ln(),
            "entropy of mean teacher distribution {} ≤ ln 4",
            s.teacher_entropy
        );
    }
}

#[test]
fn tiny_matpac_plus_plus_learns_and_its_hypotheses_do_not_collapse() {
    // 60 updates of `tiny++` (5 hypotheses; soft assignment for the first
    // 78 % of the schedule, then hard winner-takes-all) on synthetic log-mels.
    let mut cfg = tiny();
    cfg.train.total_steps = 60;
    cfg.mcl = super::config::MclConfig::scaled(60);
    let mut tr = Trainer::new(cfg, &device()).unwrap();
    assert_eq!(tr.student.predictor.more_hyps.len(), 4);
    let stats: Vec<_> = (0..60)
        .map(|_| tr.step_from(&mut Synthetic).unwrap())
        .collect();
    assert!(stats[0].mcl_temperature.is_some() && stats[59].mcl_temperature.is_none());
    let mean = |s: &[super::StepStats], f: fn(&super::StepStats) -> f64| {
        s.iter().map(f).sum::<f64>() / s.len() as f64
    };
    let (first, last) = (&stats[..5], &stats[55..]);
    let (l0, l1) = (mean(first, |s| s.loss), mean(last, |s| s.loss));
    let (p0, p1) = (mean(first, |s| s.loss_pred), mean(last, |s| s.loss_pred));
    let share = mean(last, |s| s.hyp_top_share);
    eprintln!("loss {l0:.4} → {l1:.4}; pred {p0:.4} → {p1:.4}; top hypothesis share {share:.3}");
    assert!(l1 < 0.8 * l0, "total loss must fall by 20 %: {l0} → {l1}");
    assert!(p1 < p0, "prediction loss falls: {p0} → {p1}");
    // Collapse gives one hypothesis every token (share 1); an even split of 5 is
    // 0.2. Winner-takes-all lets one hypothesis dominate (about 0.8–0.9 here)
    // while the others specialise; over the last 5 batches (5 × 8 × 133 tokens)
    // the others must still win at least 5 % of the tokens.
    assert!(
        share < 0.95,
        "the best hypothesis wins {share} of the tokens"
    );
}

#[test]
fn resume_reproduces_the_uninterrupted_run() {
    let mut cfg = tiny();
    cfg.train.total_steps = 6;
    cfg.train.warmup_steps = 2;
    let dir = tempfile::tempdir().unwrap();
    let opts = |until| RunOptions {
        out_dir: dir.path().join("a"),
        until_step: Some(until),
        progress: false,
    };

    let mut straight = Trainer::new(cfg.clone(), &device()).unwrap();
    let all = run(
        &mut straight,
        &mut Synthetic,
        &RunOptions {
            out_dir: dir.path().join("b"),
            ..opts(6)
        },
    )
    .unwrap();

    let mut first = Trainer::new(cfg, &device()).unwrap();
    run(&mut first, &mut Synthetic, &opts(3)).unwrap();
    drop(first);
    let mut resumed = checkpoint::load(&checkpoint_path(&dir.path().join("a")), &device()).unwrap();
    assert_eq!(resumed.step, 3);
    let rest = run(&mut resumed, &mut Synthetic, &opts(6)).unwrap();
    assert_eq!(rest.len(), 3);
    for (a, b) in all[3..].iter().zip(&rest) {
        assert_eq!(a.step, b.step);
        for (x, y) in [
            (a.loss, b.loss),
            (a.loss_pred, b.loss_pred),
            (a.loss_cls, b.loss_cls),
        ] {
            assert!((x - y).abs() <= 1e-5, "update {}: {x} vs {y}", a.step);
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("a").join("metrics.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 6,
        "one row per update, none repeated:\n{csv}"
    );
}

#[test]
fn checkpoints_are_atomic_and_torn_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.mpk");
    let tr = Trainer::new(tiny(), &device()).unwrap();
    checkpoint::save(&tr, &path).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files,
        ["checkpoint.mpk"],
        "no temporary file is left behind"
    );
    // A leftover partial temp file (as after a crash mid-write) does not affect loading.
    std::fs::write(
        dir.path().join("checkpoint.mpk.tmp"),
        b"MATPACK1 half-written",
    )
    .unwrap();
    let back = checkpoint::load(&path, &device()).unwrap();
    assert_eq!(flat(&back.student), flat(&tr.student));
    assert_eq!(flat(&back.teacher), flat(&tr.teacher));
    // A truncated checkpoint is an error, not a panic.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        checkpoint::load(&path, &device()),
        Err(MatpacError::Checkpoint { .. })
    ));
}

/// Child half of `sigkill_during_writes_loses_no_checkpoint`: saves in a loop until killed.
#[test]
fn checkpoint_writer_child() {
    let Ok(dir) = std::env::var("MATPAC_CKPT_CHILD_DIR") else {
        return;
    };
    let mut tr = Trainer::new(tiny(), &device()).unwrap();
    let path = Path::new(&dir).join("checkpoint.mpk");
    loop {
        tr.step += 1;
        checkpoint::save(&tr, &path).unwrap();
        std::fs::write(Path::new(&dir).join("ready"), b"").unwrap();
    }
}

#[test]
fn sigkill_during_writes_loses_no_checkpoint() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for (round, wait_ms) in [7u64, 23, 41].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "matpac::tests::checkpoint_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MATPAC_CKPT_CHILD_DIR", dir.path())
            .env("RAYON_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !dir.path().join("ready").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "child never wrote a checkpoint"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let tr = checkpoint::load(&dir.path().join("checkpoint.mpk"), &device())
            .unwrap_or_else(|e| panic!("round {round}: checkpoint lost after SIGKILL: {e}"));
        assert!(tr.step >= 1);
        std::fs::remove_file(dir.path().join("ready")).unwrap();
    }
}

#[test]
fn non_finite_loss_stops_and_keeps_the_last_checkpoint() {
    struct Poison(u32);
    impl BatchSource for Poison {
        fn next_batch(&mut self, b: usize, m: usize, t: usize, rng: &mut Rng) -> Vec<f32> {
            self.0 += 1;
            let mut x = Synthetic.next_batch(b, m, t, rng);
            if self.0 > 2 {
                x[0] = f32::NAN;
            }
            x
        }
    }
    let mut cfg = tiny();
    cfg.train.checkpoint_every = 1;
    let dir = tempfile::tempdir().unwrap();
    let mut tr = Trainer::new(cfg, &device()).unwrap();
    let opts = RunOptions {
        out_dir: dir.path().to_path_buf(),
        until_step: Some(10),
        progress: false,
    };
    let err = run(&mut tr, &mut Poison(0), &opts).unwrap_err();
    assert!(
        matches!(err, MatpacError::NonFinite { step: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("last checkpoint is kept"));
    let kept = checkpoint::load(&checkpoint_path(dir.path()), &device()).unwrap();
    assert_eq!(kept.step, 2, "checkpoint of the last good update");
}

#[test]
fn clip_embedding_shape_and_chunking() {
    let tr = Trainer::new(tiny(), &device()).unwrap();
    let mut rng = Rng::new(5);
    // 700 frames: one 608-frame chunk plus 92 → 80 frames (5 time patches).
    let mel: Vec<f32> = (0..80 * 700)
        .map(|_| (-8.0 + rng.normal()) as f32)
        .collect();
    let e = tr.embed_clip(&mel, 80, 700);
    assert_eq!(e.len(), 5 * 64);
    assert!(e.iter().all(|v| v.is_finite()));
    // A clip shorter than one patch is padded, not rejected.
    assert_eq!(tr.embed_clip(&mel[..80 * 10], 80, 10).len(), 320);
}
