//! `aedge generate rust|c`: the model as source code for a user's own firmware.

use crate::{input, Out, Result};
use aedge_runtime::fs::write_atomic;
use aedge_runtime::{codegen, Model};
use std::path::{Path, PathBuf};

/// Arguments of `aedge generate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    lang: Lang,
}

#[derive(clap::Subcommand)]
enum Lang {
    /// A Rust module: the model bytes (aligned, via include_model!) and ARENA_LEN, the input,
    /// output and code lengths and the threshold as constants, for cortex-m-rt or embassy.
    Rust(RustArgs),
    /// C sources: the model as a const array with a header of sizes, aedge.h (cbindgen) and
    /// libaedge.a (aedge-runtime's C ABI) built for a Cortex-M target.
    C(CArgs),
}

/// Arguments of `aedge generate rust`.
#[derive(clap::Args)]
struct RustArgs {
    /// The .aedge model.
    model: PathBuf,
    /// The folder to write model.rs and model.aedge into (a crate's src/, say).
    #[arg(short, long)]
    output: PathBuf,
}

/// Arguments of `aedge generate c`.
#[derive(clap::Args)]
struct CArgs {
    /// The .aedge model.
    model: PathBuf,
    /// The folder to write into: include/aedge.h, include/model.h, model.c, lib/libaedge.a.
    #[arg(short, long)]
    output: PathBuf,
    /// The Rust target the library is built for: thumbv7em-none-eabihf (Cortex-M4F/M7F),
    /// thumbv6m-none-eabi (M0/M0+) or thumbv8m.main-none-eabihf (M33/M55).
    #[arg(long, default_value = "thumbv7em-none-eabihf")]
    target: String,
    /// Sample inputs to embed as include/inputs.h and inputs.c (a self-test on the device):
    /// IDX images, .npy/.npz, images, .f32 or CSV rows.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Embed at most N of them.
    #[arg(long, default_value_t = 4)]
    count: usize,
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    match a.lang {
        Lang::Rust(r) => rust(r, out),
        Lang::C(args) => c(args, out),
    }
}

fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn write(path: &Path, text: &[u8]) -> Result<()> {
    write_atomic(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn rust(a: RustArgs, out: Out) -> Result<()> {
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    create(&a.output)?;
    write(&a.output.join("model.aedge"), &bytes)?;
    write(
        &a.output.join("model.rs"),
        codegen::rust_module(&m, "model.aedge").as_bytes(),
    )?;
    out.json(serde_json::json!({
        "files": ["model.rs", "model.aedge"],
        "arena_len": m.arena_len(),
    }));
    out.line(format!(
        "wrote {0}/model.rs and {0}/model.aedge ({1} B; arena {2} B)",
        a.output.display(),
        bytes.len(),
        m.arena_len()
    ));
    out.line("use it: mod model; static mut ARENA: aedge_runtime::Arena<{ model::ARENA_LEN }> = …; Model::parse(model::MODEL)?");
    Ok(())
}

fn c(a: CArgs, out: Out) -> Result<()> {
    let bytes = super::read_model(&a.model)?;
    let m = Model::parse(&bytes).map_err(|e| e.to_string())?;
    if a.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let flags = aedge::clib::cflags(&a.target)?;
    // Everything that can fail on the user's input is checked before anything is written.
    let inputs = match &a.inputs {
        Some(p) => {
            let s = m.input_shape();
            let read = input::read(
                p,
                &input::Reading::for_model([s.h as usize, s.w as usize, s.c as usize]),
            )?;
            let n = read.len().min(a.count);
            Some(read.raw[..n * read.dim()].to_vec())
        }
        None => None,
    };
    let capi = aedge::clib::capi_dir()?;
    let header = aedge::clib::header(&capi)?;
    let (include, lib) = (a.output.join("include"), a.output.join("lib"));
    create(&include)?;
    create(&lib)?;
    aedge::clib::build(&capi, &a.target, &lib.join("libaedge.a"))?;
    write(&include.join("aedge.h"), header.as_bytes())?;
    write(
        &include.join("model.h"),
        codegen::c_model_header(&m).as_bytes(),
    )?;
    write(
        &a.output.join("model.c"),
        codegen::c_model_source(&bytes).as_bytes(),
    )?;
    let mut files = vec![
        "include/aedge.h",
        "include/model.h",
        "model.c",
        "lib/libaedge.a",
    ];
    if let Some(x) = &inputs {
        let (h, c) = codegen::c_inputs(x, m.input_shape().len());
        write(&include.join("inputs.h"), h.as_bytes())?;
        write(&a.output.join("inputs.c"), c.as_bytes())?;
        files.extend(["include/inputs.h", "inputs.c"]);
    }
    out.json(serde_json::json!({
        "files": files,
        "target": a.target,
        "cflags": flags,
        "arena_len": m.arena_len(),
    }));
    out.line(format!(
        "wrote {} into {} (library for {}; arena {} B)",
        files.join(", "),
        a.output.display(),
        a.target,
        m.arena_len()
    ));
    out.line(format!(
        "compile with: arm-none-eabi-gcc {flags} -I{0}/include … {0}/model.c -L{0}/lib -laedge",
        a.output.display()
    ));
    Ok(())
}
