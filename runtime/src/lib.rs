//! # aedge-runtime
//!
//! A `no_std` runtime for autoencoders on microcontrollers and hosts: the `.aedge` model
//! format, f32 / f16-weight / int8 kernels, and the entry points an application needs —
//! [`Model::reconstruct`], [`Model::encode`], [`Model::decode`], [`Model::score`] (anomaly
//! detection by reconstruction error against a calibrated threshold) and [`Model::denoise`].
//!
//! Inference needs no heap: [`Model::parse`] borrows the weights from the model bytes (in
//! flash on a device), and the caller passes a scratch arena of exactly
//! [`Model::arena_len`] bytes.
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use aedge_runtime::{ir, AlignedBytes, Arena, Model, Precision, Shape, Activation};
//! // A tiny dense autoencoder 4-2-4 with made-up weights.
//! let mut g = ir::Graph::new("tiny", Shape::vector(4));
//! g.push(ir::Layer::dense(2, vec![0.1; 8], vec![0.0; 2], Activation::Relu));
//! g.push(ir::Layer::dense(4, vec![0.2; 8], vec![0.0; 4], Activation::Sigmoid));
//! g.encoder_layers = 1;
//! let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
//! let model = Model::parse(&bytes).unwrap();
//! let mut arena = Arena::<64>::new();
//! let score = model.score(&[0.1, 0.9, 0.3, 0.5], arena.as_mut_slice()).unwrap();
//! assert!(score.error > 0.0);
//! # }
//! ```
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod aligned;
mod checksum;
mod container;
mod desc;
mod error;
pub mod fixed;
mod geometry;
pub mod kernels;
mod latent;
mod layer;
pub mod learn;
pub mod metrics;
mod model;
pub mod pattern;
mod plan;
pub mod rng;
mod run;
mod scaling;
mod shape;
mod skip;
mod stream;

#[cfg(feature = "alloc")]
pub mod calibrate;
#[cfg(feature = "alloc")]
pub mod codegen;
#[cfg(feature = "std")]
pub mod fs;
#[cfg(feature = "alloc")]
pub mod ir;
#[cfg(feature = "alloc")]
pub mod latent_fit;
#[cfg(feature = "alloc")]
pub mod precisions;
#[cfg(feature = "alloc")]
pub mod qgraph;
#[cfg(feature = "alloc")]
mod writer;
#[cfg(feature = "alloc")]
pub mod zoo;

pub use aligned::{Aligned, AlignedBytes, Arena};
pub use checksum::fnv1a;
pub use container::{
    update_checksum, FORMAT_VERSION, HEADER_LEN, MAGIC, MIN_FORMAT_VERSION, WEIGHTS_ALIGN,
};
pub use desc::{
    Activation, Blob, ErrorStats, LatentDesc, LayerDesc, LayerQuant, Likelihood, Meta, Metric,
    Moments, Op, PatternDesc, Precision, Preprocess, Quant, SeriesDesc, ThresholdRule,
};
pub use error::Error;
pub use learn::Learner;
pub use model::{LayerInfo, Model};
pub use plan::ARENA_ALIGN;
pub use run::{element_error, Activations, Score, ScoreParts};
pub use scaling::Scaling;
pub use shape::{Shape, MAX_ELEMENTS};
pub use skip::MAX_SKIPS;
pub use stream::{Point, Running, Stream, CORROBORATION, FIRM, PATTERN_FLOOR};
