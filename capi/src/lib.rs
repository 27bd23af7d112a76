//! # matpac-capi
//!
//! A C interface to [`matpac_runtime`]'s streaming sound-event tagger, built as a static
//! library (`libmatpac_capi.a`) with the header `include/matpac.h` (generated from this
//! file by cbindgen; `tests/header.rs` fails when the two differ).
//!
//! ```text
//! matpac_model_info(model bytes) ─► arena and window sizes
//! matpac_tagger_init(storage, model, window, arena)
//! matpac_tagger_push(i16 PCM) ─► matpac_event_fn(event, user) for every event that ends
//! matpac_tagger_finish()      ─► the events still active
//! ```
//!
//! Nothing here allocates: the tagger's state lives in a caller-owned [`MatpacTagger`]
//! (a fixed-size, opaque struct), and the model bytes, the int8 feature window and the
//! interpreter's arena are the caller's buffers, borrowed until the tagger is no longer
//! used. Every function returns a [`MatpacStatus`]; none panics on any input (pointers
//! are checked for null and alignment, lengths are checked, slices are never indexed).
//!
//! `unsafe` is allowed in this crate only (the workspace denies it): a C interface
//! receives raw pointers and lengths and must turn them into references and slices, and
//! it keeps the tagger — which borrows the model stored next to it — in memory it does
//! not own. Every `unsafe` block states why it is sound (clippy denies one that does
//! not).
//!
//! One file over 400 lines on purpose: it is the whole C surface, which cbindgen turns
//! into the header, and every exported function shares the storage-state checks and the
//! status mapping defined at its top.
#![no_std]
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

// Hosted targets (the unit and integration tests, a host build of the static library)
// link std, whose panic handler the library then uses; targets without an OS get the
// one below.
#[cfg(not(target_os = "none"))]
extern crate std;

use core::ffi::{c_char, c_void};
use core::fmt::{self, Write};
use core::mem::{MaybeUninit, align_of, size_of};
use core::ptr::{addr_of, addr_of_mut};

use matpac_runtime::tagger::{Event, Tagger, TaggerConfig};
use matpac_runtime::{Error, Model, metadata};

/// Most classes a model may have to run behind this interface.
pub const MATPAC_MAX_CLASSES: usize = 32;

/// Size of `matpac_tagger` in 8-byte words on targets with 32-bit pointers (Cortex-M,
/// ESP32): room for the parsed model and the tagger state, checked when the library is
/// compiled for the target.
#[cfg(target_pointer_width = "32")]
pub const MATPAC_TAGGER_WORDS: usize = 2176;
/// Size of `matpac_tagger` in 8-byte words on targets with 64-bit pointers (hosts).
#[cfg(not(target_pointer_width = "32"))]
pub const MATPAC_TAGGER_WORDS: usize = 2688;

/// The tagger behind the interface.
type RuntimeTagger = Tagger<'static, 'static, 'static, MATPAC_MAX_CLASSES>;

/// Storage for one tagger: declare it (static or on the stack), pass its address to
/// `matpac_tagger_init`, then to the other `matpac_tagger_*` functions. Its contents are
/// private. It holds pointers into itself and into the caller's buffers, so it must not
/// be moved or copied after `matpac_tagger_init`; storage that was never initialised
/// must be zeroed (as static storage is) for the functions to report
/// `MATPAC_STATUS_NOT_INITIALIZED` instead of reading garbage.
#[repr(C)]
pub struct MatpacTagger {
    opaque: [u64; MATPAC_TAGGER_WORDS],
}

/// The state inside a [`MatpacTagger`].
#[repr(C)]
struct State {
    /// One of the `PHASE_*` values, or 0 (zeroed storage: not initialised).
    phase: u32,
    /// Sample rate of the model's front end, Hz.
    sample_rate: u32,
    /// The error of the last call that failed with a runtime error.
    last_error: Option<Error>,
    /// Valid from phase [`PHASE_READY`] on (and while [`PHASE_BUSY`]).
    model: MaybeUninit<Model<'static>>,
    /// Valid in phases [`PHASE_READY`] and [`PHASE_BUSY`]; borrows `model`.
    tagger: MaybeUninit<RuntimeTagger>,
}

/// `matpac_tagger_init` failed; only `last_error` is valid.
const PHASE_FAILED: u32 = 0x4641_494C;
/// Initialised and idle.
const PHASE_READY: u32 = 0x5245_4459;
/// Inside `push` or `finish` (a callback calling back into the same tagger sees this).
const PHASE_BUSY: u32 = 0x4255_5359;

