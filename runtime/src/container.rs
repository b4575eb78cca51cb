//! The `.aedge` container: a fixed 32-byte header, the postcard-encoded graph, and an aligned
//! weights section.
//!
//! ```text
//! offset  size  field
//! 0       4     magic  b"AEDG"
//! 4       2     format version (u16 LE)
//! 6       2     flags (0)
//! 8       4     graph length (u32 LE); the graph starts at byte 32
//! 12      4     weights offset (u32 LE, a multiple of WEIGHTS_ALIGN)
//! 16      4     weights length (u32 LE)
//! 20      4     file length (u32 LE)
//! 24      4     CRC-32 (IEEE) of the whole file with this field read as zero
//! 28      4     reserved (0)
//! ```

use crate::error::Error;

/// The first four bytes of every `.aedge` file.
pub const MAGIC: [u8; 4] = *b"AEDG";
/// The format version this runtime writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 8;

/// The oldest format version still read: version 3 only added per-tensor requantization
/// (one multiplier and shift for a whole int8 layer), version 4 the optional series record
/// after the layers, version 5 the optional latent record after that and version 6 the series
/// record's range, hold and novelty; version 7 the skip-connection ops (`Save`, `Add`,
/// `Concat`); version 8 the optional pattern record after the latent record. Older files load unchanged (as models without a series or a latent Gaussian,
/// series without the range check or the hold).
pub const MIN_FORMAT_VERSION: u16 = 2;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Alignment of the weights section inside the file. Load the file at an address aligned to
/// this too (see [`crate::AlignedBytes`]) so weights can be read in place.
pub const WEIGHTS_ALIGN: usize = 16;

/// The sections of a checked container.
pub(crate) struct Sections<'a> {
    pub version: u16,
    /// The stored (and verified) CRC-32.
    pub checksum: u32,
    pub graph: &'a [u8],
    pub weights: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// CRC-32 of a file, skipping the checksum field.
pub(crate) fn checksum(file: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&file[..24]);
    h.update(&[0u8; 4]);
    h.update(&file[28..]);
    h.finalize()
}

/// Recomputes the stored checksum of a file edited in place (for tools, tests and fuzzing).
/// Does nothing to buffers shorter than the header.
pub fn update_checksum(file: &mut [u8]) {
    if file.len() >= HEADER_LEN {
        let crc = checksum(file);
        file[24..28].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Checks magic, version, lengths and checksum, and splits the file into its sections.
/// Bytes after the stated file length (flash padding) are ignored.
pub(crate) fn open(bytes: &[u8]) -> Result<Sections<'_>, Error> {
    if bytes.len() < 4 || bytes[..4] != MAGIC {
        return Err(if bytes.len() < 4 && MAGIC.starts_with(bytes) {
            Error::Truncated {
                needed: HEADER_LEN,
                got: bytes.len(),
            }
        } else {
            Error::BadMagic
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(Error::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    }
    let version = u16_at(bytes, 4);
    if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let file_len = u32_at(bytes, 20) as usize;
    if file_len < HEADER_LEN {
        return Err(Error::Malformed(
            "file length in header is smaller than the header",
        ));
    }
    if bytes.len() < file_len {
        return Err(Error::Truncated {
            needed: file_len,
            got: bytes.len(),
        });
    }
    let file = &bytes[..file_len];
    let stored = u32_at(file, 24);
    let computed = checksum(file);
    if stored != computed {
        return Err(Error::ChecksumMismatch { stored, computed });
    }
    if u16_at(file, 6) != 0 || u32_at(file, 28) != 0 {
        return Err(Error::Malformed("reserved header fields are not zero"));
    }
    let graph_len = u32_at(file, 8) as usize;
    let weights_off = u32_at(file, 12) as usize;
    let weights_len = u32_at(file, 16) as usize;
    let graph_end = HEADER_LEN
        .checked_add(graph_len)
        .ok_or(Error::Malformed("graph length overflows"))?;
    if graph_end > weights_off || !weights_off.is_multiple_of(WEIGHTS_ALIGN) {
        return Err(Error::Malformed(
            "weights section overlaps the graph or is unaligned",
        ));
    }
    let weights_end = weights_off
        .checked_add(weights_len)
        .ok_or(Error::Malformed("weights length overflows"))?;
    if weights_end != file_len {
        return Err(Error::Malformed(
            "section lengths do not add up to the file length",
        ));
    }
    Ok(Sections {
        version,
        checksum: stored,
        graph: &file[HEADER_LEN..graph_end],
        weights: &file[weights_off..weights_end],
    })
}

/// Assembles a container from an encoded graph and a weights section.
#[cfg(feature = "alloc")]
pub(crate) fn assemble(graph: &[u8], weights: &[u8]) -> Result<alloc::vec::Vec<u8>, Error> {
    let weights_off = (HEADER_LEN + graph.len()).next_multiple_of(WEIGHTS_ALIGN);
    let file_len = weights_off + weights.len();
    let to_u32 = |n: usize| u32::try_from(n).map_err(|_| Error::Unsupported("models over 4 GiB"));
    let mut out = alloc::vec![0u8; file_len];
    out[..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[8..12].copy_from_slice(&to_u32(graph.len())?.to_le_bytes());
    out[12..16].copy_from_slice(&to_u32(weights_off)?.to_le_bytes());
    out[16..20].copy_from_slice(&to_u32(weights.len())?.to_le_bytes());
    out[20..24].copy_from_slice(&to_u32(file_len)?.to_le_bytes());
    out[HEADER_LEN..HEADER_LEN + graph.len()].copy_from_slice(graph);
    out[weights_off..].copy_from_slice(weights);
    let crc = checksum(&out);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}
