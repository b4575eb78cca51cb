//! The C ABI of aedge-runtime, for C firmware (Zephyr, STM32Cube, nRF Connect SDK): parse a
//! `.aedge` model the application keeps in flash, then score, denoise, reconstruct and encode
//! with a caller-owned arena. No heap, no global state: the parsed model lives in an
//! `AedgeModel` the caller owns. Every function that can fail returns an `AedgeStatus`;
//! `aedge_strerror` names it.
//!
//! `aedge generate c model.aedge -o DIR` builds this crate as a static library for a
//! Cortex-M target and writes its header with cbindgen.
#![no_std]
#![allow(clippy::missing_safety_doc)] // Each function's safety contract is in its C docs.

use aedge_runtime::{Error, Model};
use core::ffi::c_char;
use core::mem::{align_of, size_of};

/// 64-bit words of storage in an `AedgeModel`.
pub const AEDGE_MODEL_WORDS: usize = 64;

/// A parsed model. Opaque: fill it with `aedge_parse`, then pass its address to the other
/// functions. It refers to the model bytes given to `aedge_parse`, which must stay in place
/// and unchanged while it is used.
#[repr(C)]
pub struct AedgeModel {
    opaque: [u64; AEDGE_MODEL_WORDS],
}

// The runtime's `Model` must fit the storage the header promises, on every target.
const _: () = assert!(size_of::<Model<'static>>() <= size_of::<AedgeModel>());
const _: () = assert!(align_of::<Model<'static>>() <= align_of::<AedgeModel>());

/// What a call returned: `AEDGE_OK` or why it failed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AedgeStatus {
    /// Success.
    AedgeOk = 0,
    /// A pointer argument is NULL.
    AedgeErrNull = 1,
    /// The bytes are not a .aedge model (wrong magic).
    AedgeErrBadMagic = 2,
    /// The model was written by a format version this runtime does not read.
    AedgeErrVersion = 3,
    /// The model is shorter than its header says.
    AedgeErrTruncated = 4,
    /// The model's checksum does not match: the bytes were changed or damaged.
    AedgeErrChecksum = 5,
    /// The model's records cannot be decoded.
    AedgeErrMalformed = 6,
    /// The model decodes but is inconsistent (shapes, parameter sizes, quantization).
    AedgeErrInvalidGraph = 7,
    /// The model bytes or the arena are not aligned as needed (16 bytes for the model).
    AedgeErrMisaligned = 8,
    /// The arena is smaller than `aedge_arena_len`.
    AedgeErrArenaTooSmall = 9,
    /// An input or output buffer has the wrong number of values.
    AedgeErrBadLength = 10,
    /// An input value is NaN or infinite.
    AedgeErrNonFinite = 11,
    /// The operation is not available for this model.
    AedgeErrUnsupported = 12,
    /// Reading or writing storage failed.
    AedgeErrStorage = 13,
    /// An error this C ABI does not name yet (a newer runtime).
    AedgeErrOther = 14,
}

fn status(e: &Error) -> AedgeStatus {
    match e {
        Error::BadMagic => AedgeStatus::AedgeErrBadMagic,
        Error::UnsupportedVersion { .. } => AedgeStatus::AedgeErrVersion,
        Error::Truncated { .. } => AedgeStatus::AedgeErrTruncated,
        Error::ChecksumMismatch { .. } => AedgeStatus::AedgeErrChecksum,
        Error::Malformed(_) => AedgeStatus::AedgeErrMalformed,
        Error::InvalidGraph { .. } => AedgeStatus::AedgeErrInvalidGraph,
        Error::Misaligned { .. } => AedgeStatus::AedgeErrMisaligned,
        Error::ArenaTooSmall { .. } => AedgeStatus::AedgeErrArenaTooSmall,
        Error::BadLength { .. } => AedgeStatus::AedgeErrBadLength,
        Error::NonFiniteInput { .. } => AedgeStatus::AedgeErrNonFinite,
        Error::Unsupported(_) => AedgeStatus::AedgeErrUnsupported,
        Error::Storage(_) => AedgeStatus::AedgeErrStorage,
        _ => AedgeStatus::AedgeErrOther,
    }
}

fn done(r: Result<(), Error>) -> AedgeStatus {
    match r {
        Ok(()) => AedgeStatus::AedgeOk,
        Err(e) => status(&e),
    }
}

/// A NUL-terminated description of a status code (also of codes it does not know).
#[no_mangle]
pub extern "C" fn aedge_strerror(status: i32) -> *const c_char {
    let s: &'static [u8] = match status {
        0 => b"success\0",
        1 => b"a pointer argument is NULL\0",
        2 => b"not a .aedge model (wrong magic)\0",
        3 => b"the model's format version is not supported by this runtime\0",
        4 => b"the model is truncated\0",
        5 => b"the model's checksum does not match (changed or damaged bytes)\0",
        6 => b"the model's records cannot be decoded\0",
        7 => b"the model is inconsistent (shapes, parameters or quantization)\0",
        8 => b"the model or the arena is misaligned (the model needs 16 bytes)\0",
        9 => b"the arena is smaller than aedge_arena_len()\0",
        10 => b"an input or output buffer has the wrong number of values\0",
        11 => b"an input value is NaN or infinite\0",
        12 => b"the operation is not available for this model\0",
        13 => b"reading or writing storage failed\0",
        14 => b"an error this C ABI does not name (see the runtime's version)\0",
        _ => b"unknown aedge status\0",
    };
    s.as_ptr().cast()
}

