//! One module per subcommand.

pub mod bench;
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

/// AUROC of `errors` (one per sample, in order) against the IDX `labels` file: labels in
/// `normal` are normal, all others anomalies.
pub fn auroc_from_labels(labels: &Path, normal: &[u8], errors: &[f32]) -> crate::Result<f64> {
    let l = aedge_trainer::data::read_labels(labels).map_err(|e| e.to_string())?;
    if l.len() < errors.len() {
        return Err(format!(
            "{}: {} labels for {} samples",
            labels.display(),
            l.len(),
            errors.len()
        ));
    }
    let anomalous: Vec<bool> = l[..errors.len()]
        .iter()
        .map(|x| !normal.contains(x))
        .collect();
    aedge_runtime::metrics::auroc(errors, &anomalous)
        .ok_or_else(|| "AUROC needs both normal and anomalous samples".into())
}

/// Reads a `.aedge` file into aligned memory (parse it with [`Model::parse`]).
pub fn read_model(path: &Path) -> crate::Result<AlignedBytes> {
    let bytes = aedge_runtime::fs::read(path).map_err(|e| e.to_string())?;
    Model::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}
