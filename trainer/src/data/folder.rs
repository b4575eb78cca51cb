//! Folders of images (PNG, JPEG, PGM/PPM), grayscale or RGB, resized to one shape. A folder
//! of sub-folders is a labelled dataset: each sub-folder is a class, in name order.

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
    /// More than 256 classes (labels are bytes).
    #[error("{path} has more than 256 class folders")]
    TooManyClasses {
        /// The folder.
        path: PathBuf,
    },
}

/// Colour handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// One channel.
    Gray,
    /// Three channels.
    Rgb,
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

/// Reads every image in `dir` (or in its class sub-folders), resized to `height × width`, as
/// values in `[0, 1]` (pixels / 255).
pub fn read_folder(
    dir: impl AsRef<Path>,
    height: u32,
    width: u32,
    color: Color,
) -> Result<Dataset, FolderError> {
    let dir = dir.as_ref();
    let entries = sorted_entries(dir)?;
    let classes: Vec<&PathBuf> = entries.iter().filter(|p| p.is_dir()).collect();
    let mut files: Vec<(PathBuf, Option<u8>)> = entries
        .iter()
        .filter(|p| is_image(p))
        .map(|p| (p.clone(), None))
        .collect();
    if files.is_empty() && !classes.is_empty() {
        if classes.len() > 256 {
            return Err(FolderError::TooManyClasses { path: dir.into() });
        }
        for (label, c) in classes.iter().enumerate() {
            for f in sorted_entries(c)?.into_iter().filter(|p| is_image(p)) {
                files.push((f, Some(label as u8)));
            }
        }
    }
    if files.is_empty() {
        return Err(FolderError::Empty { path: dir.into() });
    }
    let channels = if color == Color::Gray { 1 } else { 3 };
    let mut x = Vec::with_capacity(files.len() * (height * width) as usize * channels);
    for (path, _) in &files {
        let img = image::open(path).map_err(|e| FolderError::Image {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let img = img.resize_exact(width, height, FilterType::Triangle);
        match color {
            Color::Gray => x.extend(img.to_luma8().into_raw().iter().map(|&p| p as f32 / 255.0)),
            Color::Rgb => x.extend(img.to_rgb8().into_raw().iter().map(|&p| p as f32 / 255.0)),
        }
    }
    let labels = files.iter().map(|(_, l)| *l).collect::<Option<Vec<u8>>>();
    Ok(Dataset {
        shape: [height as usize, width as usize, channels],
        x,
        labels,
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