// The storage holds the state, and tracks its size (less than 1 KiB to spare) so that it
// does not silently grow past what the runtime needs.
const _: () = assert!(size_of::<State>() <= size_of::<MatpacTagger>());
const _: () = assert!(size_of::<MatpacTagger>() - size_of::<State>() < 1024);
const _: () = assert!(align_of::<State>() <= align_of::<MatpacTagger>());

/// What every function returns: `MATPAC_STATUS_OK` (0) or why it failed. Values 1–7 are
/// the interface's own checks; 8 and up are the runtime's error kinds.
/// `matpac_status_message` describes each; `matpac_tagger_error_text` gives the details
/// of the last runtime error.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatpacStatus {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL is NULL.
    NullPointer = 1,
    /// A pointer is not aligned for its type (the tagger storage, the PCM samples).
    Misaligned = 2,
    /// An output buffer is too small for the text and its terminating NUL.
    BufferTooSmall = 3,
    /// The tagger storage was not initialised, or its initialisation failed.
    NotInitialized = 4,
    /// The tagger is inside `push` or `finish` (called again from the event callback).
    Busy = 5,
    /// A class index is not below the model's number of classes.
    ClassOutOfRange = 6,
    /// An event's class name is not valid UTF-8.
    InvalidClassName = 7,
    /// The runtime: a front-end configuration the fixed-point path cannot run.
    UnsupportedFrontend = 8,
    /// The runtime: a buffer has the wrong length (the window is too small).
    BufferLength = 9,
    /// The runtime: a quantisation parameter is zero, negative or not finite.
    InvalidQuantization = 10,
    /// The runtime: the model bytes are not well-formed protobuf (not an ONNX file).
    Protobuf = 11,
    /// The runtime: the model is malformed or outside the supported subset.
    InvalidModel = 12,
    /// The runtime: a graph node is malformed or unsupported.
    UnsupportedNode = 13,
    /// The runtime: a fixed capacity is exceeded (more classes than `MATPAC_MAX_CLASSES`).
    Capacity = 14,
    /// The runtime: the arena is smaller than the model needs.
    ArenaTooSmall = 15,
    /// The runtime: a metadata entry the tagger needs is missing or malformed.
    Metadata = 16,
    /// The runtime: the model's input or output does not fit the tagger.
    TaggerModel = 17,
    /// The runtime: an error kind newer than this interface.
    OtherRuntimeError = 18,
}

impl MatpacStatus {
    /// The status of a runtime error.
    fn of(error: &Error) -> Self {
        match error {
            Error::UnsupportedFrontend { .. } => Self::UnsupportedFrontend,
            Error::BufferLength { .. } => Self::BufferLength,
            Error::InvalidQuantization { .. } => Self::InvalidQuantization,
            Error::Protobuf { .. } => Self::Protobuf,
            Error::InvalidModel { .. } => Self::InvalidModel,
            Error::UnsupportedNode { .. } => Self::UnsupportedNode,
            Error::Capacity { .. } => Self::Capacity,
            Error::ArenaTooSmall { .. } => Self::ArenaTooSmall,
            Error::Metadata { .. } => Self::Metadata,
            Error::TaggerModel { .. } => Self::TaggerModel,
            _ => Self::OtherRuntimeError,
        }
    }

    /// The text of `matpac_status_message`.
    fn message(self) -> &'static core::ffi::CStr {
        match self {
            Self::Ok => c"ok",
            Self::NullPointer => c"a required pointer argument is NULL",
            Self::Misaligned => c"a pointer is not aligned for its type",
            Self::BufferTooSmall => c"output buffer too small for the text and its NUL",
            Self::NotInitialized => c"tagger not initialised (or its initialisation failed)",
            Self::Busy => c"tagger busy: called again from its own event callback",
            Self::ClassOutOfRange => c"class index out of range",
            Self::InvalidClassName => c"event class name is not valid UTF-8",
            Self::UnsupportedFrontend => c"unsupported front-end configuration",
            Self::BufferLength => c"buffer length mismatch (feature window too small)",
            Self::InvalidQuantization => c"invalid quantisation parameter in the model",
            Self::Protobuf => c"model bytes are not well-formed protobuf",
            Self::InvalidModel => c"invalid or unsupported model",
            Self::UnsupportedNode => c"unsupported or malformed graph node",
            Self::Capacity => c"capacity exceeded (too many classes?)",
            Self::ArenaTooSmall => c"arena too small for the model",
            Self::Metadata => c"model metadata missing or malformed (not a tagger export?)",
            Self::TaggerModel => c"model input or output does not fit the tagger",
            Self::OtherRuntimeError => c"runtime error",
        }
    }

    /// Every status, in value order.
    const ALL: [Self; 19] = [
        Self::Ok,
        Self::NullPointer,
        Self::Misaligned,
        Self::BufferTooSmall,
        Self::NotInitialized,
        Self::Busy,
        Self::ClassOutOfRange,
        Self::InvalidClassName,
        Self::UnsupportedFrontend,
        Self::BufferLength,
        Self::InvalidQuantization,
        Self::Protobuf,
        Self::InvalidModel,
        Self::UnsupportedNode,
        Self::Capacity,
        Self::ArenaTooSmall,
        Self::Metadata,
        Self::TaggerModel,
        Self::OtherRuntimeError,
    ];
}

