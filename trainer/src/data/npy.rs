//! NumPy arrays: `.npy` files and `.npz` archives (what numpy, PyTorch and tract users hand
//! around), read into `f32` whatever their numeric dtype, and written as `f32`.

use npyz::npz::NpzArchive;
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why an array could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened or is not a valid `.npy` / `.npz`.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The dtype is not a plain number.
    #[error(
        "{path}: dtype {dtype} is not a number type aedge reads (bool, int, uint, float32/64)"
    )]
    Dtype {
        /// The file.
        path: PathBuf,
        /// numpy's name of the dtype.
        dtype: String,
    },
    /// A Fortran-ordered array.
    #[error("{path}: the array is in Fortran order; save it with np.ascontiguousarray(x)")]
    Fortran {
        /// The file.
        path: PathBuf,
    },
    /// An archive without the array asked for.
    #[error("{path}: no array named '{name}' (the archive holds: {names})")]
    NoArray {
        /// The archive.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names it holds.
        names: String,
    },
    /// An archive of several arrays, none of them named `x`.
    #[error("{path}: the archive holds several arrays ({names}); name the samples' array x")]
    Ambiguous {
        /// The archive.
        path: PathBuf,
        /// The names it holds.
        names: String,
    },
}

/// An array as `f32` values in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// numpy's shape.
    pub shape: Vec<usize>,
    /// The values.
    pub values: Vec<f32>,
    /// Whether the dtype was `uint8` (pixels, by convention 0–255).
    pub bytes: bool,
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> NpyError {
    NpyError::Read {
        path: path.into(),
        message: e.to_string(),
    }
}

fn convert<R: Read>(file: NpyFile<R>, path: &Path) -> Result<Array, NpyError> {
    if file.order() == Order::Fortran {
        return Err(NpyError::Fortran { path: path.into() });
    }
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let DType::Plain(ts) = file.dtype() else {
        return Err(NpyError::Dtype {
            path: path.into(),
            dtype: "a structured dtype".into(),
        });
    };
    let e = |e: std::io::Error| read_err(path, e);
    let size = ts.size_field();
    let values: Vec<f32> = match (ts.type_char(), size) {
        (TypeChar::Float, 4) => file.into_vec::<f32>().map_err(e)?,
        (TypeChar::Float, 8) => conv(file.into_vec::<f64>().map_err(e)?),
        (TypeChar::Uint, 1) => conv(file.into_vec::<u8>().map_err(e)?),
        (TypeChar::Uint, 2) => conv(file.into_vec::<u16>().map_err(e)?),
        (TypeChar::Uint, 4) => conv(file.into_vec::<u32>().map_err(e)?),
        (TypeChar::Uint, 8) => conv(file.into_vec::<u64>().map_err(e)?),
        (TypeChar::Int, 1) => conv(file.into_vec::<i8>().map_err(e)?),
        (TypeChar::Int, 2) => conv(file.into_vec::<i16>().map_err(e)?),
        (TypeChar::Int, 4) => conv(file.into_vec::<i32>().map_err(e)?),
        (TypeChar::Int, 8) => conv(file.into_vec::<i64>().map_err(e)?),
        (TypeChar::Bool, 1) => file
            .into_vec::<bool>()
            .map_err(e)?
            .into_iter()
            .map(|b| b as u8 as f32)
            .collect(),
        _ => {
            return Err(NpyError::Dtype {
                path: path.into(),
                dtype: ts.to_string(),
            })
        }
    };
    if values.len() != shape.iter().product::<usize>() {
        return Err(read_err(path, "the data is shorter than its shape says"));
    }
    Ok(Array {
        shape,
        values,
        bytes: ts.type_char() == TypeChar::Uint && size == 1,
    })
}

/// Numbers of any width as `f32` (large integers round, as a model sees them anyway).
fn conv<T: Copy + num_like::ToF32>(v: Vec<T>) -> Vec<f32> {
    v.into_iter().map(|x| x.to_f32()).collect()
}

