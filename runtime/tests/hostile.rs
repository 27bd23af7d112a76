//! Hostile and malformed input: every case is a typed error, never a panic.

mod common;

use common::models::{self, ConvParams};
use common::*;
use matpac_runtime::engine::{Engine, Interpreter};
use matpac_runtime::{Error, Model};
use prost::Message;

fn conv_case() -> models::Case {
    let p = ConvParams {
        c: 3,
        h: 6,
        w: 5,
        m: 4,
        k: 3,
        stride: 1,
        pad: 1,
        dil: 1,
        depthwise: false,
        per_channel: true,
        relu: false,
    };
    models::conv(&mut Rng(7), p, false)
}

fn op_of(e: &Error) -> Option<(usize, String, &'static str)> {
    match e {
        Error::UnsupportedNode { node, op, reason } => {
            Some((*node, op.as_str().to_string(), *reason))
        }
        _ => None,
    }
}

/// The same QLinearConv model as a Builder, to mutate.
fn conv_builder() -> (Builder, String) {
    let mut b = Builder::new(&[1, 2, 4, 4]);
    let q = b.quantize("x", 0.05, 0);
    let (xs, xz) = b.qparams(0.05, 0);
    let (ys, yz) = b.qparams(0.1, 0);
    let w = b.init(i8_tensor("w", &[3, 2, 1, 1], &[1, 2, 3, 4, 5, 6]));
    let ws = b.init(f32_tensor("ws", &[3], &[0.01, 0.02, 0.03]));
    let wz = b.init(i8_tensor("wz", &[3], &[0, 0, 0]));
    let y = b.op(
        "QLinearConv",
        &[&q, &xs, &xz, &w, &ws, &wz, &ys, &yz],
        vec![],
    );
    let out = b.dequantize(&y, 0.1, 0);
    b.output = out.clone();
    b.output_dims = vec![1, 3, 4, 4];
    (b, out)
}

#[test]
fn well_formed_model_runs_and_checks_buffer_lengths() {
    let (b, _) = conv_builder();
    let bytes = b.encode();
    let model = Model::parse(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_len()];
    let mut e = Interpreter::new(&model, &mut arena).unwrap();
    let mut y = vec![0f32; 48];
    e.run(&[0.5; 32], &mut y).unwrap();
    assert_eq!(
        e.run(&[0.5; 31], &mut y),
        Err(Error::BufferLength {
            expected: 32,
            actual: 31
        })
    );
    assert_eq!(
        e.run(&[0.5; 32], &mut y[..47]),
        Err(Error::BufferLength {
            expected: 48,
            actual: 47
        })
    );
}

#[test]
fn arena_too_small_is_an_error() {
    let case = conv_case();
    let model = Model::parse(&case.bytes).unwrap();
    let need = model.arena_len();
    let mut arena = vec![0u8; need - 1];
    assert_eq!(
        Interpreter::new(&model, &mut arena).err(),
        Some(Error::ArenaTooSmall {
            needed: need,
            given: need - 1
        })
    );
}

