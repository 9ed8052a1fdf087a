//! Engine integration tests over the simulated store (no glommio), plus the
//! direct-I/O tests in `dma.rs`.

mod check;
mod commit_path;
mod common;
mod crash;
mod dma;
mod fanout;
mod kill;
mod limits;
mod metrics;
mod positions;
mod reshard;
mod retention;
mod roundtrip;
