//! Sample files, the one reader behind `train`, `export`, `score`, `eval`, `denoise`,
//! `reconstruct` and `encode`: IDX images (`.idx`, `-ubyte`, optionally `.gz`), NumPy
//! (`.npy`, `.npz`), a PNG/JPEG image, a folder of images (sub-folders are classes), the
//! MVTec AD layout (`train/good`, `test/<good|defect>`), raw little-endian f32 (`.f32`) and
//! CSV rows. Values stay in sensor units (pixels 0–255) in HWC order, as the runtime takes
//! them; labels come from IDX, CSV or `.npy` files, or from folder names.

use aedge_trainer::data::{self, read_images, Color, FolderOptions, Images};
use std::path::{Path, PathBuf};

/// Samples of one shape in sensor units, with what is known about them.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Shape of one sample (height, width, channels); `[1, 1, n]` when the file says
    /// nothing but the length.
    pub shape: [usize; 3],
    /// `count × h·w·c` values.
    pub raw: Vec<f32>,
    /// Class of each sample, when the data carries it (class folders).
    pub labels: Option<Vec<u8>>,
    /// Names of the classes, by label, when known.
    pub classes: Vec<String>,
    /// The file of each sample, for folders.
    pub files: Vec<PathBuf>,
    /// Whether the values are 8-bit pixels (IDX, images, `uint8` arrays).
    pub pixels: bool,
    /// What reading changed, to tell the user (resized images, a transposed layout).
    pub notes: Vec<String>,
}

impl Samples {
    /// Values per sample.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.raw.len() / self.dim().max(1)
    }

    /// Sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.raw[i * d..(i + 1) * d]
    }

    /// Every sample as its own vector (what the runtime's entry points take).
    pub fn each(&self) -> Vec<Vec<f32>> {
        (0..self.len()).map(|i| self.sample(i).to_vec()).collect()
    }

    /// The samples whose label is in `keep`, in order.
    pub fn select(&self, keep: &[u8]) -> crate::Result<Samples> {
        let labels = self.labels.as_ref().ok_or("--normal needs labels")?;
        let idx: Vec<usize> = (0..self.len())
            .filter(|&i| keep.contains(&labels[i]))
            .collect();
        let mut raw = Vec::with_capacity(idx.len() * self.dim());
        for &i in &idx {
            raw.extend_from_slice(self.sample(i));
        }
        Ok(Samples {
            raw,
            labels: Some(idx.iter().map(|&i| labels[i]).collect()),
            files: if self.files.is_empty() {
                Vec::new()
            } else {
                idx.iter().map(|&i| self.files[i].clone()).collect()
            },
            ..self.clone()
        })
    }

    /// Label values of the normal classes `names`; `from` names the data in the error when
    /// the samples carry no labels.
    pub fn normal_classes(&self, names: &[String], from: &Path) -> crate::Result<Vec<u8>> {
        if self.labels.is_none() {
            return Err(format!(
                "--normal needs labels: give --labels, or class folders in {}",
                from.display()
            ));
        }
        self.classes_of(names)
    }

    /// Label values of the class names or numbers in `names`.
    pub fn classes_of(&self, names: &[String]) -> crate::Result<Vec<u8>> {
        names
            .iter()
            .map(|n| {
                if let Some(i) = self.classes.iter().position(|c| c == n) {
                    return Ok(i as u8);
                }
                n.parse::<u8>().map_err(|_| {
                    if self.classes.is_empty() {
                        format!("--normal {n}: not a class number (0-255)")
                    } else {
                        format!(
                            "--normal {n}: no such class; classes: {}",
                            self.classes.join(", ")
                        )
                    }
                })
            })
            .collect()
    }
}

/// How to read a path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    /// Image folders and files: size, colour, resize rule.
    pub folder: FolderOptions,
    /// The shape a model takes, when reading its inputs: images are made that size and
    /// colour, and formats without a shape are cut into samples of that many values.
    pub model: Option<[usize; 3]>,
    /// For the MVTec AD layout: the test images (`test/`) rather than the training ones.
    pub test: bool,
}

