//! Datasets: real parsers with clear errors, and the in-memory [`Dataset`] training uses.

pub mod dataset;
pub mod folder;
pub mod idx;
pub mod series;

pub use dataset::{shuffled, Dataset};
pub use folder::{read_folder, Color, FolderError};
pub use idx::{read_idx, read_labels, Idx, IdxError, Images};
pub use series::{Series, SeriesError};
