//! The C interface, called from Rust as C would call it: its events equal the runtime's
//! streaming tagger's (what `matpac tag` runs) on the firmware example's model and
//! clip, and every misuse returns its status instead of crashing.

// The functions under test are `unsafe extern "C"`: calling them is the point. Every
// call passes live buffers with their true lengths, or exactly the NULL, misaligned or
// short arguments the interface is documented to check and reject.
#![allow(unsafe_code)]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ffi::{CStr, c_void};
use std::path::Path;
use std::ptr::{null, null_mut};

use matpac_capi::*;
use matpac_runtime::Model;
use matpac_runtime::tagger::{Tagger, TaggerConfig};

/// The model and clip the QEMU checks embed.
fn model_bytes() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-example/models/tagger.onnx");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn clip() -> Vec<i16> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-example/clips/scene01_0-10s.wav");
    let mut reader =
        hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .samples::<i16>()
        .map(|s| s.expect("16-bit PCM"))
        .collect()
}

/// A zeroed `matpac_tagger` on the heap (as static storage would be).
struct Storage(*mut MatpacTagger);

impl Storage {
    fn new() -> Self {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(Layout::new::<MatpacTagger>()) };
        assert!(!ptr.is_null());
        Self(ptr.cast())
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.0.cast(), Layout::new::<MatpacTagger>()) };
    }
}

fn info_of(model: &[u8]) -> MatpacInfo {
    let mut info = MatpacInfo::default();
    let status = unsafe { matpac_model_info(model.as_ptr(), model.len(), &mut info) };
    assert_eq!(status, MatpacStatus::Ok);
    info
}

/// A tagger over `model` with exactly the buffers `matpac_model_info` asks for.
struct Fixture<'m> {
    storage: Storage,
    model: &'m [u8],
    window: Vec<i8>,
    arena: Vec<u8>,
}

impl<'m> Fixture<'m> {
    fn new(model: &'m [u8]) -> Self {
        let info = info_of(model);
        let mut fixture = Self {
            storage: Storage::new(),
            model,
            window: vec![0; info.window_len],
            arena: vec![0; info.arena_len],
        };
        assert_eq!(fixture.init(), MatpacStatus::Ok);
        fixture
    }

    fn init(&mut self) -> MatpacStatus {
        unsafe {
            matpac_tagger_init(
                self.storage.0,
                self.model.as_ptr(),
                self.model.len(),
                self.window.as_mut_ptr(),
                self.window.len(),
                self.arena.as_mut_ptr(),
                self.arena.len(),
            )
        }
    }

    fn error_text(&self) -> String {
        let mut buf = [0 as std::ffi::c_char; 256];
        let mut len = 0;
        let status = unsafe {
            matpac_tagger_error_text(self.storage.0, buf.as_mut_ptr(), buf.len(), &mut len)
        };
        assert_eq!(status, MatpacStatus::Ok);
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(text.len(), len);
        text
    }
}

/// Collects each event's text (`matpac_event_text`) into the `Vec<String>` at `user`.
unsafe extern "C" fn collect(event: *const MatpacEvent, user: *mut c_void) {
    let lines = unsafe { &mut *user.cast::<Vec<String>>() };
    let mut buf = [0 as std::ffi::c_char; 128];
    let mut len = 0;
    let status = unsafe { matpac_event_text(event, buf.as_mut_ptr(), buf.len(), &mut len) };
    assert_eq!(status, MatpacStatus::Ok);
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
    assert_eq!(text.len(), len);
    lines.push(text.to_owned());
}

/// The runtime's own tagger over `pcm`, as `matpac tag` runs it.
fn runtime_events(model_bytes: &[u8], pcm: &[i16]) -> Vec<String> {
    let model = Model::parse(model_bytes).unwrap();
    let mut window = vec![0i8; Tagger::<256>::window_len(&model)];
    let mut arena = vec![0u8; model.arena_len()];
    let config = TaggerConfig::for_model(&model).unwrap();
    let mut tagger = Tagger::<256>::new(&model, config, &mut window, &mut arena).unwrap();
    let rate = tagger.frontend_config().sample_rate;
    let mut events = Vec::new();
    tagger.push(pcm, |e| events.push(e)).unwrap();
    tagger.finish(|e| events.push(e));
    events
        .iter()
        .map(|e| {
            let mut s = String::new();
            e.write_text(&mut s, tagger.class_name(e.class), rate)
                .unwrap();
            s
        })
        .collect()
}