/// One sound event, as the callback of `matpac_tagger_push`/`matpac_tagger_finish`
/// receives it. Valid only during the callback; `class_name` points into the model bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MatpacEvent {
    /// Class index, in model output order (`0 ≤ class_index < n_classes`).
    pub class_index: u32,
    /// Sample rate of the stream, Hz (the unit of `onset` and `offset`).
    pub sample_rate: u32,
    /// Estimated start, samples from the start of the stream.
    pub onset: u64,
    /// Estimated end, samples from the start of the stream.
    pub offset: u64,
    /// Highest smoothed score while the event was active, in `[0, 1]`.
    pub score: f32,
    /// The class name, UTF-8, `class_name_len` bytes, not NUL-terminated
    /// (`printf("%.*s", (int)e->class_name_len, e->class_name)`).
    pub class_name: *const c_char,
    /// Bytes of `class_name`.
    pub class_name_len: usize,
}

/// Receives each event: `event` is valid only during the call; `user` is the pointer
/// given to `matpac_tagger_push`/`matpac_tagger_finish`. It runs inside those calls, so
/// it must not call back into the same tagger (that call returns `MATPAC_STATUS_BUSY`).
pub type MatpacEventFn = Option<unsafe extern "C" fn(event: *const MatpacEvent, user: *mut c_void)>;

/// What a model needs and is: the buffer sizes for `matpac_tagger_init` and the stream
/// it expects.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatpacInfo {
    /// Bytes of interpreter arena (`uint8_t`, any alignment).
    pub arena_len: usize,
    /// Bytes of int8 feature window (`int8_t`: frames × mel bands).
    pub window_len: usize,
    /// Number of classes (at most `MATPAC_MAX_CLASSES`).
    pub n_classes: u32,
    /// Sample rate of the PCM to push, Hz (mono, 16-bit).
    pub sample_rate: u32,
}

/// A `Result` whose error is a status.
type Status<T> = Result<T, MatpacStatus>;

/// Records a runtime error in `state` and returns its status.
///
/// # Safety
/// `state` points to a valid, writable `State` header (`last_error` is written).
unsafe fn fail(state: *mut State, error: Error) -> MatpacStatus {
    // SAFETY: the caller guarantees `state` is valid for writes; only the plain
    // `last_error` field is written, disjoint from any live borrow of `tagger`.
    unsafe { addr_of_mut!((*state).last_error).write(Some(error)) };
    MatpacStatus::of(&error)
}

/// `ptr` as a `State` pointer, checked for null and alignment.
fn state_ptr(ptr: *const MatpacTagger) -> Status<*mut State> {
    if ptr.is_null() {
        return Err(MatpacStatus::NullPointer);
    }
    if !(ptr as usize).is_multiple_of(align_of::<MatpacTagger>()) {
        return Err(MatpacStatus::Misaligned);
    }
    Ok(ptr.cast::<State>().cast_mut())
}

