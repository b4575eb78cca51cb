//! The IDX format of the MNIST family (raw or gzip-compressed): a 4-byte magic (two zero
//! bytes, an element type, the number of dimensions), one big-endian u32 per dimension, then
//! the elements in row-major order, big-endian.

use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest element count accepted (guards against corrupt headers and gzip bombs): 2^31.
const MAX_ELEMENTS: u64 = 1 << 31;

/// Why an IDX file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be opened or read (or is not valid gzip).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The magic number is not an IDX magic.
    #[error("{path}: not an IDX file (magic bytes {magic:02x?}); expected e.g. MNIST's *-idx3-ubyte[.gz]")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// The element type code is unknown.
    #[error("{path}: unknown IDX element type {code:#04x}")]
    BadType {
        /// The file.
        path: PathBuf,
        /// The type byte.
        code: u8,
    },
    /// The header describes an empty or absurdly large array.
    #[error("{path}: IDX dimensions {dims:?} are empty or too large")]
    BadDims {
        /// The file.
        path: PathBuf,
        /// The dimensions.
        dims: Vec<u64>,
    },
    /// The data ends before the header's element count.
    #[error("{path}: truncated: header promises {expected} bytes of data, file has {got}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Data bytes expected.
        expected: u64,
        /// Data bytes present.
        got: u64,
    },
    /// There are bytes after the last element.
    #[error("{path}: {extra} unexpected bytes after the data")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// How many (at least).
        extra: u64,
    },
    /// The array does not have the shape the caller needs.
    #[error("{path}: expected {expected}, found dimensions {dims:?}")]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        dims: Vec<usize>,
    },
}

/// An IDX array with its elements converted to f32 (u8 data is kept as bytes too).
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Elements as f32, row-major.
    pub values: Vec<f32>,
    /// The raw elements when the file stores unsigned bytes.
    pub bytes: Option<Vec<u8>>,
}

/// A stack of grayscale images (e.g. MNIST), pixels 0–255.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// Pixels, image after image, row-major, as f32 in 0–255.
    pub pixels: Vec<f32>,
}

impl Images {
    /// Images from the bytes of an idx3 file (gzip-compressed or raw); `origin` names it in
    /// errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self, IdxError> {
        Self::from_idx(read_idx_bytes(bytes, origin)?, origin)
    }

    fn from_idx(a: Idx, path: &Path) -> Result<Self, IdxError> {
        match a.dims[..] {
            [count, height, width] => Ok(Images {
                count,
                height,
                width,
                pixels: a.values,
            }),
            _ => Err(IdxError::WrongShape {
                path: path.into(),
                expected: "images (3 dimensions)",
                dims: a.dims,
            }),
        }
    }

    /// Pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Reads an idx3 image file (`count × height × width`, any element type).
    pub fn read(path: impl AsRef<Path>) -> Result<Self, IdxError> {
        let path = path.as_ref();
        Self::from_idx(read_idx(path)?, path)
    }

    /// Keeps the first `n` images.
    pub fn truncate(&mut self, n: usize) {
        self.count = self.count.min(n);
        self.pixels.truncate(self.count * self.height * self.width);
    }
}

/// Reads labels from an idx1 file of unsigned bytes.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, IdxError> {
    let path = path.as_ref();
    labels_of(read_idx(path)?, path)
}

/// Labels from the bytes of an idx1 file (gzip-compressed or raw).
pub fn labels_from_bytes(bytes: &[u8], origin: &Path) -> Result<Vec<u8>, IdxError> {
    labels_of(read_idx_bytes(bytes, origin)?, origin)
}

fn labels_of(a: Idx, path: &Path) -> Result<Vec<u8>, IdxError> {
    match (&a.dims[..], a.bytes) {
        ([_], Some(b)) => Ok(b),
        _ => Err(IdxError::WrongShape {
            path: path.into(),
            expected: "labels (1 dimension of unsigned bytes)",
            dims: a.dims,
        }),
    }
}

