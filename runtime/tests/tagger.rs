//! The streaming tagger end to end on a model built here: a "loudness" tagger
//! whose score is `sigmoid(mean standardised log-mel of the window + bias)`.
//! Noise bursts at known times must come out as events within one stride.

mod common;

use common::{Builder, Rng, f32_tensor};
use matpac_runtime::frontend::FrontendConfig;
use matpac_runtime::metadata;
use matpac_runtime::tagger::{Event, FeatureStream, FrameTagger, Tagger, TaggerConfig};
use matpac_runtime::{Error, Model};

const T: usize = 98;
const M: usize = 80;
const SR: u32 = 16_000;

/// `x[1,1,T,M] → Q → DQ → GlobalAveragePool → Q → DQ → Flatten → Add(bias) → Sigmoid`.
fn loudness_model(metadata: &[(&str, String)]) -> Vec<u8> {
    let mut b = Builder::new(&[1, 1, T, M]);
    let (xs, xz) = (0.05, -10);
    let q = b.quantize("x", xs, xz);
    let d = b.dequantize(&q, xs, xz);
    let p = b.op("GlobalAveragePool", &[&d], vec![]);
    let (ys, yz) = (0.02, 0);
    let q2 = b.quantize(&p, ys, yz);
    let d2 = b.dequantize(&q2, ys, yz);
    let flat = b.op("Flatten", &[&d2], vec![]);
    let bias = b.init(f32_tensor("bias", &[1], &[0.0]));
    let a = b.op("Add", &[&flat, &bias], vec![]);
    let s = b.op("Sigmoid", &[&a], vec![]);
    b.metadata = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    b.finish(&s, &[1, 1])
}

fn tagger_metadata() -> Vec<(&'static str, String)> {
    let mut frontend = String::new();
    metadata::write_frontend(&FrontendConfig::default(), &mut frontend).unwrap();
    vec![
        (metadata::FRONTEND, frontend),
        (metadata::FEATURE_MEAN, "-12.0".into()),
        (metadata::FEATURE_STD, "4.0".into()),
        (metadata::CLASS_NAMES, "loud".into()),
        (metadata::THRESHOLDS, "0.5".into()),
    ]
}

/// 10 s of −70 dBFS noise with −10 dBFS noise bursts over `bursts` (seconds).
fn clip(bursts: &[(f32, f32)]) -> Vec<i16> {
    let mut rng = Rng(42);
    (0..10 * SR as usize)
        .map(|i| {
            let t = i as f32 / SR as f32;
            let loud = bursts.iter().any(|&(a, b)| t >= a && t < b);
            let amp = if loud { 10_000.0 } else { 10.0 };
            (rng.uniform(-1.0, 1.0) * amp) as i16
        })
        .collect()
}

fn run(model: &Model<'_>, pcm: &[i16], chunk: usize) -> Vec<Event> {
    let mut window = vec![0i8; Tagger::<4>::window_len(model)];
    let mut arena = vec![0u8; model.arena_len()];
    let mut tagger =
        Tagger::<4>::new(model, TaggerConfig::default(), &mut window, &mut arena).unwrap();
    let mut events = Vec::new();
    for c in pcm.chunks(chunk) {
        tagger.push(c, |e| events.push(e)).unwrap();
    }
    tagger.finish(|e| events.push(e));
    events
}