mod num_like {
    /// A lossy conversion to `f32`.
    pub trait ToF32 {
        fn to_f32(self) -> f32;
    }
    macro_rules! to_f32 {
        ($($t:ty),*) => {$(impl ToF32 for $t { fn to_f32(self) -> f32 { self as f32 } })*};
    }
    to_f32!(f64, u8, u16, u32, u64, i8, i16, i32, i64);
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Array, NpyError> {
    let bytes = std::fs::read(path).map_err(|e| read_err(path, e))?;
    let file = NpyFile::new(&bytes[..]).map_err(|e| read_err(path, e))?;
    convert(file, path)
}

/// Reads array `name` of a `.npz` archive; without a name, its only array, or the one named
/// `x` (the samples) when it holds several.
pub fn read_npz(path: &Path, name: Option<&str>) -> Result<Array, NpyError> {
    let mut z = NpzArchive::open(path).map_err(|e| read_err(path, e))?;
    let names: Vec<String> = z.array_names().map(str::to_owned).collect();
    let listed = names.join(", ");
    let pick = match name {
        Some(n) => n.to_owned(),
        None if names.len() == 1 => names[0].clone(),
        None if names.iter().any(|n| n == "x") => "x".into(),
        None if names.is_empty() => return Err(read_err(path, "the archive holds no arrays")),
        None => {
            return Err(NpyError::Ambiguous {
                path: path.into(),
                names: listed,
            })
        }
    };
    let array = match z.by_name(&pick).map_err(|e| read_err(path, e))? {
        Some(f) => convert(f, path),
        None => Err(NpyError::NoArray {
            path: path.into(),
            name: pick,
            names: listed,
        }),
    };
    array
}

/// Reads `.npy`, or `.npz` (see [`read_npz`]), by the file's extension.
pub fn read_array(path: &Path) -> Result<Array, NpyError> {
    if is_npz(path) {
        read_npz(path, None)
    } else {
        read_npy(path)
    }
}

/// Whether `path` names a NumPy file (`.npy` or `.npz`).
pub fn is_numpy(path: &Path) -> bool {
    is_npz(path) || has_ext(path, "npy")
}

fn is_npz(path: &Path) -> bool {
    has_ext(path, "npz")
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// `values` as the bytes of a little-endian `float32` `.npy` file of `shape`.
pub fn npy_bytes(shape: &[usize], values: &[f32]) -> Result<Vec<u8>, String> {
    if shape.iter().product::<usize>() != values.len() {
        return Err(format!(
            "{} values do not fill an array of shape {shape:?}",
            values.len()
        ));
    }
    let mut out = Vec::new();
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&dims)
        .writer(&mut out)
        .begin_nd()
        .map_err(|e| e.to_string())?;
    w.extend(values.iter().copied())
        .map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Named `float32` arrays `(name, shape, values)` as the bytes of a `.npz` archive (stored,
/// not compressed: what `np.savez` writes).
pub fn npz_bytes(arrays: &[(&str, &[usize], &[f32])]) -> Result<Vec<u8>, String> {
    let mut zip = npyz::npz::NpzWriter::new(std::io::Cursor::new(Vec::new()));
    for &(name, shape, values) in arrays {
        if shape.iter().product::<usize>() != values.len() {
            return Err(format!(
                "{name}: {} values do not fill an array of shape {shape:?}",
                values.len()
            ));
        }
        let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let options = npyz::zip::write::FileOptions::default()
            .compression_method(npyz::zip::CompressionMethod::Stored);
        let mut w = zip
            .array::<f32>(name, options)
            .and_then(|b| b.default_dtype().shape(&dims).begin_nd())
            .map_err(|e| e.to_string())?;
        w.extend(values.iter().copied())
            .map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    let cursor = zip.zip_writer().finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_arrays_round_trip_and_bad_files_say_why() {
        let dir = std::env::temp_dir().join(format!("aedge-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        let v: Vec<f32> = (0..24).map(|i| i as f32 / 2.0).collect();
        std::fs::write(&p, npy_bytes(&[2, 3, 4], &v).unwrap()).unwrap();
        let a = read_array(&p).unwrap();
        assert_eq!(
            (a.shape.clone(), a.values.clone(), a.bytes),
            (vec![2, 3, 4], v, false)
        );

        std::fs::write(&p, b"\x93NUMPY garbage").unwrap();
        assert!(read_array(&p).unwrap_err().to_string().contains("a.npy"));
        let mut truncated = npy_bytes(&[2, 3], &[1.0; 6]).unwrap();
        truncated.truncate(truncated.len() - 5);
        std::fs::write(&p, truncated).unwrap();
        assert!(read_array(&p).is_err());
        assert!(npy_bytes(&[2, 2], &[1.0; 3]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
