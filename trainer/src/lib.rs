//! # aedge-trainer
//!
//! The host side of aedge: datasets today; training, calibration and export as they land.
#![warn(missing_docs)]

pub mod data;