impl Reading {
    /// Reading the inputs of a model of `shape`.
    pub fn for_model(shape: [usize; 3]) -> Reading {
        let [h, w, c] = shape;
        Reading {
            folder: FolderOptions {
                size: Some((h as u32, w as u32)),
                color: Some(if c == 3 { Color::Rgb } else { Color::Gray }),
                strict_size: false,
            },
            model: Some(shape),
            test: true,
        }
    }
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_image_file(name: &str) -> bool {
    [".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// The folder of an MVTec AD category that holds the part asked for, if `dir` is one.
pub fn mvtec_part(dir: &Path, test: bool) -> Option<PathBuf> {
    let (train, tests) = (dir.join("train").join("good"), dir.join("test"));
    (train.is_dir() && tests.is_dir()).then_some(if test { tests } else { train })
}

/// Reads the samples at `path`.
pub fn read(path: &Path, how: &Reading) -> crate::Result<Samples> {
    let name = lower_name(path);
    let shown = path.display();
    let plain = |shape: [usize; 3], raw: Vec<f32>, pixels: bool| Samples {
        shape,
        raw,
        labels: None,
        classes: Vec::new(),
        files: Vec::new(),
        pixels,
        notes: Vec::new(),
    };
    let s = if path.is_dir() {
        read_folder(path, how)?
    } else if data::is_numpy(path) {
        from_array(path, how)?
    } else if is_image_file(&name) {
        let mut f = read_folder_files(vec![(path.to_path_buf(), None)], Vec::new(), how)?;
        f.files.clear();
        f
    } else if name.ends_with(".f32") {
        let len = shapeless_len(how, path, ".f32")?;
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if bytes.is_empty() || bytes.len() % (4 * len) != 0 {
            return Err(format!(
                "{shown}: {} bytes is not a whole number of {len}-value f32 samples",
                bytes.len()
            ));
        }
        let raw = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        plain(model_or_flat(how, len), raw, false)
    } else if name.ends_with(".csv") {
        let rows = csv_rows(path)?;
        let len = rows[0].len();
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != len) {
            return Err(format!(
                "{shown}: row {} has {} values, the first has {len}",
                i + 1,
                r.len()
            ));
        }
        plain(
            model_or_flat(how, len),
            rows.into_iter().flatten().collect(),
            false,
        )
    } else if name.contains("idx") || name.contains("-ubyte") {
        let im = Images::read(path).map_err(|e| e.to_string())?;
        plain([im.height, im.width, 1], im.pixels, true)
    } else {
        return Err(format!(
            "{shown}: unknown sample format (use IDX images, .npy/.npz, an image or a folder of images, .f32 or .csv)"
        ));
    };
    if s.len() == 0 {
        return Err(format!("{shown}: no samples"));
    }
    if let Some(i) = s.raw.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "{shown}: sample {} holds a value that is not a finite number",
            i / s.dim().max(1)
        ));
    }
    if let Some(shape) = how.model {
        let len: usize = shape.iter().product();
        if s.dim() != len {
            return Err(format!(
                "{shown}: samples of {:?} ({} values); the model takes {:?} ({len})",
                s.shape,
                s.dim(),
                shape
            ));
        }
    }
    Ok(s)
}

/// Reads samples of `len` values each from `path`, one vector per sample (the inputs of a
/// model whose input shape is unknown here, e.g. an ONNX file's).
pub fn load(path: &Path, len: usize) -> crate::Result<Vec<Vec<f32>>> {
    // `read` compares lengths only, so images and arrays keep their own shape.
    read(
        path,
        &Reading {
            model: Some([1, 1, len]),
            ..Reading::default()
        },
    )
    .map(|s| s.each())
}

