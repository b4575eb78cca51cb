//! Parse arbitrary bytes as a model and, when that succeeds, run every entry point.
//! Inputs whose last byte is even get their checksum recomputed, so the fuzzer explores the
//! graph decoder and validation instead of stopping at the CRC.
#![no_main]

use aedge_runtime::{update_checksum, AlignedBytes, Model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = AlignedBytes::copy_from(data);
    if data.last().is_some_and(|b| b & 1 == 0) {
        update_checksum(&mut bytes);
    }
    let Ok(m) = Model::parse(&bytes) else { return };
    // Keep each run fast; validity, not size, is under test.
    if m.arena_len() > 1 << 20 || m.macs() > 1 << 22 {
        return;
    }
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let x: Vec<f32> = (0..m.input_shape().len()).map(|i| (i % 7) as f32 * 0.3 - 0.5).collect();
    let mut y = vec![0.0; m.output_shape().len()];
    let mut z = vec![0.0; m.latent_shape().len()];
    let _ = m.reconstruct(&x, &mut y, &mut arena);
    let _ = m.encode(&x, &mut z, &mut arena);
    let _ = m.decode(&z, &mut y, &mut arena);
    let _ = m.score(&x, &mut arena);
    let _ = m.denoise(&x, &mut y, &mut arena);
    let _ = m.layers().count();
    // A short arena must be refused, not overrun.
    if m.arena_len() > 0 {
        let short = m.arena_len() - 1;
        assert!(m.reconstruct(&x, &mut y, &mut arena[..short]).is_err());
    }
});