/// `metadata` with the value of `key` replaced by `value`.
fn with_value<'a>(
    metadata: &[(&'a str, String)],
    key: &str,
    value: &str,
) -> Vec<(&'a str, String)> {
    metadata
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *k == key {
                    value.to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

#[test]
fn finds_bursts_within_one_stride() {
    let bytes = loudness_model(&tagger_metadata());
    let model = Model::parse(&bytes).unwrap();
    let truth = [(2.0f32, 4.0f32), (6.3, 7.5)];
    let events = run(&model, &clip(&truth), 1000);
    let stride_s = 0.5;
    for e in &events {
        let mut s = String::new();
        e.write_text(&mut s, "loud", SR).unwrap();
        println!("{s}");
    }
    assert_eq!(events.len(), truth.len(), "{events:?}");
    for (e, (on, off)) in events.iter().zip(truth) {
        let (eon, eoff) = (e.onset as f32 / SR as f32, e.offset as f32 / SR as f32);
        assert!((eon - on).abs() <= stride_s, "onset {eon} vs {on}");
        assert!((eoff - off).abs() <= stride_s, "offset {eoff} vs {off}");
        assert!(e.score > 0.5 && e.score <= 1.0);
    }
}

#[test]
fn chunk_size_does_not_change_events() {
    let bytes = loudness_model(&tagger_metadata());
    let model = Model::parse(&bytes).unwrap();
    let pcm = clip(&[(1.0, 2.5), (5.0, 9.0)]);
    let reference = run(&model, &pcm, pcm.len());
    for chunk in [1, 160, 999, 4096] {
        assert_eq!(run(&model, &pcm, chunk), reference, "chunk {chunk}");
    }
}

/// The two halves run apart, as the board firmware runs them: frames made
/// in PCM chunks of one size, queued, and handed to the frame half in
/// batches, long after they were made (up to `lag` frames behind).
fn run_split(model: &Model<'_>, pcm: &[i16], chunk: usize, lag: usize) -> Vec<Event> {
    let mut features = FeatureStream::new(model).unwrap();
    let mut window = vec![0i8; Tagger::<4>::window_len(model)];
    let mut arena = vec![0u8; model.arena_len()];
    let mut frames =
        FrameTagger::<4>::new(model, TaggerConfig::default(), &mut window, &mut arena).unwrap();
    let (mut queue, mut events) = (Vec::<Vec<i8>>::new(), Vec::new());
    for c in pcm.chunks(chunk) {
        features
            .push(c, |f| {
                queue.push(f.to_vec());
                Ok::<(), ()>(())
            })
            .unwrap();
        if queue.len() >= lag {
            for f in queue.drain(..) {
                frames.push_frame(&f, |e| events.push(e)).unwrap();
            }
        }
    }
    for f in queue.drain(..) {
        frames.push_frame(&f, |e| events.push(e)).unwrap();
    }
    frames.finish(|e| events.push(e));
    events
}

#[test]
fn feature_stream_and_frame_tagger_apart_equal_the_tagger() {
    let bytes = loudness_model(&tagger_metadata());
    let model = Model::parse(&bytes).unwrap();
    let pcm = clip(&[(1.0, 2.5), (5.0, 9.0)]);
    let reference = run(&model, &pcm, 1000);
    assert!(!reference.is_empty());
    for (chunk, lag) in [(128, 1), (128, 37), (1000, 60)] {
        assert_eq!(
            run_split(&model, &pcm, chunk, lag),
            reference,
            "chunk {chunk} lag {lag}"
        );
    }
    // A frame of the wrong size is an error, not a panic.
    let mut window = vec![0i8; T * M];
    let mut arena = vec![0u8; model.arena_len()];
    let mut frames =
        FrameTagger::<4>::new(&model, TaggerConfig::default(), &mut window, &mut arena).unwrap();
    let err = frames.push_frame(&[0i8; M - 1], |_| {}).err();
    assert!(
        matches!(err, Some(Error::BufferLength { expected: M, actual } ) if actual == M - 1),
        "{err:?}"
    );
}

#[test]
fn models_without_tagger_metadata_are_rejected() {
    let full = tagger_metadata();
    for missing in 0..full.len() {
        let mut md = full.clone();
        let (key, _) = md.remove(missing);
        let bytes = loudness_model(&md);
        let model = Model::parse(&bytes).unwrap();
        let mut window = vec![0i8; T * M];
        let mut arena = vec![0u8; model.arena_len()];
        let err = Tagger::<4>::new(&model, TaggerConfig::default(), &mut window, &mut arena).err();
        assert!(
            matches!(err, Some(Error::Metadata { key: k, .. }) if k == key),
            "{key}: {err:?}"
        );
    }
    // Wrong counts and bad values.
    for (key, value) in [
        (metadata::THRESHOLDS, "0.5;0.5"),
        (metadata::THRESHOLDS, "high"),
        (metadata::CLASS_NAMES, "a;b"),
    ] {
        let bytes = loudness_model(&with_value(&full, key, value));
        let model = Model::parse(&bytes).unwrap();
        let mut window = vec![0i8; T * M];
        let mut arena = vec![0u8; model.arena_len()];
        assert!(
            Tagger::<4>::new(&model, TaggerConfig::default(), &mut window, &mut arena).is_err(),
            "{key}={value}"
        );
    }
}

#[test]
fn in_place_constructors_equal_the_by_value_ones() {
    let bytes = loudness_model(&tagger_metadata());
    let mut slot = std::mem::MaybeUninit::uninit();
    let model = Model::parse_in(&mut slot, &bytes).unwrap();
    assert_eq!(model.arena_len(), Model::parse(&bytes).unwrap().arena_len());
    let config = FeatureStream::check(model).unwrap();
    assert_eq!(&config, FeatureStream::new(model).unwrap().config());

    let pcm = clip(&[(2.0, 3.5), (6.0, 6.8)]);
    let mut window = vec![0i8; T * M];
    let mut arena = vec![0u8; model.arena_len()];
    let mut tagger_slot = std::mem::MaybeUninit::uninit();
    let tagger = Tagger::<4>::init(
        &mut tagger_slot,
        model,
        TaggerConfig::default(),
        &mut window,
        &mut arena,
    )
    .unwrap();
    let mut events = Vec::new();
    tagger.push(&pcm, |e| events.push(e)).unwrap();
    tagger.finish(|e| events.push(e));
    assert_eq!(events, run(model, &pcm, 160));
}

#[test]
fn check_fails_as_the_feature_stream_does() {
    let full = tagger_metadata();
    // A configuration that parses but the fixed-point front end cannot run.
    let mut fft_1024 = String::new();
    let config = FrontendConfig {
        n_fft: 1024,
        ..FrontendConfig::default()
    };
    metadata::write_frontend(&config, &mut fft_1024).unwrap();
    for (key, value) in [
        (metadata::FEATURE_STD, "0"),
        (metadata::FEATURE_MEAN, "x"),
        (metadata::FRONTEND, "n_mels=0"),
        (metadata::FRONTEND, fft_1024.as_str()),
    ] {
        let bytes = loudness_model(&with_value(&full, key, value));
        let model = Model::parse(&bytes).unwrap();
        let new = FeatureStream::new(&model).err();
        assert!(new.is_some(), "{key}={value}");
        assert_eq!(FeatureStream::check(&model).err(), new, "{key}={value}");
    }
}