fn shapeless_len(how: &Reading, path: &Path, what: &str) -> crate::Result<usize> {
    how.model.map(|s| s.iter().product()).ok_or_else(|| {
        format!(
            "{}: {what} files carry no shape; use .npy, IDX or images",
            path.display()
        )
    })
}

fn model_or_flat(how: &Reading, len: usize) -> [usize; 3] {
    match how.model {
        Some(s) if s.iter().product::<usize>() == len => s,
        _ => [1, 1, len],
    }
}

fn folder_err(e: data::FolderError) -> String {
    e.to_string()
}

fn read_folder(dir: &Path, how: &Reading) -> crate::Result<Samples> {
    if let Some(part) = mvtec_part(dir, how.test) {
        let mut s = read_folder(&part, how)?;
        s.notes.push(format!(
            "MVTec AD layout: read {}",
            part.strip_prefix(dir).unwrap_or(&part).display()
        ));
        return Ok(s);
    }
    let f = read_images(dir, how.folder).map_err(folder_err)?;
    Ok(from_folder(f))
}

fn read_folder_files(
    files: Vec<(PathBuf, Option<u8>)>,
    classes: Vec<String>,
    how: &Reading,
) -> crate::Result<Samples> {
    let f = data::read_files(files, classes, how.folder).map_err(folder_err)?;
    Ok(from_folder(f))
}

fn from_folder(f: data::ImageFolder) -> Samples {
    let [h, w, _] = f.shape;
    let notes = if f.resized > 0 {
        vec![format!(
            "{} of {} images resized to {h}x{w} (bilinear, aspect ratio not kept)",
            f.resized,
            f.len()
        )]
    } else {
        Vec::new()
    };
    Samples {
        shape: f.shape,
        raw: f.pixels,
        labels: f.labels,
        classes: f.classes,
        files: f.files,
        pixels: true,
        notes,
    }
}

/// An array's first axis is the sample; the rest is one sample: `(h, w)`, `(h, w, c)`, `(n)`,
/// or PyTorch's `(c, h, w)` (moved to HWC and said so). A model's shape, when given, decides.
fn from_array(path: &Path, how: &Reading) -> crate::Result<Samples> {
    let a = data::read_array(path).map_err(|e| e.to_string())?;
    let shown = path.display();
    let dims = &a.shape;
    let mut notes = Vec::new();
    let (shape, raw) = match dims.as_slice() {
        [] => return Err(format!("{shown}: a scalar is not a set of samples")),
        [n] => {
            // One sample (of the model's length) or a column of one-value samples.
            let len = how.model.map_or(1, |s| s.iter().product());
            if *n == len || how.model.is_none() {
                (model_or_flat(how, len.min(*n).max(1)), a.values)
            } else {
                return Err(format!(
                    "{shown}: an array of {n} values; the model takes samples of {len}"
                ));
            }
        }
        [_, d] => (model_or_flat(how, *d), a.values),
        [_, h, w] => ([*h, *w, 1], a.values),
        [_, c, h, w] if (*c == 1 || *c == 3) && *w != 1 && *w != 3 => {
            notes.push(format!(
                "{shown}: read as (n, channels, height, width) and moved to channels-last"
            ));
            ([*h, *w, *c], chw_to_hwc(&a.values, *c, *h, *w))
        }
        [_, h, w, c] => ([*h, *w, *c], a.values),
        _ => {
            return Err(format!(
                "{shown}: an array of shape {dims:?}; samples are (n, values), (n, h, w) or (n, h, w, c)"
            ))
        }
    };
    let samples = Samples {
        shape,
        raw,
        labels: None,
        classes: Vec::new(),
        files: Vec::new(),
        pixels: a.bytes,
        notes,
    };
    // A model whose shape differs only in layout takes the same values.
    Ok(match how.model {
        Some(m)
            if m != shape && m.iter().product::<usize>() == samples.dim() && m[2] == shape[2] =>
        {
            Samples {
                shape: m,
                ..samples
            }
        }
        _ => samples,
    })
}

