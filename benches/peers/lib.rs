//! Nothing: this crate only holds the parser benchmark with its peers
//! (`benches/parse.rs`, compiled with `cfg(peers)`).
