//! One module per subcommand.

pub mod denoise;
pub mod eval;
pub mod export;
pub mod import;
pub mod inspect;
pub mod quickstart;
pub mod score;
pub mod train;

use aedge_runtime::{AlignedBytes, Model};
use std::path::Path;

/// Reads a `.aedge` file into aligned memory (parse it with [`Model::parse`]).
pub fn read_model(path: &Path) -> crate::Result<AlignedBytes> {
    let bytes = aedge_runtime::fs::read(path).map_err(|e| e.to_string())?;
    Model::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}