/// One anomaly score.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AedgeScore {
    /// The anomaly score by the model's metric (a reconstruction error in model units, a
    /// latent distance, or their standardised sum).
    pub error: f32,
    /// The model's threshold.
    pub threshold: f32,
    /// `error > threshold`.
    pub anomalous: bool,
}

/// # Safety
/// `m` must be NULL or come from a successful `aedge_parse` whose bytes are still in place.
unsafe fn model_ref<'a>(m: *const AedgeModel) -> Option<&'a Model<'static>> {
    // SAFETY: by the caller's contract the storage holds a `Model` written by `aedge_parse`.
    unsafe { m.cast::<Model<'static>>().as_ref() }
}

/// # Safety
/// `p` must be NULL or point to `len` valid `T`s.
unsafe fn slice<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    // SAFETY: by the caller's contract.
    (!p.is_null()).then(|| unsafe { core::slice::from_raw_parts(p, len) })
}

/// # Safety
/// `p` must be NULL or point to `len` writable `T`s that nothing else uses during the call.
unsafe fn slice_mut<'a, T>(p: *mut T, len: usize) -> Option<&'a mut [T]> {
    // SAFETY: by the caller's contract.
    (!p.is_null()).then(|| unsafe { core::slice::from_raw_parts_mut(p, len) })
}

/// Parses and validates the `len` model bytes at `bytes` (16-byte aligned: put the array in
/// flash with `__attribute__((aligned(16)))`) into `*model`. Every length, shape, offset and
/// quantization parameter is checked here, so the other calls cannot read out of bounds. The
/// bytes must stay in place while `*model` is used.
#[no_mangle]
pub unsafe extern "C" fn aedge_parse(
    bytes: *const u8,
    len: usize,
    model: *mut AedgeModel,
) -> AedgeStatus {
    // SAFETY: `bytes` points to `len` bytes that outlive the model (the caller's contract).
    let Some(b) = (unsafe { slice::<u8>(bytes, len) }) else {
        return AedgeStatus::AedgeErrNull;
    };
    if model.is_null() {
        return AedgeStatus::AedgeErrNull;
    }
    match Model::parse(b) {
        // SAFETY: `model` is valid for writes; the assertions above make `Model` fit.
        Ok(m) => unsafe {
            model.cast::<Model<'static>>().write(m);
            AedgeStatus::AedgeOk
        },
        Err(e) => status(&e),
    }
}

/// Bytes of arena every call on this model needs (aligned to 16 bytes); 0 when `model` is
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn aedge_arena_len(model: *const AedgeModel) -> usize {
    // SAFETY: the caller passes a parsed model (or NULL).
    unsafe { model_ref(model) }.map_or(0, |m| m.arena_len())
}

/// Values in one input, in sensor units; 0 when `model` is NULL.
#[no_mangle]
pub unsafe extern "C" fn aedge_input_len(model: *const AedgeModel) -> usize {
    // SAFETY: the caller passes a parsed model (or NULL).
    unsafe { model_ref(model) }.map_or(0, |m| m.input_shape().len())
}

/// Values in one reconstruction; 0 when `model` is NULL.
#[no_mangle]
pub unsafe extern "C" fn aedge_output_len(model: *const AedgeModel) -> usize {
    // SAFETY: the caller passes a parsed model (or NULL).
    unsafe { model_ref(model) }.map_or(0, |m| m.output_shape().len())
}

/// Values in one code (the encoder's output); 0 when `model` is NULL.
#[no_mangle]
pub unsafe extern "C" fn aedge_code_len(model: *const AedgeModel) -> usize {
    // SAFETY: the caller passes a parsed model (or NULL).
    unsafe { model_ref(model) }.map_or(0, |m| m.latent_shape().len())
}