#[test]
fn events_equal_the_runtime_tagger() {
    let model = model_bytes();
    let pcm = clip();
    let expected = runtime_events(&model, &pcm);
    assert!(
        !expected.is_empty(),
        "the clip has no event: nothing compared"
    );
    // Chunks of one hop, of an odd size, and the whole clip at once.
    for chunk in [160, 777, pcm.len()] {
        let fixture = Fixture::new(&model);
        let mut lines: Vec<String> = Vec::new();
        let user = (&mut lines as *mut Vec<String>).cast::<c_void>();
        for part in pcm.chunks(chunk) {
            let status = unsafe {
                matpac_tagger_push(
                    fixture.storage.0,
                    part.as_ptr(),
                    part.len(),
                    Some(collect),
                    user,
                )
            };
            assert_eq!(status, MatpacStatus::Ok);
        }
        let status = unsafe { matpac_tagger_finish(fixture.storage.0, Some(collect), user) };
        assert_eq!(status, MatpacStatus::Ok);
        assert_eq!(lines, expected, "chunks of {chunk} samples");
        assert_eq!(fixture.error_text(), "");
    }
}

#[test]
fn info_and_queries_describe_the_model() {
    let bytes = model_bytes();
    let model = Model::parse(&bytes).unwrap();
    let info = info_of(&bytes);
    assert_eq!(info.arena_len, model.arena_len());
    assert_eq!(info.window_len, model.input_len());
    assert_eq!(info.n_classes as usize, model.output_len());
    assert_eq!(info.sample_rate, 16_000);

    let fixture = Fixture::new(&bytes);
    let mut from_tagger = MatpacInfo::default();
    assert_eq!(
        unsafe { matpac_tagger_info(fixture.storage.0, &mut from_tagger) },
        MatpacStatus::Ok
    );
    assert_eq!(from_tagger, info);

    let reference = {
        let mut window = vec![0i8; info.window_len];
        let mut arena = vec![0u8; info.arena_len];
        let config = TaggerConfig::for_model(&model).unwrap();
        let tagger = Tagger::<256>::new(&model, config, &mut window, &mut arena).unwrap();
        (0..tagger.n_classes())
            .map(|c| tagger.class_name(c).to_owned())
            .collect::<Vec<_>>()
    };
    for (class, expected) in reference.iter().enumerate() {
        let (mut name, mut len) = (null(), 0);
        let status = unsafe {
            matpac_tagger_class_name(fixture.storage.0, class as u32, &mut name, &mut len)
        };
        assert_eq!(status, MatpacStatus::Ok);
        let name = unsafe { std::slice::from_raw_parts(name.cast::<u8>(), len) };
        assert_eq!(std::str::from_utf8(name).unwrap(), expected);
        let mut active = true;
        let status =
            unsafe { matpac_tagger_is_active(fixture.storage.0, class as u32, &mut active) };
        assert_eq!(status, MatpacStatus::Ok);
        assert!(!active, "nothing pushed yet");
    }
    let n = info.n_classes;
    let (mut name, mut len, mut active) = (null(), 0, false);
    assert_eq!(
        unsafe { matpac_tagger_class_name(fixture.storage.0, n, &mut name, &mut len) },
        MatpacStatus::ClassOutOfRange
    );
    assert_eq!(
        unsafe { matpac_tagger_is_active(fixture.storage.0, n, &mut active) },
        MatpacStatus::ClassOutOfRange
    );
}

/// Pushes an event's worth of the clip and records whether a class is active meanwhile.
#[test]
fn a_class_is_active_during_its_event() {
    let model = model_bytes();
    let pcm = clip();
    let fixture = Fixture::new(&model);
    let n = info_of(&model).n_classes;
    let mut ever_active = false;
    for part in pcm.chunks(1600) {
        let status = unsafe {
            matpac_tagger_push(
                fixture.storage.0,
                part.as_ptr(),
                part.len(),
                None,
                null_mut(),
            )
        };
        assert_eq!(status, MatpacStatus::Ok);
        for class in 0..n {
            let mut active = false;
            assert_eq!(
                unsafe { matpac_tagger_is_active(fixture.storage.0, class, &mut active) },
                MatpacStatus::Ok
            );
            ever_active |= active;
        }
    }
    assert!(ever_active);
}

