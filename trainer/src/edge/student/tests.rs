//! The student's unit tests: budget, geometry, folding, forward passes.
use super::*;
use burn::module::{Param, RunningState};
use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor, TensorData};

#[test]
fn default_student_fits_the_budget() {
    let s = StudentConfig::default().stats();
    println!("{s}");
    assert!(s.params <= 300_000, "{} params", s.params);
    assert!(s.macs <= 5_000_000, "{} MACs", s.macs);
    assert!(
        s.arena_estimate <= 32 * 1024,
        "{} B arena",
        s.arena_estimate
    );
    assert_eq!(s.input_bytes, 98 * 80);
    // The stem: 16 × 49 × 20 outputs, 25 MACs each.
    assert_eq!(s.layers[0].out_shape, vec![16, 49, 20]);
    assert_eq!(s.layers[0].macs, 16 * 49 * 20 * 25);
}

#[test]
fn burn_forward_equals_the_folded_float_net() {
    let device = Device::flex();
    device.seed(7);
    let config = StudentConfig {
        n_frames: 20,
        n_mels: 16,
        ..StudentConfig::tiny(3)
    };
    let mut student = config.init(&device);
    // Non-trivial BatchNorm statistics, so that folding is exercised.
    let perturb = |bn: &mut Option<BatchNorm>, k: f32| {
        let bn = bn.as_mut().unwrap();
        let c = bn.gamma.val().dims()[0];
        let v = |f: &dyn Fn(usize) -> f32| {
            Tensor::<1>::from_data(
                TensorData::new((0..c).map(f).collect::<Vec<f32>>(), [c]),
                &device,
            )
        };
        bn.running_mean = RunningState::new(v(&|i| 0.1 * i as f32 - k));
        bn.running_var = RunningState::new(v(&|i| 0.5 + 0.2 * i as f32));
        bn.gamma = Param::from_tensor(v(&|i| 1.0 + 0.1 * i as f32));
        bn.beta = Param::from_tensor(v(&|i| 0.05 * i as f32 - 0.1));
    };
    perturb(&mut student.stem.bn, 0.2);
    for (i, b) in student.blocks.iter_mut().enumerate() {
        perturb(&mut b.dw.bn, 0.1 * i as f32);
        perturb(&mut b.pw.bn, -0.1);
    }
    let net = student.to_float_net(&config);
    let n = config.n_frames * config.n_mels;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let t = Tensor::<4>::from_data(
        TensorData::new(x.clone(), [1, 1, config.n_frames, config.n_mels]),
        &device,
    );
    let burn = student.forward(t).into_data().try_to_vec::<f32>().unwrap();
    let ours = net.forward(&x).logits;
    for (a, b) in burn.iter().zip(&ours) {
        assert!(
            (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
            "burn {a} vs folded {b}"
        );
    }
}