/// The model's anomaly threshold (NaN when `model` is NULL).
#[no_mangle]
pub unsafe extern "C" fn aedge_threshold(model: *const AedgeModel) -> f32 {
    // SAFETY: the caller passes a parsed model (or NULL).
    unsafe { model_ref(model) }.map_or(f32::NAN, |m| m.threshold())
}

/// Scores one input (`input_len` values in sensor units) against the model's threshold.
#[no_mangle]
pub unsafe extern "C" fn aedge_score(
    model: *const AedgeModel,
    input: *const f32,
    input_len: usize,
    arena: *mut u8,
    arena_len: usize,
    out: *mut AedgeScore,
) -> AedgeStatus {
    // SAFETY: pointers and lengths as documented (the caller's contract).
    let (Some(m), Some(x), Some(a)) = (unsafe {
        (
            model_ref(model),
            slice(input, input_len),
            slice_mut(arena, arena_len),
        )
    }) else {
        return AedgeStatus::AedgeErrNull;
    };
    if out.is_null() {
        return AedgeStatus::AedgeErrNull;
    }
    match m.score(x, a) {
        Ok(s) => {
            // SAFETY: `out` is valid for writes.
            unsafe {
                out.write(AedgeScore {
                    error: s.error,
                    threshold: s.threshold,
                    anomalous: s.anomalous,
                })
            };
            AedgeStatus::AedgeOk
        }
        Err(e) => status(&e),
    }
}

type Buffers<'a> = (&'a Model<'static>, &'a [f32], &'a mut [f32], &'a mut [u8]);

/// The arguments of a call that maps an input to an output, or `None` if one is NULL.
///
/// # Safety
/// Pointers and lengths as the public functions document them.
unsafe fn buffers<'a>(
    model: *const AedgeModel,
    input: *const f32,
    input_len: usize,
    output: *mut f32,
    output_len: usize,
    arena: *mut u8,
    arena_len: usize,
) -> Option<Buffers<'a>> {
    // SAFETY: forwarded from the caller.
    unsafe {
        Some((
            model_ref(model)?,
            slice(input, input_len)?,
            slice_mut(output, output_len)?,
            slice_mut(arena, arena_len)?,
        ))
    }
}

/// The reconstruction of one input (`input_len` values in sensor units) into `output`
/// (`output_len` = `aedge_output_len` values, sensor units).
#[no_mangle]
pub unsafe extern "C" fn aedge_reconstruct(
    model: *const AedgeModel,
    input: *const f32,
    input_len: usize,
    output: *mut f32,
    output_len: usize,
    arena: *mut u8,
    arena_len: usize,
) -> AedgeStatus {
    // SAFETY: pointers and lengths as documented (the caller's contract).
    unsafe {
        buffers(
            model, input, input_len, output, output_len, arena, arena_len,
        )
    }
    .map_or(AedgeStatus::AedgeErrNull, |(m, x, y, a)| {
        done(m.reconstruct(x, y, a))
    })
}

/// One input denoised: its reconstruction in sensor units, clamped to the range the model
/// was trained on (`output_len` = `aedge_output_len`).
#[no_mangle]
pub unsafe extern "C" fn aedge_denoise(
    model: *const AedgeModel,
    input: *const f32,
    input_len: usize,
    output: *mut f32,
    output_len: usize,
    arena: *mut u8,
    arena_len: usize,
) -> AedgeStatus {
    // SAFETY: pointers and lengths as documented (the caller's contract).
    unsafe {
        buffers(
            model, input, input_len, output, output_len, arena, arena_len,
        )
    }
    .map_or(AedgeStatus::AedgeErrNull, |(m, x, y, a)| {
        done(m.denoise(x, y, a))
    })
}

/// The code (latent vector) of one input (`code_len` = `aedge_code_len`).
#[no_mangle]
pub unsafe extern "C" fn aedge_encode(
    model: *const AedgeModel,
    input: *const f32,
    input_len: usize,
    code: *mut f32,
    code_len: usize,
    arena: *mut u8,
    arena_len: usize,
) -> AedgeStatus {
    // SAFETY: pointers and lengths as documented (the caller's contract).
    unsafe { buffers(model, input, input_len, code, code_len, arena, arena_len) }
        .map_or(AedgeStatus::AedgeErrNull, |(m, x, y, a)| {
            done(m.encode(x, y, a))
        })
}

#[cfg(all(target_os = "none", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // The runtime returns errors rather than panicking; should a panic happen anyway, fault
    // so the firmware's HardFault handler sees it instead of a silent hang.
    loop {
        #[cfg(target_arch = "arm")]
        // SAFETY: a permanently undefined instruction: it raises a fault, touches no memory.
        unsafe {
            core::arch::asm!("udf #0")
        };
    }
}
