//! Dataset loading. Every parser gives a clear error on malformed files and never panics.

pub mod idx;

pub use idx::{read_idx, read_labels, Idx, IdxError, Images};