/// A byte slice from C, checked for null (a zero length takes any pointer).
///
/// # Safety
/// When `len > 0` and `ptr` is not null, `ptr` is valid for reads of `len` elements for
/// `'a`, and nothing writes them meanwhile.
unsafe fn slice_in<'a, T>(ptr: *const T, len: usize) -> Status<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(MatpacStatus::NullPointer);
    }
    if !(ptr as usize).is_multiple_of(align_of::<T>()) {
        return Err(MatpacStatus::Misaligned);
    }
    // SAFETY: non-null and aligned (checked above); valid for `len` reads for `'a`
    // (the caller's guarantee).
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// A mutable slice from C, checked for null and alignment (a zero length takes any
/// pointer).
///
/// # Safety
/// When `len > 0` and `ptr` is not null, `ptr` is valid for reads and writes of `len`
/// elements for `'a`, and nothing else accesses them meanwhile.
unsafe fn slice_out<'a, T>(ptr: *mut T, len: usize) -> Status<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(MatpacStatus::NullPointer);
    }
    if !(ptr as usize).is_multiple_of(align_of::<T>()) {
        return Err(MatpacStatus::Misaligned);
    }
    // SAFETY: non-null and aligned (checked above); valid and exclusively ours for `len`
    // elements for `'a` (the caller's guarantee).
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// Writes `value` through `out`, checked for null and alignment.
///
/// # Safety
/// `out`, when not null, is valid for a write of a `T`.
unsafe fn put<T>(out: *mut T, value: T) -> MatpacStatus {
    if out.is_null() {
        return MatpacStatus::NullPointer;
    }
    if !(out as usize).is_multiple_of(align_of::<T>()) {
        return MatpacStatus::Misaligned;
    }
    // SAFETY: non-null and aligned (checked above), writable (the caller's guarantee).
    unsafe { out.write(value) };
    MatpacStatus::Ok
}

/// What `matpac_model_info` reports of the model in `bytes`. The model is built in
/// place in this frame (returned by value it would be copied through several frames)
/// and its front end only checked, not built.
fn model_info(bytes: &[u8]) -> Result<MatpacInfo, Error> {
    let mut model = MaybeUninit::uninit();
    let model = Model::parse_in(&mut model, bytes)?;
    let frontend = matpac_runtime::tagger::FeatureStream::check(model)?;
    TaggerConfig::for_model(model)?;
    // `matpac_tagger_init` gets this error from the tagger itself (its capacity is
    // the same constant).
    if model.output_len() > MATPAC_MAX_CLASSES {
        return Err(Error::Capacity {
            what: "tagger classes",
            limit: MATPAC_MAX_CLASSES,
        });
    }
    Ok(MatpacInfo {
        arena_len: model.arena_len(),
        window_len: RuntimeTagger::window_len(model),
        n_classes: model.output_len() as u32,
        sample_rate: frontend.sample_rate,
    })
}

/// Describes the model in `model[0..model_len]` (an int8 tagger ONNX file, as
/// `matpac export` writes it) into `*info`: the arena and window bytes
/// `matpac_tagger_init` needs, its classes and sample rate. Checks what the tagger
/// needs of the model except its class names and thresholds (`matpac_tagger_init`
/// checks everything).
///
/// # Safety
/// `model` is valid for reads of `model_len` bytes; `info` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_model_info(
    model: *const u8,
    model_len: usize,
    info: *mut MatpacInfo,
) -> MatpacStatus {
    if info.is_null() {
        return MatpacStatus::NullPointer;
    }
    // SAFETY: `model` is readable for `model_len` bytes during this call (the caller's
    // guarantee); the slice does not outlive it.
    let bytes = match unsafe { slice_in(model, model_len) } {
        Ok(bytes) => bytes,
        Err(status) => return status,
    };
    match model_info(bytes) {
        // SAFETY: `info` is writable (the caller's guarantee).
        Ok(value) => unsafe { put(info, value) },
        Err(e) => MatpacStatus::of(&e),
    }
}

