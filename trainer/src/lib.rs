//! # aedge-trainer
//!
//! The host side of aedge: datasets, the seven autoencoder kinds on burn, training with
//! progress, metrics and resumable checkpoints. Burn types stay inside this crate; models
//! leave it as the runtime's graph IR.
//!
//! Training allocates a large tensor per operation. With glibc's allocator each one is an
//! mmap/munmap pair; a program that trains should install a pooling global allocator such as
//! mimalloc (`#[global_allocator] static A: mimalloc::MiMalloc = mimalloc::MiMalloc;`, as the
//! `aedge` binary and the examples do), which makes dense training about a third faster.
//!
//! On burn-flex (the default CPU backend) the reconstruction loss and its gradient
//! ([`host_loss`]) and the optimiser updates ([`optim`]) run as single vectorised host passes
//! instead of chains of burn ops, and running averages that would turn subnormal are stored as
//! zero ([`host::TINY`]); on GPUs and burn-ndarray the same maths runs as burn ops. Both paths
//! train to the same losses (checked in `tests/kinds.rs`). Convolutions, max pooling and
//! upsampling on burn-flex run aedge's own forward and backward passes ([`host_ops`], checked
//! against burn's ops in `tests/host_ops.rs`).
#![warn(missing_docs)]

pub mod checkpoint;
pub mod corrupt;
pub mod data;
pub mod device;
pub mod export;
pub mod host;
pub mod host_loss;
pub mod host_ops;
pub mod loss;
pub mod model;
pub mod optim;
pub mod parallel;
pub mod parity;
pub mod plot;
pub mod presets;
pub mod recipe;
pub mod train;

pub use device::{device, Backend, DeviceChoice};
pub use train::{train, RunOptions, TrainConfig, Trained};