fn chw_to_hwc(v: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
    let per = c * h * w;
    let mut out = vec![0.0; v.len()];
    for (src, dst) in v.chunks_exact(per).zip(out.chunks_exact_mut(per)) {
        for ch in 0..c {
            for i in 0..h * w {
                dst[i * c + ch] = src[ch * h * w + i];
            }
        }
    }
    out
}

/// Numeric CSV rows; a first line that is not numbers is a header.
fn csv_rows(path: &Path) -> crate::Result<Vec<Vec<f32>>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let row: std::result::Result<Vec<f32>, _> =
            line.split(',').map(|v| v.trim().parse::<f32>()).collect();
        match row {
            Ok(r) => rows.push(r),
            Err(_) if rows.is_empty() && i == 0 => continue,
            Err(_) => return Err(format!("{shown}:{}: not a row of numbers", i + 1)),
        }
    }
    if rows.is_empty() {
        return Err(format!("{shown}: no samples"));
    }
    Ok(rows)
}

/// Labels from a file: IDX, `.npy` (integers) or CSV (one per line, numbers or class names,
/// an optional header). Returns the labels and, for names, the class names (sorted).
pub fn read_labels(path: &Path) -> crate::Result<(Vec<u8>, Vec<String>)> {
    let shown = path.display();
    let name = lower_name(path);
    if data::is_numpy(path) {
        let a = data::read_array(path).map_err(|e| e.to_string())?;
        if a.shape.len() != 1 && !(a.shape.len() == 2 && a.shape[1] == 1) {
            return Err(format!(
                "{shown}: labels are one integer per sample, not an array of shape {:?}",
                a.shape
            ));
        }
        let l = a
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                (v.fract() == 0.0 && (0.0..=255.0).contains(&v))
                    .then_some(v as u8)
                    .ok_or_else(|| format!("{shown}: label {i} is {v}, not an integer 0-255"))
            })
            .collect::<crate::Result<Vec<u8>>>()?;
        return Ok((l, Vec::new()));
    }
    if name.ends_with(".csv") || name.ends_with(".txt") {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let cells: Vec<&str> = text
            .lines()
            .map(|l| l.split(',').next_back().unwrap_or("").trim())
            .filter(|c| !c.is_empty())
            .collect();
        if cells.is_empty() {
            return Err(format!("{shown}: no labels"));
        }
        // Numbers throughout (a header aside) are class numbers; otherwise class names.
        let body = if cells[0].parse::<u8>().is_err()
            && cells[1..].iter().all(|c| c.parse::<u8>().is_ok())
        {
            &cells[1..]
        } else {
            &cells[..]
        };
        if let Ok(l) = body
            .iter()
            .map(|c| c.parse::<u8>())
            .collect::<Result<Vec<u8>, _>>()
        {
            return Ok((l, Vec::new()));
        }
        let mut classes: Vec<String> = body.iter().map(|c| c.to_string()).collect();
        classes.sort();
        classes.dedup();
        if classes.len() > 256 {
            return Err(format!("{shown}: more than 256 classes"));
        }
        let l = body
            .iter()
            .map(|c| classes.iter().position(|k| k == c).unwrap_or(0) as u8)
            .collect();
        return Ok((l, classes));
    }
    data::read_labels(path)
        .map(|l| (l, Vec::new()))
        .map_err(|e| e.to_string())
}

/// Gives `s` the labels of `path`, which must have one per sample.
pub fn attach_labels(s: &mut Samples, path: &Path) -> crate::Result<()> {
    let (l, classes) = read_labels(path)?;
    if l.len() != s.len() {
        return Err(format!(
            "{}: {} labels for {} samples",
            path.display(),
            l.len(),
            s.len()
        ));
    }
    s.labels = Some(l);
    s.classes = classes;
    Ok(())
}
