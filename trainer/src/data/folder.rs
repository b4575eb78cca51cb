//! Folders of images (PNG, JPEG, PGM/PPM), grayscale or RGB, of one shape (others resized,
//! bilinear, or refused). A folder of sub-folders is a labelled dataset: each sub-folder is a
//! class, in name order.

use super::Dataset;
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

/// Why an image folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder could not be listed.
    #[error("cannot list {path}: {source}")]
    List {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An image could not be decoded.
    #[error("cannot read image {path}: {message}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// No images were found.
    #[error("{path} holds no .png, .jpg, .jpeg, .pgm or .ppm images")]
    Empty {
        /// The folder.
        path: PathBuf,
    },
    /// An image of another size where resizing is off.
    #[error("{path} is {}x{}, not {}x{} like the others (resize is off)", found.0, found.1, expected.0, expected.1)]
    Size {
        /// The file.
        path: PathBuf,
        /// Its height and width.
        found: (u32, u32),
        /// The dataset's.
        expected: (u32, u32),
    },
    /// More than 256 classes (labels are bytes).
    #[error("{path} has more than 256 class folders")]
    TooManyClasses {
        /// The folder.
        path: PathBuf,
    },
}

/// Colour handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// One channel.
    Gray,
    /// Three channels.
    Rgb,
}

/// How a folder of images becomes samples of one shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FolderOptions {
    /// `(height, width)` of every sample; `None`: the first image's size.
    pub size: Option<(u32, u32)>,
    /// Channels; `None`: RGB when the first image has colour, else gray.
    pub color: Option<Color>,
    /// Refuse, rather than resize, an image of another size.
    pub strict_size: bool,
}

/// A folder of images read as pixels (0–255, HWC).
#[derive(Clone, Debug, PartialEq)]
pub struct ImageFolder {
    /// Sample shape (height, width, channels).
    pub shape: [usize; 3],
    /// `len × h·w·c` pixels, 0–255.
    pub pixels: Vec<f32>,
    /// Class of each image (the index of its sub-folder in `classes`), for a folder of
    /// class folders.
    pub labels: Option<Vec<u8>>,
    /// Class names (sub-folder names, in name order); empty for a flat folder.
    pub classes: Vec<String>,
    /// Every image file, in sample order.
    pub files: Vec<PathBuf>,
    /// How many images were resized to `shape`.
    pub resized: usize,
}

