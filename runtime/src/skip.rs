//! Skip connections: the stack of tensors [`Op::Save`] keeps for a later [`Op::Add`] or
//! [`Op::Concat`]. The parser walks it to check a model's skips nest and match, the planner
//! to size the arena's region for saved tensors, the interpreter to find them.

use crate::desc::{Op, Precision, Quant};
use crate::geometry::Why;
use crate::plan::tensor_bytes;
use crate::shape::Shape;

/// How many saved tensors a model may hold at once (a U-Net of four levels).
pub const MAX_SKIPS: usize = 4;

/// One saved tensor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Saved {
    /// Its shape.
    pub shape: Shape,
    /// Its quantization (int8), else [`Quant::NONE`].
    pub quant: Quant,
    /// Where it starts in the arena's region for saved tensors.
    pub offset: usize,
}

/// The saved tensors, most recent last.
pub(crate) struct Skips {
    precision: Precision,
    saved: [Saved; MAX_SKIPS],
    depth: usize,
}

impl Skips {
    pub(crate) fn new(precision: Precision) -> Self {
        let empty = Saved {
            shape: Shape::new(0, 0, 0),
            quant: Quant::NONE,
            offset: 0,
        };
        Skips {
            precision,
            saved: [empty; MAX_SKIPS],
            depth: 0,
        }
    }

    /// Bytes the saved tensors occupy.
    pub(crate) fn bytes(&self) -> usize {
        match self.depth {
            0 => 0,
            d => {
                let top = self.saved[d - 1];
                top.offset + tensor_bytes(self.precision, top.shape)
            }
        }
    }

    /// How many tensors are saved.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Follows layer `op` on an input of `shape` and `quant`: a `Save` pushes, an `Add` or
    /// `Concat` pops (checking the shapes), anything else leaves the stack as it is.
    pub(crate) fn track(&mut self, op: &Op, shape: Shape, quant: Quant) -> Result<(), Why> {
        match op {
            Op::Save => self.push(shape, quant).map(|_| ()),
            Op::Add | Op::Concat { .. } => self.pop(op, shape).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Saves a tensor of `shape` (its bytes go to the returned offset).
    pub(crate) fn push(&mut self, shape: Shape, quant: Quant) -> Result<Saved, Why> {
        if self.depth == MAX_SKIPS {
            return Err("more than 4 saved tensors at once (skip connections nest at most 4 deep)");
        }
        let s = Saved {
            shape,
            quant,
            offset: self.bytes(),
        };
        self.saved[self.depth] = s;
        self.depth += 1;
        Ok(s)
    }

    /// Takes the most recently saved tensor for `op` (an `Add` or a `Concat`) on an input of
    /// `input`, checking the shapes agree.
    pub(crate) fn pop(&mut self, op: &Op, input: Shape) -> Result<Saved, Why> {
        if self.depth == 0 {
            return Err("Add and Concat need a tensor saved by an earlier Save");
        }
        let s = self.saved[self.depth - 1];
        match *op {
            Op::Add if s.shape != input => {
                return Err("Add needs the saved tensor to have the input's shape")
            }
            Op::Concat { channels, .. }
                if (s.shape.h, s.shape.w, s.shape.c) != (input.h, input.w, channels) =>
            {
                return Err(
                    "Concat needs the saved tensor to have the input's height and width and the channels it names",
                )
            }
            Op::Add | Op::Concat { .. } => {}
            _ => return Err("only Add and Concat take a saved tensor"),
        }
        self.depth -= 1;
        Ok(s)
    }
}