#[test]
fn misuse_returns_a_status() {
    let model = model_bytes();
    let mut fixture = Fixture::new(&model);
    let mut info = MatpacInfo::default();
    let mut buf = [0 as std::ffi::c_char; 64];

    // Null pointers.
    assert_eq!(
        unsafe { matpac_model_info(null(), model.len(), &mut info) },
        MatpacStatus::NullPointer
    );
    assert_eq!(
        unsafe { matpac_model_info(model.as_ptr(), model.len(), null_mut()) },
        MatpacStatus::NullPointer
    );
    let status = unsafe {
        matpac_tagger_init(
            null_mut(),
            model.as_ptr(),
            model.len(),
            null_mut(),
            0,
            null_mut(),
            0,
        )
    };
    assert_eq!(status, MatpacStatus::NullPointer);
    assert_eq!(
        unsafe { matpac_tagger_push(fixture.storage.0, null(), 1, None, null_mut()) },
        MatpacStatus::NullPointer
    );
    assert_eq!(
        unsafe { matpac_tagger_push(fixture.storage.0, null(), 0, None, null_mut()) },
        MatpacStatus::Ok
    );
    assert_eq!(
        unsafe { matpac_tagger_info(null(), &mut info) },
        MatpacStatus::NullPointer
    );
    assert_eq!(
        unsafe { matpac_event_text(null(), buf.as_mut_ptr(), buf.len(), null_mut()) },
        MatpacStatus::NullPointer
    );

    // Misaligned storage and samples.
    let samples = [0i16; 8];
    let odd = unsafe { samples.as_ptr().cast::<u8>().add(1) }.cast::<i16>();
    assert_eq!(
        unsafe { matpac_tagger_push(fixture.storage.0, odd, 2, None, null_mut()) },
        MatpacStatus::Misaligned
    );
    let shifted = unsafe { fixture.storage.0.cast::<u8>().add(4) }.cast::<MatpacTagger>();
    assert_eq!(
        unsafe { matpac_tagger_info(shifted, &mut info) },
        MatpacStatus::Misaligned
    );

    // Runtime errors: not a model, an arena and a window one byte short.
    let garbage = [0xFFu8; 64];
    assert_eq!(
        unsafe { matpac_model_info(garbage.as_ptr(), garbage.len(), &mut info) },
        MatpacStatus::Protobuf
    );
    let full = info_of(&model);
    fixture.arena.truncate(full.arena_len - 1);
    assert_eq!(fixture.init(), MatpacStatus::ArenaTooSmall);
    assert_eq!(
        fixture.error_text(),
        format!(
            "arena too small: need {} bytes, got {}",
            full.arena_len,
            full.arena_len - 1
        )
    );
    // A failed init leaves the storage unusable until the next init.
    assert_eq!(
        unsafe { matpac_tagger_push(fixture.storage.0, samples.as_ptr(), 8, None, null_mut()) },
        MatpacStatus::NotInitialized
    );
    fixture.arena.resize(full.arena_len, 0);
    fixture.window.truncate(full.window_len - 1);
    assert_eq!(fixture.init(), MatpacStatus::BufferLength);
    fixture.window.resize(full.window_len, 0);
    assert_eq!(fixture.init(), MatpacStatus::Ok);
    assert_eq!(fixture.error_text(), "");

    // Zeroed storage is not initialised.
    let fresh = Storage::new();
    assert_eq!(
        unsafe { matpac_tagger_push(fresh.0, samples.as_ptr(), 8, None, null_mut()) },
        MatpacStatus::NotInitialized
    );
    assert_eq!(
        unsafe { matpac_tagger_finish(fresh.0, None, null_mut()) },
        MatpacStatus::NotInitialized
    );
    assert_eq!(
        unsafe { matpac_tagger_error_text(fresh.0, buf.as_mut_ptr(), buf.len(), null_mut()) },
        MatpacStatus::NotInitialized
    );

    // Event text: too small a buffer, a name that is not UTF-8.
    let name = *b"dog";
    let mut event = MatpacEvent {
        class_index: 0,
        sample_rate: 16_000,
        onset: 16_000,
        offset: 32_008,
        score: 0.5,
        class_name: name.as_ptr().cast(),
        class_name_len: name.len(),
    };
    let expected = "onset=1.000 offset=2.000 class=dog score=0.500";
    let mut len = 0;
    assert_eq!(
        unsafe { matpac_event_text(&event, buf.as_mut_ptr(), buf.len(), &mut len) },
        MatpacStatus::Ok
    );
    assert_eq!(
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
        expected
    );
    let status = unsafe { matpac_event_text(&event, buf.as_mut_ptr(), expected.len(), &mut len) };
    assert_eq!(status, MatpacStatus::BufferTooSmall, "no room for the NUL");
    assert_eq!(buf[0], 0, "a failed write leaves an empty string");
    let bad = [0xC3u8, 0x28];
    event.class_name = bad.as_ptr().cast();
    event.class_name_len = bad.len();
    assert_eq!(
        unsafe { matpac_event_text(&event, buf.as_mut_ptr(), buf.len(), &mut len) },
        MatpacStatus::InvalidClassName
    );
}

