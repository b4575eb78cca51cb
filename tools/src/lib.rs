//! The aedge tools as a library: the cross-target benchmark behind `aedge bench`, the host
//! side of the Cortex-M firmware (build, QEMU, probe-rs, defmt decoding) it shares with the
//! end-to-end tests, the host-vs-target comparison behind `aedge validate`, and the C library
//! behind `aedge generate c`.
#![warn(missing_docs)]

pub mod bench;
pub mod chart;
pub mod clib;
pub mod mcu;
pub mod validate;
