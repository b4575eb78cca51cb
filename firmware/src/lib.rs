//! Board glue the demos in `src/bin/` share (the knurling-rs app-template shape): the defmt
//! transport and exit ([`board`]), the stack high-water mark ([`stack`]), the instruction or
//! cycle counter ([`timer`]), the model and samples `build.rs` embeds ([`embedded`]), and how
//! a run ends ([`fault`]: exit codes, panic and HardFault handlers).
#![no_std]

pub mod board;
pub mod demo;
pub mod fault;
pub mod stack;
pub mod storage;
pub mod timer;

pub use fault::finish;

#[cfg(all(
    feature = "qemu",
    any(feature = "nrf52840-dk", feature = "nucleo-l4r5zi")
))]
compile_error!("choose one board: `qemu` is a default feature, so pass --no-default-features with a board feature");
#[cfg(all(feature = "nrf52840-dk", feature = "nucleo-l4r5zi"))]
compile_error!("the features nrf52840-dk and nucleo-l4r5zi exclude each other: enable one board");

/// The model and sample inputs embedded at build time (`AEDGE_MODEL`, `AEDGE_SAMPLES`; see
/// `build.rs`), with the sizes the demos' static buffers take.
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

pub use embedded::*;

/// Embedded sample `i` (a whole input, or a series row) into `out`, whose length is the
/// sample's.
pub fn read_sample(i: usize, out: &mut [f32]) {
    let bytes = &SAMPLES[i * 4 * out.len()..][..4 * out.len()];
    for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

/// Writes embedded input `i`, preprocessed (and quantized for int8), straight into the
/// arena's input tensor, as a sensor driver would.
pub fn load_sample(
    model: &aedge_runtime::Model,
    i: usize,
    arena: &mut [u8],
) -> Result<(), aedge_runtime::Error> {
    let scaling = model.scaling();
    let int8 = model.precision() == aedge_runtime::Precision::Int8;
    let q = model.input_quant();
    let input = model.input_mut(arena)?;
    let raw = &SAMPLES[i * 4 * INPUT_LEN..][..4 * INPUT_LEN];
    for (j, b) in raw.chunks_exact(4).enumerate() {
        let x = scaling.to_model(j, f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if int8 {
            input[j] = q.quantize(x) as u8;
        } else {
            input[4 * j..][..4].copy_from_slice(&x.to_ne_bytes());
        }
    }
    Ok(())
}

/// FNV-1a over the bit patterns of `v`.
pub fn checksum(v: &[f32]) -> u32 {
    aedge_runtime::fnv1a(v.iter().flat_map(|x| x.to_bits().to_le_bytes()))
}

/// The bytes of `v`, for logging values exactly.
pub fn as_bytes(v: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and u8 has alignment 1.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast(), core::mem::size_of_val(v)) }
}

/// The precision's name, as the host prints it.
pub fn precision_name(model: &aedge_runtime::Model) -> &'static str {
    match model.precision() {
        aedge_runtime::Precision::F32 => "f32",
        aedge_runtime::Precision::F16 => "f16",
        aedge_runtime::Precision::Int8 => "int8",
    }
}
