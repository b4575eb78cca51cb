//! The latent distance behind [`Metric::Latent`](crate::Metric::Latent): how far a code lies
//! from the Gaussian of normal codes stored in the model's [`LatentDesc`](crate::LatentDesc).

use crate::model::Model;
use crate::run::Activations;

// A second `impl Model` block: the latent score apart from the interpreter in run.rs.
impl Model<'_> {
    /// Squared Mahalanobis distance of `code` per code value; 0 without a latent record.
    /// Summed in f32 in a fixed order, so every target gives the same bits. The record is
    /// decoded here, in this short-lived frame, not held through the forward pass.
    #[inline(never)] // one copy, off the interpreter loop's frame
    pub(crate) fn latent_distance(&self, code: Activations<'_>) -> f32 {
        let Some(l) = self.latent_fit() else {
            return 0.0;
        };
        // parse() checked these blobs and their lengths.
        let mean = self.f32_blob(l.mean).unwrap_or(&[]);
        let basis = self.f32_blob(l.basis).unwrap_or(&[]);
        let inv_var = self.f32_blob(l.inv_var).unwrap_or(&[]);
        let d = mean.len();
        if d == 0 {
            return 0.0;
        }
        let x = |j: usize| -> f32 {
            let v = match code {
                Activations::F32(v) => v[j],
                Activations::Int8(v, q) => q.dequantize(v[j]),
            };
            v - mean[j]
        };
        let mut total = 0.0f32;
        for j in 0..d {
            let v = x(j);
            total += v * v;
        }
        let (mut along, mut explained) = (0.0f32, 0.0f32);
        for (row, &w) in basis.chunks_exact(d).zip(inv_var) {
            let mut p = 0.0f32;
            for (j, &b) in row.iter().enumerate() {
                p += b * x(j);
            }
            let p2 = p * p;
            explained += p2;
            along += p2 * w;
        }
        // The rest of the deviation lies along the directions the record leaves out.
        let rest = if total > explained {
            (total - explained) * l.rest_inv_var
        } else {
            0.0
        };
        (along + rest) / d as f32
    }
}