/// Initialises `*tagger` to tag a stream with the model in `model[0..model_len]`, using
/// `window[0..window_len]` as its int8 feature window and `arena[0..arena_len]` as the
/// interpreter's scratch memory (sizes from `matpac_model_info`: `window_len` and
/// `arena_len` at least those; larger is fine). The settings are the runtime's defaults
/// with what the model's metadata sets, as `matpac tag` uses. May be called again on the
/// same storage to start over (with the same or another model).
///
/// On failure the storage holds only the error (`matpac_tagger_error_text`); the other
/// functions return `MATPAC_STATUS_NOT_INITIALIZED`.
///
/// # Safety
/// `tagger` is valid for writes of a `matpac_tagger`, zeroed or passed to
/// `matpac_tagger_init` before, and stays at that address while it is used. The model
/// bytes, window and arena stay valid and are not accessed by anyone else until the
/// tagger is no longer used (the tagger keeps pointers to them; the model bytes are only
/// read).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_init(
    tagger: *mut MatpacTagger,
    model: *const u8,
    model_len: usize,
    window: *mut i8,
    window_len: usize,
    arena: *mut u8,
    arena_len: usize,
) -> MatpacStatus {
    let state = match state_ptr(tagger) {
        Ok(state) => state,
        Err(status) => return status,
    };
    // SAFETY: aligned (checked) and zeroed or initialised (the caller's guarantee).
    // Starting over inside the event callback would overwrite the model the running
    // tagger borrows.
    if unsafe { phase(state) } == PHASE_BUSY {
        return MatpacStatus::Busy;
    }
    // SAFETY: `state` is aligned and writable for a whole `MatpacTagger`, which
    // contains a `State` (compile-time assertions above); plain fields are written
    // through raw pointers.
    unsafe {
        addr_of_mut!((*state).phase).write(PHASE_FAILED);
        addr_of_mut!((*state).last_error).write(None);
    }
    // SAFETY: the caller keeps the model bytes readable and unmodified, and the window
    // and arena valid and exclusively the tagger's, for as long as the tagger is used;
    // `'static` stands for that span, which this crate cannot name.
    let buffers = unsafe {
        slice_in::<'static, u8>(model, model_len).and_then(|m| {
            Ok((
                m,
                slice_out::<'static, i8>(window, window_len)?,
                slice_out::<'static, u8>(arena, arena_len)?,
            ))
        })
    };
    let (bytes, window, arena) = match buffers {
        Ok(buffers) => buffers,
        Err(status) => return status,
    };
    // SAFETY: `state` is valid and writable (above), and the storage does not move
    // while the tagger is used (the caller's guarantee), so the model built in place
    // in it stays where the tagger's reference points; nothing writes `model` again
    // until the next `matpac_tagger_init`, which first marks the storage failed, so
    // that the old tagger is never used again. The tagger's slot is a disjoint field.
    let (model_slot, tagger_slot) = unsafe {
        (
            &mut *addr_of_mut!((*state).model),
            &mut *addr_of_mut!((*state).tagger),
        )
    };
    let model: &'static Model<'static> = match Model::parse_in(model_slot, bytes) {
        Ok(model) => model,
        // SAFETY: `state` is valid and writable (above).
        Err(e) => return unsafe { fail(state, e) },
    };
    let built = TaggerConfig::for_model(model)
        .and_then(|config| RuntimeTagger::init(tagger_slot, model, config, window, arena));
    match built {
        Ok(runtime) => {
            let sample_rate = runtime.frontend_config().sample_rate;
            // SAFETY: `state` is valid and writable (above); the phase becomes READY
            // only once the tagger is built.
            unsafe {
                addr_of_mut!((*state).sample_rate).write(sample_rate);
                addr_of_mut!((*state).phase).write(PHASE_READY);
            }
            MatpacStatus::Ok
        }
        // SAFETY: `state` is valid and writable (above).
        Err(e) => unsafe { fail(state, e) },
    }
}

/// Reads the phase of an initialised-or-zeroed storage.
///
/// # Safety
/// `state` is aligned and points to a `MatpacTagger` that is zeroed or was passed to
/// `matpac_tagger_init`.
unsafe fn phase(state: *const State) -> u32 {
    // SAFETY: the caller's guarantee; `phase` is a plain `u32` at the start of the
    // storage, written by `matpac_tagger_init` or zero.
    unsafe { addr_of!((*state).phase).read() }
}