impl ImageFolder {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "png" | "jpg" | "jpeg" | "pgm" | "ppm" | "pnm"
        )
    })
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, FolderError> {
    let rd = std::fs::read_dir(dir).map_err(|source| FolderError::List {
        path: dir.into(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

/// Reads every image in `dir` — or, when it holds no images but sub-folders, every image in
/// each sub-folder, labelled by the sub-folder (a class, in name order).
pub fn read_images(dir: &Path, opt: FolderOptions) -> Result<ImageFolder, FolderError> {
    let entries = sorted_entries(dir)?;
    let sub: Vec<&PathBuf> = entries.iter().filter(|p| p.is_dir()).collect();
    let mut files: Vec<(PathBuf, Option<u8>)> = entries
        .iter()
        .filter(|p| is_image(p))
        .map(|p| (p.clone(), None))
        .collect();
    let mut classes = Vec::new();
    if files.is_empty() && !sub.is_empty() {
        if sub.len() > 256 {
            return Err(FolderError::TooManyClasses { path: dir.into() });
        }
        for (label, c) in sub.iter().enumerate() {
            classes.push(
                c.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
            for f in sorted_entries(c)?.into_iter().filter(|p| is_image(p)) {
                files.push((f, Some(label as u8)));
            }
        }
    }
    if files.is_empty() {
        return Err(FolderError::Empty { path: dir.into() });
    }
    read_files(files, classes, opt)
}

/// Reads the images `files` (each with its class, if any) as samples of one shape.
pub fn read_files(
    files: Vec<(PathBuf, Option<u8>)>,
    classes: Vec<String>,
    opt: FolderOptions,
) -> Result<ImageFolder, FolderError> {
    let mut shape: Option<[usize; 3]> = None;
    let mut pixels = Vec::new();
    let mut resized = 0;
    for (path, _) in &files {
        let img = image::open(path).map_err(|e| FolderError::Image {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let [h, w, c] = *shape.get_or_insert_with(|| {
            let (h, w) = opt.size.unwrap_or((img.height(), img.width()));
            let color = opt.color.unwrap_or(if img.color().has_color() {
                Color::Rgb
            } else {
                Color::Gray
            });
            [
                h as usize,
                w as usize,
                if color == Color::Gray { 1 } else { 3 },
            ]
        });
        let img = if (img.height() as usize, img.width() as usize) != (h, w) {
            if opt.strict_size {
                return Err(FolderError::Size {
                    path: path.clone(),
                    found: (img.height(), img.width()),
                    expected: (h as u32, w as u32),
                });
            }
            resized += 1;
            img.resize_exact(w as u32, h as u32, FilterType::Triangle)
        } else {
            img
        };
        if c == 1 {
            pixels.extend(img.to_luma8().into_raw().iter().map(|&p| p as f32));
        } else {
            pixels.extend(img.to_rgb8().into_raw().iter().map(|&p| p as f32));
        }
    }
    let labels = files.iter().map(|(_, l)| *l).collect::<Option<Vec<u8>>>();
    Ok(ImageFolder {
        shape: shape.unwrap_or([0, 0, 1]),
        pixels,
        labels,
        classes,
        files: files.into_iter().map(|(p, _)| p).collect(),
        resized,
    })
}

/// Reads every image in `dir` (or in its class sub-folders), resized to `height × width`, as
/// values in `[0, 1]` (pixels / 255).
pub fn read_folder(
    dir: impl AsRef<Path>,
    height: u32,
    width: u32,
    color: Color,
) -> Result<Dataset, FolderError> {
    let f = read_images(
        dir.as_ref(),
        FolderOptions {
            size: Some((height, width)),
            color: Some(color),
            strict_size: false,
        },
    )?;
    Ok(Dataset {
        shape: f.shape,
        x: f.pixels.iter().map(|p| p / 255.0).collect(),
        labels: f.labels,
        scale: vec![1.0 / 255.0],
        offset: vec![0.0],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_and_class_folders() {
        let root = std::env::temp_dir().join(format!("aedge-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (class, shade) in [("cats", 10u8), ("dogs", 200u8)] {
            std::fs::create_dir_all(root.join(class)).unwrap();
            let img = image::GrayImage::from_pixel(8, 6, image::Luma([shade]));
            img.save(root.join(class).join("a.png")).unwrap();
            image::RgbImage::from_pixel(4, 4, image::Rgb([shade, 0, 0]))
                .save(root.join(class).join("b.ppm"))
                .unwrap();
        }
        let d = read_folder(&root, 3, 4, Color::Gray).unwrap();
        assert_eq!(d.shape, [3, 4, 1]);
        assert_eq!(d.len(), 4);
        assert_eq!(d.labels, Some(vec![0, 0, 1, 1]));
        assert!((d.sample(0)[0] - 10.0 / 255.0).abs() < 1e-6);
        let rgb = read_folder(root.join("dogs"), 2, 2, Color::Rgb).unwrap();
        assert_eq!(
            (rgb.shape, rgb.len(), rgb.labels.clone()),
            ([2, 2, 3], 2, None)
        );
        assert!((rgb.sample(1)[0] - 200.0 / 255.0).abs() < 1e-6 && rgb.sample(1)[1] == 0.0);

        std::fs::write(root.join("dogs").join("broken.png"), b"not a png").unwrap();
        let e = read_folder(root.join("dogs"), 2, 2, Color::Gray)
            .unwrap_err()
            .to_string();
        assert!(e.contains("broken.png"), "{e}");
        std::fs::create_dir_all(root.join("empty")).unwrap();
        assert!(read_folder(root.join("empty"), 2, 2, Color::Gray)
            .unwrap_err()
            .to_string()
            .contains("holds no"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
