//! Reading and writing model files on a host (`std` feature). Writes are atomic: a crash or a
//! full disk never leaves a half-written model behind.

use crate::AlignedBytes;
use std::format;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Reads a file into 16-byte aligned memory, ready for [`crate::Model::parse`].
pub fn read(path: impl AsRef<Path>) -> io::Result<AlignedBytes> {
    let path = path.as_ref();
    let bytes = fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    Ok(AlignedBytes::from(bytes))
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed
/// to disk, then renamed over the target.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn writes_atomically_and_reads_aligned() {
        let dir = std::env::temp_dir().join(format!("aedge-fs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.aedge");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second version").unwrap();
        let b = read(&p).unwrap();
        assert_eq!(&b[..], b"second version");
        assert_eq!(b.as_ptr() as usize % 16, 0);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // A write into a missing directory fails cleanly and names the path.
        let e = write_atomic(dir.join("missing/x.aedge"), b"x").unwrap_err();
        assert!(e.to_string().contains("missing"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
