//! `derbes bench` (being written).
use crate::app::{AnyError, Common};

/// Benchmark options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Run the benchmarks.
pub async fn run(_common: &Common, _args: BenchArgs) -> Result<(), AnyError> {
    Err("not yet".into())
}
