//! Training data for `train` and `export`: IDX images (optionally restricted to some labels,
//! for one-class anomaly models) or a CSV series cut into standardised windows.

use aedge_trainer::data::{read_labels, Dataset, Images, Series};
use std::path::{Path, PathBuf};

/// Where training data comes from.
#[derive(clap::Args, Clone)]
pub struct DataArgs {
    /// IDX images (pixels 0–255) or a CSV series (numeric columns).
    #[arg(long)]
    pub data: PathBuf,
    /// IDX labels for the images; with --normal, keep only those classes.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Classes to keep (one-class anomaly training), e.g. 1 or 0,6.
    #[arg(long, value_delimiter = ',', requires = "labels")]
    pub normal: Vec<u8>,
    /// Window length for CSV series.
    #[arg(long, default_value_t = 24)]
    pub window: usize,
    /// Rows of the series used for the standardisation statistics (the normal part).
    #[arg(long, default_value_t = 2000)]
    pub stats_rows: usize,
}

fn is_csv(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Loads the dataset the arguments describe.
pub fn load(a: &DataArgs) -> crate::Result<Dataset> {
    let d = if is_csv(&a.data) {
        let s = Series::read(&a.data, &[]).map_err(|e| e.to_string())?;
        let (mean, std) = s.stats(a.stats_rows);
        s.windows(a.window, a.window, &mean, &std)?
    } else {
        let im = Images::read(&a.data).map_err(|e| e.to_string())?;
        let labels = match &a.labels {
            Some(p) => {
                let l = read_labels(p).map_err(|e| e.to_string())?;
                if l.len() != im.count {
                    return Err(format!(
                        "{}: {} labels for {} images",
                        p.display(),
                        l.len(),
                        im.count
                    ));
                }
                Some(l)
            }
            None => None,
        };
        let d = Dataset::from_images(&im, labels);
        if a.normal.is_empty() {
            d
        } else {
            d.with_labels(&a.normal)
        }
    };
    if d.is_empty() {
        return Err(format!("{}: no samples to train on", a.data.display()));
    }
    Ok(d)
}