/// Runs `f` on the ready tagger in `tagger` with the model's class names, marking it
/// busy meanwhile; a runtime error is recorded for `matpac_tagger_error_text`.
///
/// # Safety
/// As for `matpac_tagger_push`.
unsafe fn with_tagger(
    tagger: *mut MatpacTagger,
    f: impl FnOnce(&mut RuntimeTagger, &Model<'static>, u32) -> Result<(), Error>,
) -> MatpacStatus {
    let state = match state_ptr(tagger) {
        Ok(state) => state,
        Err(status) => return status,
    };
    // SAFETY: aligned (checked) and zeroed or initialised (the caller's guarantee).
    match unsafe { phase(state) } {
        PHASE_READY => {}
        PHASE_BUSY => return MatpacStatus::Busy,
        _ => return MatpacStatus::NotInitialized,
    }
    // SAFETY: phase READY: `matpac_tagger_init` wrote the model, the tagger and the
    // sample rate, and the storage has not moved (the caller's guarantee). The phase is
    // set to BUSY before `tagger` is borrowed mutably, so a re-entrant call from the
    // callback returns above without touching it; `model` is only read (the tagger
    // borrows it shared too). The phase goes back to READY after the borrow ends.
    unsafe {
        addr_of_mut!((*state).phase).write(PHASE_BUSY);
        let model = (*addr_of!((*state).model)).assume_init_ref();
        let sample_rate = addr_of!((*state).sample_rate).read();
        let runtime = (*addr_of_mut!((*state).tagger)).assume_init_mut();
        let result = f(runtime, model, sample_rate);
        addr_of_mut!((*state).phase).write(PHASE_READY);
        match result {
            Ok(()) => MatpacStatus::Ok,
            Err(e) => fail(state, e),
        }
    }
}

/// Calls `on_event` (if any) with `event` converted for C.
///
/// # Safety
/// `on_event` is safe to call with a valid event and `user` (the caller's guarantee in
/// `matpac_tagger_push`).
unsafe fn deliver(
    on_event: MatpacEventFn,
    user: *mut c_void,
    model: &Model<'_>,
    sample_rate: u32,
    event: Event,
) {
    let Some(on_event) = on_event else { return };
    let name = class_name(model, event.class).unwrap_or("");
    let event = MatpacEvent {
        class_index: event.class as u32,
        sample_rate,
        onset: event.onset,
        offset: event.offset,
        score: event.score,
        class_name: name.as_ptr().cast(),
        class_name_len: name.len(),
    };
    // SAFETY: `event` is a valid `MatpacEvent` for the duration of the call, its name
    // points into the model bytes the caller keeps alive; calling `on_event` with it and
    // `user` is the caller's contract.
    unsafe { on_event(&event, user) };
}

/// Name of class `class` of `model` (None if out of range).
fn class_name<'a>(model: &Model<'a>, class: usize) -> Option<&'a str> {
    model
        .metadata(metadata::CLASS_NAMES)
        .and_then(|names| metadata::list(names).nth(class))
}

/// Pushes `n_samples` samples of 16-bit mono PCM at the model's sample rate (any count,
/// including 0; `pcm` may then be NULL). Calls `on_event(event, user)` for every event
/// that ends, before returning; `on_event` may be NULL to ignore events.
///
/// # Safety
/// `tagger` is a storage passed to `matpac_tagger_init` (or zeroed); `pcm` is valid for
/// reads of `n_samples` samples and 2-byte aligned; `on_event`, when not NULL, is a
/// function that may be called with `user`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_push(
    tagger: *mut MatpacTagger,
    pcm: *const i16,
    n_samples: usize,
    on_event: MatpacEventFn,
    user: *mut c_void,
) -> MatpacStatus {
    // SAFETY: `pcm` is readable for `n_samples` samples during this call (the caller's
    // guarantee); the slice does not outlive it.
    let pcm = match unsafe { slice_in(pcm, n_samples) } {
        Ok(pcm) => pcm,
        Err(status) => return status,
    };
    // SAFETY: the caller's guarantees for `tagger`, `on_event` and `user`.
    unsafe {
        with_tagger(tagger, |runtime, model, rate| {
            runtime.push(pcm, |e| deliver(on_event, user, model, rate, e))
        })
    }
}

/// Ends the stream: every active event ends now and is passed to `on_event(event, user)`
/// (NULL to ignore). Pushing more PCM afterwards continues the same stream.
///
/// # Safety
/// As for `matpac_tagger_push`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_finish(
    tagger: *mut MatpacTagger,
    on_event: MatpacEventFn,
    user: *mut c_void,
) -> MatpacStatus {
    // SAFETY: the caller's guarantees for `tagger`, `on_event` and `user`.
    unsafe {
        with_tagger(tagger, |runtime, model, rate| {
            runtime.finish(|e| deliver(on_event, user, model, rate, e));
            Ok(())
        })
    }
}

/// Reads the ready tagger in `tagger` (not while it is busy).
///
/// # Safety
/// `tagger` is a storage passed to `matpac_tagger_init` (or zeroed).
unsafe fn read_tagger<T>(
    tagger: *const MatpacTagger,
    f: impl FnOnce(&RuntimeTagger, &Model<'static>, u32) -> Status<T>,
) -> Status<T> {
    let state = state_ptr(tagger)?;
    // SAFETY: aligned (checked) and zeroed or initialised (the caller's guarantee).
    match unsafe { phase(state) } {
        PHASE_READY => {}
        PHASE_BUSY => return Err(MatpacStatus::Busy),
        _ => return Err(MatpacStatus::NotInitialized),
    }
    // SAFETY: phase READY: the model, tagger and sample rate are initialised and no
    // mutable borrow of them is live (that would be phase BUSY).
    unsafe {
        f(
            (*addr_of!((*state).tagger)).assume_init_ref(),
            (*addr_of!((*state).model)).assume_init_ref(),
            addr_of!((*state).sample_rate).read(),
        )
    }
}

/// Writes the model's buffer sizes, classes and sample rate of an initialised tagger
/// into `*info` (as `matpac_model_info` does for model bytes).
///
/// # Safety
/// `tagger` is a storage passed to `matpac_tagger_init` (or zeroed); `info` is valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_info(
    tagger: *const MatpacTagger,
    info: *mut MatpacInfo,
) -> MatpacStatus {
    // SAFETY: the caller's guarantee for `tagger`.
    let value = unsafe {
        read_tagger(tagger, |runtime, model, sample_rate| {
            Ok(MatpacInfo {
                arena_len: model.arena_len(),
                window_len: RuntimeTagger::window_len(model),
                n_classes: runtime.n_classes() as u32,
                sample_rate,
            })
        })
    };
    match value {
        // SAFETY: `info` is writable (the caller's guarantee).
        Ok(value) => unsafe { put(info, value) },
        Err(status) => status,
    }
}

