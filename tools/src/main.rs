//! `aedge`: the command line of the aedge toolkit. Each subcommand lives in `cmd/`; sample
//! files are read by `input`, images written by `output`. User errors print one line and exit
//! with code 1 (clap's usage errors exit with 2).

mod baseline;
mod cmd;
mod data;
mod input;
mod nab;
mod output;
mod report;
mod series;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// `train` and `quickstart` allocate and free a tensor per operation; glibc serves blocks this
// large with mmap/munmap, whose page faults and TLB shootdowns cost about a quarter of a dense
// AE's training time. mimalloc keeps them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: option 15 in both its v2 and v3 APIs (the Rust
/// bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for the next allocation instead of returning it to the OS after the
/// purge delay (1 s in the linked mimalloc v3): burn-flex frees multi-MB buffers every
/// training step, and the kernel zeroing them again on the next page fault cost a fifth of a
/// conv AE's training time (perf); keeping them gives +20 % samples/s (keras-denoise, 2-core
/// Xeon). A `MIMALLOC_PURGE_DELAY` in the environment wins.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: an option setter of the linked mimalloc, called before any thread starts.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// Autoencoders from a workstation to a microcontroller.
#[derive(Parser)]
#[command(name = "aedge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Print nothing but errors (and the JSON with --json).
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train a preset or a recipe file on your data (progress, metrics, resumable checkpoint).
    Train(cmd::train::Args),
    /// The built-in recipes; `presets show NAME` prints one as a file to start from.
    Presets(cmd::presets::Args),
    /// A checkpoint → ONNX or .aedge (f32, f16, int8) with a calibrated threshold.
    Export(cmd::export::Args),
    /// Layers, parameters, MACs, flash and arena bytes, threshold of a .aedge model.
    Inspect(cmd::inspect::Args),
    /// Convert an ONNX autoencoder (PyTorch, Keras, …) to a .aedge file.
    Import(cmd::import::Args),
    /// Reconstruction errors and anomaly verdicts of samples (AUROC with labels).
    Score(cmd::score::Args),
    /// Denoise images: any sample file in, a PNG out.
    Denoise(cmd::denoise::Args),
    /// Reconstructions in sensor units: .npy, .npz, CSV or PNG out.
    Reconstruct(cmd::reconstruct::Args),
    /// Codes (latent vectors) of samples: .npy, .npz or CSV out.
    Encode(cmd::reconstruct::Args),
    /// Error distribution, AUROC with labels, denoising PSNR with --noise.
    Eval(cmd::eval::Args),
    /// The main job on the bundled MNIST sample: train, export, evaluate, report.html.
    Quickstart(cmd::quickstart::Args),
    /// The model on a target (QEMU, a board, or this host's portable kernels) vs this host:
    /// bit-exactness layer by layer, verdicts, instructions, arena and stack.
    Validate(cmd::validate::Args),
    /// The model as source for your firmware: a Rust module, or C sources with aedge.h and
    /// libaedge.a for a Cortex-M target.
    Generate(cmd::generate::Args),
    /// A firmware project of your own from the template, with your model in it.
    New(cmd::new::Args),
    /// The same model on CPU (aedge-runtime vs tract), GPU (burn-wgpu) and MCU (QEMU, board).
    Bench(cmd::bench::Args),
}

/// Output settings shared by all subcommands.
#[derive(Clone, Copy)]
pub struct Out {
    /// JSON on stdout.
    pub json: bool,
    /// No text output.
    pub quiet: bool,
}

impl Out {
    /// Prints a text line unless quiet or JSON.
    pub fn line(&self, s: impl AsRef<str>) {
        if !self.quiet && !self.json {
            println!("{}", s.as_ref());
        }
    }

    /// Prints the JSON value when asked for.
    pub fn json(&self, v: serde_json::Value) {
        if self.json {
            println!("{v:#}");
        }
    }
}

/// A user-facing error: one line.
pub type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let out = Out {
        json: cli.json,
        quiet: cli.quiet,
    };
    let r = match cli.command {
        Command::Train(a) => cmd::train::run(a, out),
        Command::Presets(a) => cmd::presets::run(a, out),
        Command::Export(a) => cmd::export::run(a, out),
        Command::Inspect(a) => cmd::inspect::run(a, out),
        Command::Import(a) => cmd::import::run(a, out),
        Command::Score(a) => cmd::score::run(a, out),
        Command::Denoise(a) => cmd::denoise::run(a, out),
        Command::Reconstruct(a) => cmd::reconstruct::run(a, cmd::reconstruct::Part::Whole, out),
        Command::Encode(a) => cmd::reconstruct::run(a, cmd::reconstruct::Part::Encoder, out),
        Command::Eval(a) => cmd::eval::run(a, out),
        Command::Quickstart(a) => cmd::quickstart::run(a, out),
        Command::Bench(a) => cmd::bench::run(a, out),
        Command::Validate(a) => cmd::validate::run(a, out),
        Command::Generate(a) => cmd::generate::run(a, out),
        Command::New(a) => cmd::new::run(a, out),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
