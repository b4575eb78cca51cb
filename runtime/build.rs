//! Generates the fixed-point sigmoid and tanh tables of the int8 LSTM kernel, so they are
//! constants in flash rather than data every model file would have to carry and be trusted
//! for; and enables the DSP (SIMD) int8 kernels on Cortex-M cores that have them.

use std::fmt::Write as _;

fn table(name: &str, f: fn(f64) -> f64) -> String {
    // Entry i is f(x) at x = i/16 - 8 (Q3.12 inputs, one entry every 256 steps), in Q0.15.
    let mut s = format!("pub(crate) static {name}: [i16; 257] = [");
    for i in 0..=256 {
        let x = i as f64 / 16.0 - 8.0;
        let v = (f(x) * 32768.0).round().clamp(-32767.0, 32767.0) as i16;
        write!(s, "{v},").unwrap();
    }
    s.push_str("];\n");
    s
}

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("lstm_tables.rs");
    let mut src = table("SIGMOID_Q15", |x| 1.0 / (1.0 + (-x).exp()));
    src += &table("TANH_Q15", f64::tanh);
    std::fs::write(out, src).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
    // Cortex-M cores with the DSP extension get SIMD int8 kernels: every ARMv7E-M core (M4,
    // M7), and ARMv8-M Mainline cores built with it (`-C target-feature=+dsp`, or a
    // `target-cpu` that has it); on M33s without it the SIMD instructions would fault.
    println!("cargo:rustc-check-cfg=cfg(aedge_dsp)");
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let dsp = features.split(',').any(|f| f == "dsp");
    if target.starts_with("thumbv7em") || (target.starts_with("thumbv8m.main") && dsp) {
        println!("cargo:rustc-cfg=aedge_dsp");
    }
}
