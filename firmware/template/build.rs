//! Puts the chosen board's memory.x where the linker finds it.

use std::{env, fs, path::PathBuf};

fn main() {
    let board = if env::var_os("CARGO_FEATURE_NRF52840_DK").is_some() {
        "nrf52840-dk"
    } else if env::var_os("CARGO_FEATURE_NUCLEO_L4R5ZI").is_some() {
        "nucleo-l4r5zi"
    } else {
        "mps2-an386"
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let memory = PathBuf::from("boards").join(board).join("memory.x");
    fs::copy(&memory, out.join("memory.x")).expect("boards/<board>/memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rerun-if-changed=build.rs");
}
