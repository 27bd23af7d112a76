//! Writes what `bench/matpac_torch.py` needs to check the PyTorch reference
//! against this implementation, and times Rust training steps.
//!
//! ```text
//! cargo run --release -p matpac-trainer --example matpac_parity -- OUT_DIR [PRESET] [TIMED_STEPS]
//! ```
//! OUT_DIR gets `weights0.safetensors` (student, teacher, centre before any
//! update), `batches.safetensors` (three batches `x{i}` `[B, 80, 608]` and
//! their mask orders `order{i}` `[B, 190]`), `weights3.safetensors` (after
//! three updates) and `rust.json` (losses, gradient norms, learning rates,
//! teacher temperatures, EMA decays of the three updates; `config` as TOML;
//! the timing of TIMED_STEPS further updates).

use std::path::PathBuf;

use burn::tensor::Device;
use matpac_trainer::matpac::export::{NamedTensor, export_safetensors, write_safetensors};
use matpac_trainer::matpac::mask::Mask;
use matpac_trainer::matpac::rng::Rng;
use matpac_trainer::matpac::{MatpacConfig, Preset, Trainer};

fn batch(rng: &mut Rng, b: usize, f: usize, t: usize) -> Vec<f32> {
    // Noise floor plus a few bands switched on for a while (log-mel-like).
    let mut x = Vec::with_capacity(b * f * t);
    for _ in 0..b {
        let mut s: Vec<f32> = (0..f * t)
            .map(|_| (-10.0 + 0.7 * rng.normal()) as f32)
            .collect();
        for _ in 0..3 {
            let (f0, t0) = (
                rng.below(f as u64 - 10) as usize,
                rng.below(t as u64 / 2) as usize,
            );
            for ff in f0..f0 + 10 {
                for tt in t0..t0 + t / 3 {
                    s[ff * t + tt] += 5.0;
                }
            }
        }
        x.extend(s);
    }
    x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(
        args.get(1)
            .ok_or("usage: matpac_parity OUT_DIR [PRESET] [TIMED_STEPS]")?,
    );
    let name = args.get(2).map_or("small", String::as_str);
    let preset = <Preset as clap::ValueEnum>::from_str(name, false)
        .map_err(|_| format!("unknown preset {name}"))?;
    let timed: usize = args.get(3).map_or(Ok(10), |s| s.parse())?;
    std::fs::create_dir_all(&out)?;
    let mut cfg = MatpacConfig::preset(preset);
    cfg.model.input_mean = -9.0;
    cfg.model.input_std = 2.5;
    // Short schedules so that the three checked updates exercise warm-up, temperature and EMA.
    cfg.train.total_steps = 100;
    cfg.train.warmup_steps = 4;
    cfg.train.teacher_temp_warmup_steps = 10;
    // MATPAC++: soft assignment at update 0 (τ 0.1), hard from update 1 (τ 0.05 ≤ end).
    if cfg.mcl.heads > 0 {
        cfg.mcl.temperature_start = 0.1;
        cfg.mcl.temperature_end = 0.05;
        cfg.mcl.decay_rate = 0.5;
    }
    let device = Device::flex().autodiff();
    let mut tr = Trainer::new(cfg.clone(), &device)?;
    export_safetensors(&tr, &out.join("weights0.safetensors"))?;

    let (b, f, t, l) = (
        cfg.train.batch_size,
        cfg.model.n_mels,
        cfg.model.n_frames,
        cfg.n_patches(),
    );
    let mut rng = Rng::new(2024);
    let mut tensors = Vec::new();
    let mut steps = Vec::new();
    for i in 0..3 {
        let x = batch(&mut rng, b, f, t);
        let mask = Mask::random(b, l, cfg.model.mask_ratio, &mut rng);
        let order: Vec<f32> = (0..b)
            .flat_map(|s| mask.order(s).iter().map(|&v| v as f32).collect::<Vec<_>>())
            .collect();
        tensors.push(NamedTensor {
            name: format!("x{i}"),
            shape: vec![b, f, t],
            values: x.clone(),
        });
        tensors.push(NamedTensor {
            name: format!("order{i}"),
            shape: vec![b, l],
            values: order,
        });
        let s = tr.train_step_masked(x, &mask)?;
        steps.push(format!(
            "{{\"loss\":{},\"loss_pred\":{},\"loss_cls\":{},\"grad_norm\":{},\"lr\":{},\"teacher_temp\":{},\"ema_decay\":{}}}",
            s.loss, s.loss_pred, s.loss_cls, s.grad_norm, s.lr, s.teacher_temp, s.ema_decay
        ));
    }
    write_safetensors(&tensors, &out.join("batches.safetensors"))?;
    export_safetensors(&tr, &out.join("weights3.safetensors"))?;

    let started = std::time::Instant::now();
    for _ in 0..timed {
        let x = batch(&mut rng, b, f, t);
        tr.train_step(x)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let per_s = (timed * b) as f64 / secs;
    let json = format!(
        "{{\"steps\":[{}],\"n_visible\":{},\"timed_steps\":{timed},\"batch\":{b},\"seconds\":{secs},\"samples_per_s\":{per_s},\"threads\":\"{}\",\"config\":{:?}}}",
        steps.join(","),
        Mask::n_visible_for(l, cfg.model.mask_ratio),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
        cfg.to_toml()
    );
    std::fs::write(out.join("rust.json"), json)?;
    eprintln!("{}", std::fs::read_to_string(out.join("rust.json"))?);
    eprintln!("Rust: {per_s:.2} samples/s ({timed} updates of batch {b})");
    Ok(())
}
