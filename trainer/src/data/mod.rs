//! Datasets: real parsers with clear errors, and the in-memory [`Dataset`] training uses.

pub mod dataset;
pub mod folder;
pub mod idx;
pub mod npy;
pub mod series;

pub use dataset::{shuffled, Dataset};
pub use folder::{
    read_files, read_folder, read_images, Color, FolderError, FolderOptions, ImageFolder,
};
pub use idx::{labels_from_bytes, read_idx, read_idx_bytes, read_labels, Idx, IdxError, Images};
pub use npy::{is_numpy, npy_bytes, npz_bytes, read_array, Array, NpyError};
pub use series::{Series, SeriesError};
