//! Arena planning. Activations of a layer chain ping-pong between the two ends of the arena:
//! a layer reads from one end and writes to the other, so the arena only has to hold the
//! largest input + output pair. In-place layers (reshape, activation) cost nothing. Layers
//! with state (LSTM) use the gap between the two tensors as scratch. Tensors saved for skip
//! connections ([`crate::Op::Save`]) sit in a region of their own before the two ends.

use crate::desc::Precision;
use crate::layer::Layer;
use crate::shape::Shape;

/// Alignment the arena passed to inference must have.
pub const ARENA_ALIGN: usize = 4;

/// Bytes of one activation element.
pub(crate) fn elem_size(p: Precision) -> usize {
    match p {
        Precision::F32 | Precision::F16 => 4,
        Precision::Int8 => 1,
    }
}

/// Bytes a tensor occupies in the arena, rounded so both ends stay aligned.
pub(crate) fn tensor_bytes(p: Precision, s: Shape) -> usize {
    (s.len() * elem_size(p)).next_multiple_of(ARENA_ALIGN)
}

/// Scratch bytes rounded so the tensors around them stay aligned.
pub(crate) fn scratch_bytes(n: usize) -> usize {
    n.next_multiple_of(ARENA_ALIGN)
}

/// Where a tensor lives in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Start,
    End,
}

impl Side {
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Start => Side::End,
            Side::End => Side::Start,
        }
    }
}

/// Accumulates the arena size over a layer chain.
pub(crate) struct Planner {
    precision: Precision,
    need: usize,
    saved: usize,
}

impl Planner {
    /// Starts with the (preprocessed) input tensor in the arena.
    pub(crate) fn new(precision: Precision, input: Shape) -> Self {
        Planner {
            precision,
            need: tensor_bytes(precision, input),
            saved: 0,
        }
    }

    /// Accounts for `bytes` of saved tensors held at once.
    pub(crate) fn saved(&mut self, bytes: usize) {
        self.saved = self.saved.max(bytes);
    }

    /// Bytes of the region for saved tensors, at the start of the arena.
    pub(crate) fn saved_len(&self) -> usize {
        self.saved
    }

    /// Accounts for one layer.
    pub(crate) fn add(&mut self, l: &Layer) {
        let out = tensor_bytes(self.precision, l.output);
        let need = if l.in_place() {
            out
        } else {
            tensor_bytes(self.precision, l.input)
                + out
                + scratch_bytes(l.scratch_bytes(self.precision))
        };
        self.need = self.need.max(need);
    }

    /// The exact arena size.
    pub(crate) fn arena_len(&self) -> usize {
        self.saved + self.need
    }
}
