//! The aedge tools as a library: the cross-target benchmark behind `aedge bench`, the host
//! side of the Cortex-M firmware (build, QEMU, probe-rs, defmt decoding) it shares with the
//! end-to-end tests, and the host-vs-target comparison behind `aedge validate`.
#![warn(missing_docs)]

pub mod bench;
pub mod chart;
pub mod mcu;
pub mod validate;