/// Writes into `*active` whether class `class_index` is currently active (an event has
/// started and not yet ended; for an LED, say).
///
/// # Safety
/// `tagger` is a storage passed to `matpac_tagger_init` (or zeroed); `active` is valid
/// for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_is_active(
    tagger: *const MatpacTagger,
    class_index: u32,
    active: *mut bool,
) -> MatpacStatus {
    // SAFETY: the caller's guarantee for `tagger`.
    let value = unsafe {
        read_tagger(tagger, |runtime, _, _| {
            let class = class_index as usize;
            if class >= runtime.n_classes() {
                return Err(MatpacStatus::ClassOutOfRange);
            }
            Ok(runtime.is_active(class))
        })
    };
    match value {
        // SAFETY: `active` is writable (the caller's guarantee).
        Ok(value) => unsafe { put(active, value) },
        Err(status) => status,
    }
}

/// Writes the name of class `class_index` into `*name` (UTF-8, not NUL-terminated,
/// pointing into the model bytes) and its length in bytes into `*name_len`.
///
/// # Safety
/// `tagger` is a storage passed to `matpac_tagger_init` (or zeroed); `name` and
/// `name_len` are valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_class_name(
    tagger: *const MatpacTagger,
    class_index: u32,
    name: *mut *const c_char,
    name_len: *mut usize,
) -> MatpacStatus {
    if name.is_null() || name_len.is_null() {
        return MatpacStatus::NullPointer;
    }
    // SAFETY: the caller's guarantee for `tagger`.
    let value = unsafe {
        read_tagger(tagger, |runtime, model, _| {
            let class = class_index as usize;
            if class >= runtime.n_classes() {
                return Err(MatpacStatus::ClassOutOfRange);
            }
            class_name(model, class).ok_or(MatpacStatus::ClassOutOfRange)
        })
    };
    let text = match value {
        Ok(text) => text,
        Err(status) => return status,
    };
    // SAFETY: `name` is writable (the caller's guarantee).
    match unsafe { put(name, text.as_ptr().cast()) } {
        // SAFETY: `name_len` is writable (the caller's guarantee).
        MatpacStatus::Ok => unsafe { put(name_len, text.len()) },
        status => status,
    }
}

