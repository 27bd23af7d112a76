//! Training data: the on-disk feature cache and random crops for pretraining;
//! labelled data sets for the probe ([`dataset`], [`readers`]) and their
//! group-preserving splits ([`splits`]).

pub mod dataset;
pub mod feature_cache;
pub mod readers;
pub mod scenes;
pub mod splits;
