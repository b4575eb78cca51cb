//! The aedge tools as a library: the cross-target benchmark behind `aedge bench`, and the
//! host side of the Cortex-M firmware (build, QEMU, probe-rs, defmt decoding) it shares with
//! the end-to-end tests.
#![warn(missing_docs)]

pub mod bench;
pub mod chart;
pub mod mcu;
