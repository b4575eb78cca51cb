//! # aedge-trainer
//!
//! The host side of aedge: datasets, the seven autoencoder kinds on burn, training with
//! progress, metrics and resumable checkpoints. Burn types stay inside this crate; models
//! leave it as the runtime's graph IR.
#![warn(missing_docs)]

pub mod chart;
pub mod checkpoint;
pub mod corrupt;
pub mod data;
pub mod device;
pub mod export;
pub mod import;
pub mod loss;
pub mod model;
pub mod onnx;
pub mod optim;
pub mod parity;
pub mod plot;
pub mod presets;
pub mod train;

pub use device::{device, Backend};
pub use train::{train, RunOptions, TrainConfig, Trained};
