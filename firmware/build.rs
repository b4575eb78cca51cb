//! Picks the board's memory.x, embeds the model (`AEDGE_MODEL`, default
//! `models/dense-scorer-int8.aedge`) and its sample inputs (`AEDGE_SAMPLES`: raw little-endian
//! f32 values, a whole number of inputs; default `models/mnist4.f32`), and checks on the host
//! that the model parses and that its arena fits the board's RAM.

use aedge_runtime::{AlignedBytes, Model};
use std::env;
use std::fs;
use std::path::PathBuf;

/// (board directory, RAM bytes) by feature.
fn board() -> (&'static str, usize) {
    if env::var_os("CARGO_FEATURE_NRF52840_DK").is_some() {
        ("nrf52840-dk", 256 * 1024)
    } else if env::var_os("CARGO_FEATURE_NUCLEO_L4R5ZI").is_some() {
        ("nucleo-l4r5zi", 640 * 1024)
    } else {
        ("mps2-an386", 4 * 1024 * 1024)
    }
}

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let (board, ram) = board();
    let memory = dir.join("boards").join(board).join("memory.x");
    fs::copy(&memory, out.join("memory.x"))
        .unwrap_or_else(|e| fail(format!("{}: {e}", memory.display())));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AEDGE_MODEL");
    println!("cargo:rerun-if-env-changed=AEDGE_SAMPLES");

    let path = |var: &str, default: &str| {
        env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join(default))
    };
    let model_path = path("AEDGE_MODEL", "models/dense-scorer-int8.aedge");
    let samples_path = path("AEDGE_SAMPLES", "models/mnist4.f32");
    println!("cargo:rerun-if-changed={}", model_path.display());
    println!("cargo:rerun-if-changed={}", samples_path.display());
    let bytes = fs::read(&model_path)
        .unwrap_or_else(|e| fail(format!("AEDGE_MODEL {}: {e}", model_path.display())));
    let aligned = AlignedBytes::from(bytes.clone());
    let model = Model::parse(&aligned)
        .unwrap_or_else(|e| fail(format!("AEDGE_MODEL {}: {e}", model_path.display())));
    let samples = fs::read(&samples_path)
        .unwrap_or_else(|e| fail(format!("AEDGE_SAMPLES {}: {e}", samples_path.display())));
    let input_len = model.input_shape().len();
    // A series model streams samples of one value per channel; others take whole inputs.
    let series = model.series().is_some();
    let sample_len = if series {
        model.input_shape().c as usize
    } else {
        input_len
    };
    if samples.is_empty() || samples.len() % (4 * sample_len) != 0 {
        fail(format!(
            "AEDGE_SAMPLES {} holds {} bytes, not a whole number of {}-value f32 {}",
            samples_path.display(),
            samples.len(),
            sample_len,
            if series {
                "samples (one value per channel)"
            } else {
                "inputs"
            }
        ));
    }
    // The arena, one input, one output and the stream buffer are static; leave 16 KiB for
    // the stack.
    let arena = model.arena_len();
    let stream = if series {
        aedge_runtime::Stream::buffer_len(&model)
    } else {
        0
    };
    let statics = arena + 4 * (input_len + model.output_shape().len() + stream);
    if statics + 16 * 1024 > ram {
        fail(format!(
            "model needs {statics} B of RAM (arena {arena} B + input/output/stream buffers) plus stack; {board} has {ram} B"
        ));
    }
    fs::write(out.join("model.aedge"), &bytes).unwrap();
    fs::write(out.join("samples.f32"), &samples).unwrap();
    // The model's part is what `aedge generate rust` writes for a user's firmware, so every
    // firmware build runs the generated module; the samples are this demo's own.
    let mut src =
        aedge_runtime::codegen::rust_module(&model, &out.join("model.aedge").display().to_string());
    src += &format!(
        "/// Values per embedded sample (a whole input, or one row of a series).\npub const SAMPLE_LEN: usize = {sample_len};\n\
         /// Whether the model is a series model (samples are streamed).\npub const SERIES: bool = {series};\n\
         /// Embedded samples.\npub const SAMPLE_COUNT: usize = {};\n\
         /// Sample inputs, little-endian f32.\npub static SAMPLES: &[u8] = aedge_runtime::include_model!({:?});\n",
        samples.len() / (4 * sample_len),
        out.join("samples.f32").display().to_string(),
    );
    fs::write(out.join("model.rs"), src).unwrap();
}
