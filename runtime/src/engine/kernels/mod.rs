//! Kernels: [`generic`] is the portable scalar reference (int32 accumulation,
//! wrapping like tract's); architecture-specific versions will sit beside it
//! and be property-tested against it.

pub mod generic;