/// Text into a caller's buffer, keeping one byte for the terminating NUL.
struct TextOut<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for TextOut<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        // `end < buf.len()`: the NUL still fits after the text.
        if end >= self.buf.len() {
            return Err(fmt::Error);
        }
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats with `write` into `buf[0..buf_len]`, NUL-terminated, and writes the text's
/// length (without the NUL) into `*text_len` when it is not NULL.
///
/// # Safety
/// `buf` is valid for writes of `buf_len` bytes; `text_len` is NULL or valid for a write.
unsafe fn write_c_text(
    buf: *mut c_char,
    buf_len: usize,
    text_len: *mut usize,
    write: impl FnOnce(&mut TextOut<'_>) -> fmt::Result,
) -> MatpacStatus {
    if buf.is_null() {
        return MatpacStatus::NullPointer;
    }
    // SAFETY: `buf` is writable for `buf_len` bytes during this call (the caller's
    // guarantee); the slice does not outlive it.
    let bytes = match unsafe { slice_out(buf.cast::<u8>(), buf_len) } {
        Ok(bytes) => bytes,
        Err(status) => return status,
    };
    let mut out = TextOut { buf: bytes, len: 0 };
    if write(&mut out).is_err() {
        if let Some(first) = out.buf.first_mut() {
            *first = 0;
        }
        return MatpacStatus::BufferTooSmall;
    }
    let len = out.len;
    if let Some(nul) = out.buf.get_mut(len) {
        *nul = 0;
    }
    if text_len.is_null() {
        return MatpacStatus::Ok;
    }
    // SAFETY: `text_len` is writable (the caller's guarantee).
    unsafe { put(text_len, len) }
}

/// Writes `event` as one line of `matpac tag --format text` without its `FILE: ` prefix
/// and newline — `onset=1.230 offset=2.450 class=NAME score=0.873` (seconds with
/// millisecond resolution, score in thousandths, formatted from integers so that every
/// target prints the same bytes) — into `buf[0..buf_len]`, NUL-terminated; the text's
/// length without the NUL goes to `*text_len` (may be NULL).
///
/// # Safety
/// `event` is valid for a read and its `class_name` for reads of `class_name_len` bytes;
/// `buf` is valid for writes of `buf_len` bytes; `text_len` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_event_text(
    event: *const MatpacEvent,
    buf: *mut c_char,
    buf_len: usize,
    text_len: *mut usize,
) -> MatpacStatus {
    if event.is_null() {
        return MatpacStatus::NullPointer;
    }
    if !(event as usize).is_multiple_of(align_of::<MatpacEvent>()) {
        return MatpacStatus::Misaligned;
    }
    // SAFETY: non-null and aligned (checked), readable (the caller's guarantee).
    let e = unsafe { event.read() };
    // SAFETY: the name is readable for `class_name_len` bytes (the caller's guarantee).
    let name = match unsafe { slice_in(e.class_name.cast::<u8>(), e.class_name_len) } {
        Ok(bytes) => match core::str::from_utf8(bytes) {
            Ok(name) => name,
            Err(_) => return MatpacStatus::InvalidClassName,
        },
        Err(status) => return status,
    };
    let runtime_event = Event {
        class: e.class_index as usize,
        onset: e.onset,
        offset: e.offset,
        score: e.score,
    };
    // SAFETY: `buf` and `text_len` as the caller guarantees.
    unsafe {
        write_c_text(buf, buf_len, text_len, |out| {
            runtime_event.write_text(out, name, e.sample_rate)
        })
    }
}

/// Writes the last runtime error recorded in `tagger` (by `matpac_tagger_init`,
/// `matpac_tagger_push` or `matpac_tagger_finish`) as English text with its details —
/// e.g. which metadata entry is missing, or how many arena bytes the model needs — into
/// `buf[0..buf_len]`, NUL-terminated (empty if none); the length without the NUL goes to
/// `*text_len` (may be NULL).
///
/// # Safety
/// `tagger` is a storage passed to `matpac_tagger_init` (or zeroed); `buf` is valid for
/// writes of `buf_len` bytes; `text_len` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn matpac_tagger_error_text(
    tagger: *const MatpacTagger,
    buf: *mut c_char,
    buf_len: usize,
    text_len: *mut usize,
) -> MatpacStatus {
    let state = match state_ptr(tagger) {
        Ok(state) => state,
        Err(status) => return status,
    };
    // SAFETY: aligned (checked) and zeroed or initialised (the caller's guarantee).
    let error = match unsafe { phase(state) } {
        // SAFETY: `matpac_tagger_init` wrote `last_error` before any other phase.
        PHASE_READY | PHASE_BUSY | PHASE_FAILED => unsafe { addr_of!((*state).last_error).read() },
        _ => return MatpacStatus::NotInitialized,
    };
    // SAFETY: `buf` and `text_len` as the caller guarantees.
    unsafe {
        write_c_text(buf, buf_len, text_len, |out| match error {
            Some(e) => write!(out, "{e}"),
            None => Ok(()),
        })
    }
}

/// A short English description of `status` (a `matpac_status` value), NUL-terminated,
/// static (never freed). Unknown values get the text `unknown status`.
#[unsafe(no_mangle)]
pub extern "C" fn matpac_status_message(status: i32) -> *const c_char {
    MatpacStatus::ALL
        .iter()
        .find(|s| **s as i32 == status)
        .map_or(c"unknown status", |s| s.message())
        .as_ptr()
}

/// Halts the core in a spin loop (a debugger finds it here). The runtime and this crate
/// are written not to panic (checked accesses, errors as values), so this should never
/// run; the compiler still links the panic paths it cannot prove unreachable, and a
/// `no_std` static library must name a handler. Panics never unwind into C: these
/// targets abort. Only on targets without an OS; hosted targets use std's.
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