/// The callback of a busy tagger's push: calls back into the tagger at `user`.
unsafe extern "C" fn reenter(_: *const MatpacEvent, user: *mut c_void) {
    let calls = unsafe { &mut *user.cast::<(*mut MatpacTagger, Vec<MatpacStatus>)>() };
    let mut info = MatpacInfo::default();
    let samples = [0i16; 4];
    calls
        .1
        .push(unsafe { matpac_tagger_push(calls.0, samples.as_ptr(), 4, None, null_mut()) });
    calls
        .1
        .push(unsafe { matpac_tagger_info(calls.0, &mut info) });
    calls
        .1
        .push(unsafe { matpac_tagger_init(calls.0, null(), 0, null_mut(), 0, null_mut(), 0) });
}

#[test]
fn a_callback_cannot_reenter_its_tagger() {
    let model = model_bytes();
    let pcm = clip();
    let fixture = Fixture::new(&model);
    let mut calls: (*mut MatpacTagger, Vec<MatpacStatus>) = (fixture.storage.0, Vec::new());
    let user = (&mut calls as *mut (*mut MatpacTagger, Vec<MatpacStatus>)).cast::<c_void>();
    let status = unsafe {
        matpac_tagger_push(
            fixture.storage.0,
            pcm.as_ptr(),
            pcm.len(),
            Some(reenter),
            user,
        )
    };
    assert_eq!(status, MatpacStatus::Ok);
    assert_eq!(
        unsafe { matpac_tagger_finish(fixture.storage.0, Some(reenter), user) },
        MatpacStatus::Ok
    );
    assert!(!calls.1.is_empty(), "no event: the callback never ran");
    assert!(
        calls.1.iter().all(|s| *s == MatpacStatus::Busy),
        "{:?}",
        calls.1
    );
    // Usable again afterwards.
    let mut info = MatpacInfo::default();
    assert_eq!(
        unsafe { matpac_tagger_info(fixture.storage.0, &mut info) },
        MatpacStatus::Ok
    );
}

#[test]
fn every_status_has_its_own_message() {
    let message = |status: i32| {
        unsafe { CStr::from_ptr(matpac_status_message(status)) }
            .to_str()
            .unwrap()
            .to_owned()
    };
    let messages: Vec<String> = (0..=MatpacStatus::OtherRuntimeError as i32)
        .map(message)
        .collect();
    let mut unique = messages.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), messages.len(), "{messages:?}");
    assert!(
        messages
            .iter()
            .all(|m| m != "unknown status" && !m.is_empty())
    );
    assert_eq!(
        message(MatpacStatus::OtherRuntimeError as i32 + 1),
        "unknown status"
    );
    assert_eq!(message(-1), "unknown status");
    assert_eq!(
        message(MatpacStatus::ArenaTooSmall as i32),
        "arena too small for the model"
    );
}
