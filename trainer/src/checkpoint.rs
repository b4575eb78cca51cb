//! Checkpoints: the model, the optimiser state and the training state after every epoch, so
//! a killed run resumes exactly where it stopped. Files carry the epoch in their names and
//! `state.json` (written last, atomically) says which epoch is complete.

use crate::model::{AutoEncoder, ModelSpec};
use crate::train::{EpochMetrics, TrainConfig};
use aedge_runtime::fs::write_atomic;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `state.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Epochs completed.
    pub epoch: usize,
    /// The model being trained.
    pub spec: ModelSpec,
    /// The training configuration.
    pub config: TrainConfig,
    /// Metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
}

fn files(dir: &Path, epoch: usize) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("model-{epoch:04}.bpk")),
        dir.join(format!("optim-{epoch:04}.bpk")),
    )
}

/// Saves a checkpoint after `state.epoch` epochs.
pub fn save(
    dir: &Path,
    model: &AutoEncoder,
    optim: &ModuleOptimizer,
    state: &State,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (m, o) = files(dir, state.epoch);
    let model_bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| format!("cannot encode the model: {e:?}"))?;
    let optim_bytes = optim
        .into_bytes()
        .map_err(|e| format!("cannot encode the optimiser: {e:?}"))?;
    write_atomic(&m, &model_bytes).map_err(|e| e.to_string())?;
    write_atomic(&o, &optim_bytes).map_err(|e| e.to_string())?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    write_atomic(dir.join("state.json"), &json).map_err(|e| e.to_string())?;
    // Older epochs are no longer needed once state.json points at this one.
    if state.epoch > 1 {
        let (m0, o0) = files(dir, state.epoch - 1);
        let _ = std::fs::remove_file(m0);
        let _ = std::fs::remove_file(o0);
    }
    Ok(())
}

/// Reads `dir/state.json`; `missing` starts the message when there is none.
fn read_state(dir: &Path, missing: &str) -> Result<State, String> {
    let sp = dir.join("state.json");
    let json = std::fs::read(&sp).map_err(|e| format!("{missing} {}: {e}", dir.display()))?;
    serde_json::from_slice(&json).map_err(|e| match e.classify() {
        // Well-formed JSON of another shape: a checkpoint of another aedge version.
        serde_json::error::Category::Data => format!(
            "{} was written by another version of aedge ({e}); train again with this one",
            sp.display()
        ),
        _ => format!("{} is corrupt: {e}", sp.display()),
    })
}

/// Loads the last complete checkpoint into a freshly built model and optimiser.
pub fn load(
    dir: &Path,
    model: AutoEncoder,
    optim: ModuleOptimizer,
) -> Result<(AutoEncoder, ModuleOptimizer, State), String> {
    let state = read_state(dir, "no checkpoint to resume in")?;
    let (m, o) = files(dir, state.epoch);
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(read(&m)?))
        .map_err(|e| format!("{} is corrupt: {e:?}", m.display()))?;
    let model = model
        .try_load_record(record)
        .map_err(|e| format!("{} does not fit the model: {e:?}", m.display()))?;
    let optim = optim
        .from_bytes(Bytes::from_bytes_vec(read(&o)?))
        .map_err(|e| format!("{} is corrupt: {e:?}", o.display()))?;
    Ok((model, optim, state))
}

/// Loads the model of the last complete checkpoint in `dir` (for export or evaluation), with
/// the training state that describes it.
pub fn load_model(
    dir: &Path,
    device: &burn::tensor::Device,
) -> Result<(AutoEncoder, State), String> {
    let state = read_state(dir, "no checkpoint in")?;
    let (m, _) = files(dir, state.epoch);
    let bytes = std::fs::read(&m).map_err(|e| format!("cannot read {}: {e}", m.display()))?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| format!("{} is corrupt: {e:?}", m.display()))?;
    let model = state
        .spec
        .build(device)?
        .try_load_record(record)
        .map_err(|e| format!("{} does not fit the model: {e:?}", m.display()))?;
    Ok((model, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_of_another_version_says_so_and_a_broken_one_is_corrupt() {
        let dir = std::env::temp_dir().join(format!("aedge-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dev = crate::device(crate::Backend::Flex).unwrap();
        std::fs::write(dir.join("state.json"), r#"{"epoch": "three"}"#).unwrap();
        let e = load_model(&dir, &dev).unwrap_err();
        assert!(e.contains("another version of aedge"), "{e}");
        std::fs::write(dir.join("state.json"), "{\"epoch\": 3,").unwrap();
        let e = load_model(&dir, &dev).unwrap_err();
        assert!(e.contains("is corrupt"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
