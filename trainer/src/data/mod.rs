//! Training data: the on-disk feature cache and random crops for pretraining.

pub mod feature_cache;
