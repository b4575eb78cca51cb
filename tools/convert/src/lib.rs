//! # aedge-convert
//!
//! Model files in and out of aedge's graph IR, without a training framework: ONNX export
//! ([`onnx::to_onnx`]), ONNX import ([`onnx::from_onnx`]), int8 TFLite import
//! ([`tflite::import`], bit-exact with TensorFlow Lite Micro), and what they share — the
//! encoder split of an imported model ([`boundary`]) and tract-onnx as the reference run
//! ([`tract`]).
#![warn(missing_docs)]

pub mod boundary;
pub mod onnx;
pub mod tflite;
pub mod tract;
