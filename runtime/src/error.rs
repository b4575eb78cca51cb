//! Every way loading or running a model can fail, with messages a user can act on.

use core::fmt;

/// Why a model could not be parsed or run.
///
/// Parsing untrusted bytes returns one of these instead of panicking; so does running a parsed
/// model with buffers of the wrong size.
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not start with the `.aedge` magic.
    BadMagic,
    /// The file was written by a format version this runtime does not read.
    UnsupportedVersion {
        /// Version found in the file.
        found: u16,
        /// Version this runtime reads.
        supported: u16,
    },
    /// The file is shorter than its header says.
    Truncated {
        /// Bytes the header asks for.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The CRC-32 over the file does not match the stored one.
    ChecksumMismatch {
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum computed over the bytes.
        computed: u32,
    },
    /// The container's sections or the postcard-encoded graph cannot be decoded.
    Malformed(&'static str),
    /// The graph decodes but is inconsistent (shapes, parameter sizes, quantization).
    InvalidGraph {
        /// Index of the offending layer, or `u16::MAX` for the model metadata.
        layer: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// A buffer is not aligned as the runtime needs.
    Misaligned {
        /// Which buffer.
        what: &'static str,
        /// Required alignment in bytes.
        align: usize,
    },
    /// The scratch arena is smaller than [`crate::Model::arena_len`].
    ArenaTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// An input or output slice has the wrong number of elements.
    BadLength {
        /// Which argument.
        what: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// An input value is NaN or infinite.
    NonFiniteInput {
        /// Index of the first such value.
        index: usize,
    },
    /// The operation is not available for this model.
    Unsupported(&'static str),
    /// Reading or writing the caller's storage failed (see [`crate::learn::save`]).
    Storage(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BadMagic => write!(f, "not an .aedge model (wrong magic bytes); export the model with `aedge export`"),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "model format version {found} is not supported by this runtime (reads versions 2 to {supported}); re-export the model or upgrade aedge-runtime"
            ),
            Error::Truncated { needed, got } => write!(
                f,
                "model file is truncated: header needs {needed} bytes but only {got} are present; copy the file again"
            ),
            Error::ChecksumMismatch { stored, computed } => write!(
                f,
                "model file is corrupt: checksum {computed:#010x} does not match the stored {stored:#010x}"
            ),
            Error::Malformed(what) => write!(f, "model file is malformed: {what}"),
            Error::InvalidGraph { layer, reason } if layer == u16::MAX => {
                write!(f, "model metadata is invalid: {reason}")
            }
            Error::InvalidGraph { layer, reason } => write!(f, "layer {layer} is invalid: {reason}"),
            Error::Misaligned { what, align } => write!(
                f,
                "{what} must be {align}-byte aligned; use `aedge_runtime::include_model!`, `Arena`, or `AlignedBytes`"
            ),
            Error::ArenaTooSmall { needed, got } => write!(
                f,
                "arena is {got} bytes but the model needs {needed} (see Model::arena_len)"
            ),
            Error::BadLength { what, expected, got } => {
                write!(f, "{what} has {got} elements, the model expects {expected}")
            }
            Error::NonFiniteInput { index } => {
                write!(f, "input value at index {index} is NaN or infinite")
            }
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
            Error::Storage(what) => write!(f, "storage: {what}"),
        }
    }
}

// core's trait, so `?` into `Box<dyn Error>` and error reporters work without std too.
impl core::error::Error for Error {}
