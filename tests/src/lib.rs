//! Cross-crate end-to-end tests live in `tests/tests/`; this library only holds
//! shared fixture helpers.
