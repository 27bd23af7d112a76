//! `matpac`: the command-line entry point.
fn main() {}