/// Reads an IDX file, gzip-compressed or raw (detected from the content, not the name).
pub fn read_idx(path: impl AsRef<Path>) -> Result<Idx, IdxError> {
    let path = path.as_ref();
    let io_err = |source| IdxError::Io {
        path: path.into(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(io_err)?);
    let mut head = [0u8; 2];
    let n = read_full(&mut file, &mut head).map_err(io_err)?;
    let prefix = io::Cursor::new(head[..n].to_vec());
    if n == 2 && head == [0x1f, 0x8b] {
        parse(path, GzDecoder::new(prefix.chain(file)))
    } else {
        parse(path, prefix.chain(file))
    }
}

/// Parses the bytes of an IDX file, gzip-compressed or raw; `origin` names it in errors.
pub fn read_idx_bytes(bytes: &[u8], origin: &Path) -> Result<Idx, IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse(origin, GzDecoder::new(bytes))
    } else {
        parse(origin, bytes)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Parses an IDX stream.
fn parse(path: &Path, mut r: impl Read) -> Result<Idx, IdxError> {
    let io_err = |source| IdxError::Io {
        path: path.into(),
        source,
    };
    let mut magic = [0u8; 4];
    let got = read_full(&mut r, &mut magic).map_err(io_err)?;
    if got < 4 || magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
        return Err(IdxError::BadMagic {
            path: path.into(),
            magic,
        });
    }
    let size: u64 = match magic[2] {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        code => {
            return Err(IdxError::BadType {
                path: path.into(),
                code,
            })
        }
    };
    let mut dims = Vec::with_capacity(magic[3] as usize);
    for _ in 0..magic[3] {
        let mut d = [0u8; 4];
        if read_full(&mut r, &mut d).map_err(io_err)? < 4 {
            return Err(IdxError::Truncated {
                path: path.into(),
                expected: 4,
                got: 0,
            });
        }
        dims.push(u32::from_be_bytes(d) as u64);
    }
    let count = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&c| c > 0 && c <= MAX_ELEMENTS);
    let Some(count) = count else {
        return Err(IdxError::BadDims {
            path: path.into(),
            dims,
        });
    };
    let expected = count * size;
    let mut data = Vec::with_capacity(expected.min(1 << 28) as usize);
    (&mut r)
        .take(expected)
        .read_to_end(&mut data)
        .map_err(io_err)?;
    if (data.len() as u64) < expected {
        return Err(IdxError::Truncated {
            path: path.into(),
            expected,
            got: data.len() as u64,
        });
    }
    let mut extra = Vec::new();
    r.take(1024).read_to_end(&mut extra).map_err(io_err)?;
    if !extra.is_empty() {
        return Err(IdxError::TrailingBytes {
            path: path.into(),
            extra: extra.len() as u64,
        });
    }
    let values: Vec<f32> = match magic[2] {
        0x08 => data.iter().map(|&b| b as f32).collect(),
        0x09 => data.iter().map(|&b| b as i8 as f32).collect(),
        0x0B => data
            .chunks_exact(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]) as f32)
            .collect(),
        0x0C => data
            .chunks_exact(4)
            .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        0x0D => data
            .chunks_exact(4)
            .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
    };
    Ok(Idx {
        dims: dims.iter().map(|&d| d as usize).collect(),
        values,
        bytes: (magic[2] == 0x08).then_some(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aedge-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn idx(dims: &[u32], ty: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, ty, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn reads_raw_and_gzip() {
        let raw = idx(&[2, 2, 3], 0x08, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        for p in [tmp("a.idx", &raw), tmp("a.idx.gz", &gz.finish().unwrap())] {
            let im = Images::read(&p).unwrap();
            assert_eq!((im.count, im.height, im.width), (2, 2, 3));
            assert_eq!(im.image(1), &[6.0, 7.0, 8.0, 9.0, 10.0, 255.0]);
        }
        let f = idx(&[2], 0x0D, &[0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]);
        assert_eq!(read_idx(tmp("f.idx", &f)).unwrap().values, vec![1.0, -2.0]);
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        let err = |b: &[u8]| read_idx(tmp("bad.idx", b)).unwrap_err().to_string();
        assert!(err(b"\x89PNG....").contains("not an IDX file"));
        assert!(err(&[0, 0, 0x07, 1, 0, 0, 0, 1, 5]).contains("unknown IDX element type"));
        assert!(err(&idx(&[10, 28, 28], 0x08, &[1, 2, 3])).contains("truncated"));
        assert!(err(&idx(&[0], 0x08, &[])).contains("empty or too large"));
        assert!(err(&idx(&[65536, 65536, 2], 0x08, &[])).contains("empty or too large"));
        assert!(err(&idx(&[2], 0x08, &[1, 2, 3])).contains("unexpected bytes"));
        assert!(err(&[0x1f, 0x8b, 1, 2, 3]).contains("bad.idx"));
        assert!(err(&[]).contains("not an IDX file"));
        let labels = tmp("l.idx", &idx(&[3, 1], 0x08, &[1, 2, 3]));
        assert!(read_labels(labels)
            .unwrap_err()
            .to_string()
            .contains("expected labels"));
        assert!(read_idx("/nonexistent/x.idx")
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/x.idx"));
    }
}
