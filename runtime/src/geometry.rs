//! The shape rules: what each op makes of its input shape, and the sliding-window geometry
//! the kernels run with. One copy, used by the parser ([`crate::layer`]), the graph IR and
//! [`Op::output_shape`].

use crate::desc::Op;
use crate::kernels::Window;
use crate::shape::Shape;

/// Why a geometry is invalid (a message for `Error::InvalidGraph` / `BadLayer`).
pub(crate) type Why = &'static str;

fn window_output(len: u16, k: usize, s: usize, before: usize, after: usize) -> Result<u16, Why> {
    if k == 0 || s == 0 {
        return Err("kernel and stride must be at least 1");
    }
    if before >= k || after >= k {
        return Err("padding must be smaller than the kernel");
    }
    let padded = len as usize + before + after;
    if padded < k {
        return Err("kernel is larger than the padded input");
    }
    u16::try_from((padded - k) / s + 1).map_err(|_| "output too large")
}

/// Output height and width of a convolution or pooling window; fills in `win`.
fn sliding(
    win: &mut Window,
    input: Shape,
    kernel: [u8; 2],
    stride: [u8; 2],
    pad: [u8; 4],
) -> Result<(u16, u16), Why> {
    let [kh, kw] = [kernel[0] as usize, kernel[1] as usize];
    let [sh, sw] = [stride[0] as usize, stride[1] as usize];
    let h = window_output(input.h, kh, sh, pad[0] as usize, pad[2] as usize)?;
    let w = window_output(input.w, kw, sw, pad[1] as usize, pad[3] as usize)?;
    win.kernel = [kh, kw];
    win.stride = [sh, sw];
    win.pad = [pad[0] as usize, pad[1] as usize];
    Ok((h, w))
}

/// Output shape and geometry of an op applied to `input`.
pub(crate) fn geometry(op: &Op, input: Shape) -> Result<(Shape, Window), Why> {
    let mut win = Window {
        input,
        output: input,
        kernel: [1, 1],
        stride: [1, 1],
        pad: [0, 0],
    };
    let output = match *op {
        Op::Dense { units } => Shape::vector(units),
        Op::Conv2d {
            out_c,
            kernel,
            stride,
            pad,
        } => {
            let (h, w) = sliding(&mut win, input, kernel, stride, pad)?;
            Shape::new(h, w, out_c)
        }
        Op::DepthwiseConv2d {
            multiplier,
            kernel,
            stride,
            pad,
        } => {
            if multiplier == 0 {
                return Err("depth multiplier must be at least 1");
            }
            let (h, w) = sliding(&mut win, input, kernel, stride, pad)?;
            let c = u16::try_from(input.c as u32 * multiplier as u32)
                .map_err(|_| "too many output channels")?;
            Shape::new(h, w, c)
        }
        Op::MaxPool2d {
            kernel,
            stride,
            pad,
        }
        | Op::AvgPool2d {
            kernel,
            stride,
            pad,
        } => {
            let (h, w) = sliding(&mut win, input, kernel, stride, pad)?;
            Shape::new(h, w, input.c)
        }
        Op::ConvTranspose2d {
            out_c,
            kernel,
            stride,
            pad,
            out,
        } => {
            let [kh, kw] = [kernel[0] as usize, kernel[1] as usize];
            let [sh, sw] = [stride[0] as usize, stride[1] as usize];
            if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
                return Err("kernel and stride must be at least 1");
            }
            if pad[0] as usize >= kh || pad[1] as usize >= kw {
                return Err("padding must be smaller than the kernel");
            }
            // The full (uncropped) output is (in - 1) * stride + kernel; allow up to one extra
            // stride of output padding, as PyTorch's output_padding does.
            let full_h = (input.h as usize - 1) * sh + kh + sh - 1;
            let full_w = (input.w as usize - 1) * sw + kw + sw - 1;
            if out[0] == 0 || out[1] == 0 {
                return Err("output size must be at least 1");
            }
            if out[0] as usize + pad[0] as usize > full_h
                || out[1] as usize + pad[1] as usize > full_w
            {
                return Err("output size is larger than the transposed convolution produces");
            }
            win.kernel = [kh, kw];
            win.stride = [sh, sw];
            win.pad = [pad[0] as usize, pad[1] as usize];
            Shape::new(out[0], out[1], out_c)
        }
        Op::Upsample2d { factor } => {
            let [fh, fw] = [factor[0] as u32, factor[1] as u32];
            if fh == 0 || fw == 0 {
                return Err("upsampling factor must be at least 1");
            }
            let h = u16::try_from(input.h as u32 * fh).map_err(|_| "output too large")?;
            let w = u16::try_from(input.w as u32 * fw).map_err(|_| "output too large")?;
            win.stride = [fh as usize, fw as usize];
            Shape::new(h, w, input.c)
        }
        Op::Reshape { to } => {
            if to.len() != input.len() {
                return Err("reshape must keep the number of elements");
            }
            to
        }
        Op::Activation | Op::Save | Op::Add => input,
        Op::Concat { channels, .. } => {
            if channels == 0 {
                return Err("a concatenated tensor needs at least one channel");
            }
            let c = input
                .c
                .checked_add(channels)
                .ok_or("too many concatenated channels")?;
            Shape::new(input.h, input.w, c)
        }
        Op::Lstm {
            units,
            return_sequences,
        } => {
            if units == 0 {
                return Err("an LSTM needs at least one unit");
            }
            if return_sequences {
                Shape::new(input.h, input.w, units)
            } else {
                Shape::vector(units)
            }
        }
        Op::Repeat { times } => {
            let n = u16::try_from(input.len()).map_err(|_| "repeated vector is too long")?;
            Shape::new(times, 1, n)
        }
    };
    if !output.is_valid() {
        return Err("output shape is empty or too large");
    }
    win.output = output;
    Ok((output, win))
}

// `Op` is described in desc.rs; its shape rule lives here with the geometry it shares with
// the parser, so the description does not depend on the kernels' `Window`.
impl Op {
    /// Output shape of this op applied to `input`, or why the geometry is invalid.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, &'static str> {
        geometry(self, input).map(|(s, _)| s)
    }
}