#[test]
fn every_truncation_inside_the_graph_is_an_error() {
    let (b, _) = conv_builder();
    let bytes = b.encode();
    // Re-encode with the graph as the last field, so that every strict prefix cuts it.
    let mut m = ModelProto::decode(&bytes[..]).unwrap();
    m.opset_import.clear();
    m.metadata_props.clear();
    let bytes = m.encode_to_vec();
    assert!(Model::parse(&bytes).is_ok());
    for cut in 0..bytes.len() {
        assert!(
            Model::parse(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes parsed"
        );
    }
}

#[test]
fn byte_flips_never_panic() {
    let case = conv_case();
    let mut rng = Rng(99);
    let mut parsed = 0;
    for _ in 0..3000 {
        let mut b = case.bytes.clone();
        for _ in 0..1 + rng.int(0, 3) {
            let i = rng.int(0, b.len() as i32 - 1) as usize;
            b[i] = rng.int(0, 255) as u8;
        }
        if let Ok(m) = Model::parse(&b) {
            parsed += 1;
            if m.arena_len() < 1 << 20 && m.input_len() < 1 << 16 {
                let mut arena = vec![0u8; m.arena_len()];
                let mut e = Interpreter::new(&m, &mut arena).unwrap();
                let mut y = vec![0f32; e.output_len()];
                e.run(&vec![0.1; e.input_len()], &mut y).unwrap();
            }
        }
    }
    println!("{parsed}/3000 mutated models still parsed (and ran)");
}

#[test]
fn wrong_weight_type_names_the_node() {
    let (mut b, _) = conv_builder();
    let i = b.inits.iter().position(|t| t.name == "w").unwrap();
    b.inits[i] = f32_tensor("w", &[3, 2, 1, 1], &[1.0; 6]);
    let e = Model::parse(&b.encode()).unwrap_err();
    let (node, op, reason) = op_of(&e).unwrap();
    assert_eq!((node, op.as_str()), (1, "QLinearConv"), "{e}");
    assert!(reason.contains("int8"), "{reason}");
}

#[test]
fn giant_dimensions_are_errors() {
    let (mut b, _) = conv_builder();
    b.input_dims = vec![1, 1 << 20, 1 << 20, 4];
    assert!(matches!(
        Model::parse(&b.encode()),
        Err(Error::InvalidModel { .. })
    ));
    let (mut b, _) = conv_builder();
    let i = b.inits.iter().position(|t| t.name == "ws").unwrap();
    b.inits[i].dims = vec![1 << 40];
    assert!(Model::parse(&b.encode()).is_err());
    let (mut b, _) = conv_builder();
    b.inits[i].dims = vec![-3];
    assert!(Model::parse(&b.encode()).is_err());
}

#[test]
fn cycles_and_missing_initialisers_are_errors() {
    // Cycle: the QuantizeLinear reads the output of the last node.
    let (mut b, out) = conv_builder();
    b.nodes[0].input[0] = out.clone();
    let e = Model::parse(&b.encode()).unwrap_err();
    assert_eq!(op_of(&e).map(|(n, _, _)| n), Some(0), "{e}");
    // A two-node cycle: swap the order of the conv and its input.
    let (mut b, _) = conv_builder();
    b.nodes.swap(0, 1);
    assert!(
        op_of(&Model::parse(&b.encode()).unwrap_err())
            .unwrap()
            .2
            .contains("earlier node")
    );
    // Missing initialiser.
    let (mut b, _) = conv_builder();
    b.inits.retain(|t| t.name != "wz");
    let e = Model::parse(&b.encode()).unwrap_err();
    assert_eq!(
        op_of(&e).map(|(n, op, _)| (n, op)),
        Some((1, "QLinearConv".to_string())),
        "{e}"
    );
}

#[test]
fn zero_negative_and_non_finite_scales_are_errors() {
    for bad in [0.0f32, -0.5, f32::NAN, f32::INFINITY] {
        let (mut b, _) = conv_builder();
        let i = b.inits.iter().position(|t| t.name == "ws").unwrap();
        b.inits[i] = f32_tensor("ws", &[3], &[0.01, bad, 0.03]);
        let e = Model::parse(&b.encode()).unwrap_err();
        assert_eq!(
            op_of(&e).unwrap().2,
            "scale must be finite and positive",
            "{bad}: {e}"
        );
        // Activation scale of the input QuantizeLinear.
        let (mut b, _) = conv_builder();
        let s = b.nodes[0].input[1].clone();
        let i = b.inits.iter().position(|t| t.name == s).unwrap();
        b.inits[i] = f32_tensor(&s, &[], &[bad]);
        assert!(Model::parse(&b.encode()).is_err(), "{bad}");
    }
}

#[test]
fn unsupported_ops_and_types_are_named() {
    let (mut b, _) = conv_builder();
    b.nodes[1].op_type = "LSTM".into();
    let e = Model::parse(&b.encode()).unwrap_err();
    assert_eq!(e.to_string(), "node 1 (LSTM): operator not supported");
    // uint8 zero point.
    let (mut b, _) = conv_builder();
    let z = b.nodes[0].input[2].clone();
    let i = b.inits.iter().position(|t| t.name == z).unwrap();
    b.inits[i] = raw_tensor(&z, UINT8, &[], vec![128]);
    assert!(
        op_of(&Model::parse(&b.encode()).unwrap_err())
            .unwrap()
            .2
            .contains("uint8")
    );
    // Non-standard domain.
    let (mut b, _) = conv_builder();
    b.nodes[1].domain = "com.microsoft".into();
    assert!(
        op_of(&Model::parse(&b.encode()).unwrap_err())
            .unwrap()
            .2
            .contains("domain")
    );
    // Not protobuf at all.
    assert!(matches!(
        Model::parse(&[0xff; 16]),
        Err(Error::Protobuf { .. })
    ));
    assert!(Model::parse(&[]).is_err());
}

/// The parsed program lives in RAM on the device: keep an eye on its size.
#[test]
fn model_struct_size() {
    let n = std::mem::size_of::<Model<'static>>();
    println!(
        "size_of::<Model>() = {n} bytes on this target, Step = {}",
        std::mem::size_of::<matpac_runtime::model::Step<'static>>()
    );
    // Budget: the parsed program may take at most 16 KiB of the device's 64 KiB
    // of RAM (the arena takes ≤ 32 KiB). Measured here on the 64-bit host;
    // thumbv7em's 32-bit pointers and usize make it smaller there.
    assert!(n <= 16 * 1024, "{n}");
}

#[test]
fn metadata_props_are_readable() {
    let (mut b, _) = conv_builder();
    b.metadata = vec![
        ("class_names".into(), "dog,cat".into()),
        ("thresholds".into(), "0.5,0.7".into()),
    ];
    let bytes = b.encode();
    let model = Model::parse(&bytes).unwrap();
    assert_eq!(model.metadata("class_names"), Some("dog,cat"));
    assert_eq!(model.metadata("thresholds"), Some("0.5,0.7"));
    assert_eq!(model.metadata("missing"), None);
    assert_eq!(model.metadata_iter().count(), 2);
}

/// Writes the single-op models of the parity suite as a fuzz seed corpus when
/// `MATPAC_FUZZ_CORPUS` names a directory (otherwise only checks they parse).
#[test]
fn seed_corpus_models_parse() {
    let mut rng = Rng(2024);
    let p = ConvParams {
        c: 2,
        h: 5,
        w: 4,
        m: 3,
        k: 3,
        stride: 2,
        pad: 1,
        dil: 1,
        depthwise: false,
        per_channel: true,
        relu: true,
    };
    let cases = [
        ("conv_qop", models::conv(&mut rng, p, false)),
        ("conv_qdq", models::conv(&mut rng, p, true)),
        (
            "dwconv",
            models::conv(
                &mut rng,
                ConvParams {
                    depthwise: true,
                    ..p
                },
                false,
            ),
        ),
        ("matmul", models::matmul(&mut rng, 8, 4, true, false, false)),
        ("gemm", models::matmul(&mut rng, 8, 4, true, true, true)),
        (
            "pool",
            models::pool(&mut rng, 2, 4, 4, 2, 2, 0, false, false, true),
        ),
        (
            "gap",
            models::pool(&mut rng, 2, 4, 4, 2, 2, 0, true, false, false),
        ),
        ("add", models::add(&mut rng, 2, 3, 3, false, true)),
        ("add_const", models::add(&mut rng, 2, 3, 3, true, false)),
        ("softmax", models::head(&mut rng, 8, 4, true)),
    ];
    for (name, case) in &cases {
        Model::parse(&case.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Ok(dir) = std::env::var("MATPAC_FUZZ_CORPUS") {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("{name}.onnx")),
                &case.bytes,
            )
            .unwrap();
        }
    }
}
