//! One file per op family; each runs one lowered [`crate::model::Step`].

pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod output;
pub mod pool;
