//! Building the large runtime values (front end, feature stream, tagger, model)
//! directly in the caller's storage.
//!
//! Returning a value of several KB through `Result` copies it through each
//! caller's stack frame; a C caller (`matpac-capi`) or a firmware that keeps the
//! tagger in a static then needs several times the value's size in stack once, at
//! start-up. The `init` constructors (`Frontend::init`, `FeatureStream::init`,
//! `Tagger::init`, `Model::parse_in`) instead write each field of a
//! `&mut MaybeUninit<T>` in place and return the initialised `&mut T`; the by-value
//! constructors (`new`, `parse`) are [`build`] over them, so there is one
//! definition of each. Each `init` ends with an exhaustive pattern over its type's
//! fields, so that a field added later fails to compile until `init` writes it.
//!
//! This is the only place besides the DSP intrinsics that allows `unsafe`: writing
//! fields through raw pointers into uninitialised memory, and the `MaybeUninit`
//! view of a field that the nested `init`s take. Every `unsafe` block says why it
//! is sound.
#![allow(unsafe_code)]

use core::mem::MaybeUninit;

/// Runs `init` on a fresh slot and moves the value out: the by-value form of an
/// in-place constructor. `init` must initialise the whole slot before it returns
/// `Ok` with a reference into it (every `init` of this crate does).
pub(crate) fn build<T, E>(
    init: impl for<'s> FnOnce(&'s mut MaybeUninit<T>) -> Result<&'s mut T, E>,
) -> Result<T, E> {
    let mut slot = MaybeUninit::uninit();
    init(&mut slot)?;
    // SAFETY: `init` returned `Ok`, which (its contract above) means it initialised
    // every field of `slot`.
    Ok(unsafe { slot.assume_init() })
}

/// The `MaybeUninit` view of a field of a value under construction, for a nested
/// in-place constructor.
///
/// # Safety
/// `field` points to a field of a live `MaybeUninit` slot that the caller borrows
/// exclusively for `'s`, and no other reference to that field exists meanwhile.
pub(crate) unsafe fn field<'s, T>(field: *mut T) -> &'s mut MaybeUninit<T> {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`; the pointer is valid and
    // exclusive for `'s` (the caller's guarantee), and a `MaybeUninit` may hold
    // uninitialised bytes.
    unsafe { &mut *field.cast::<MaybeUninit<T>>() }
}
