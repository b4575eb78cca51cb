//! Convolution on hosts as a small matrix product per output pixel.
//!
//! The model file keeps convolution weights as `[out_c][kh][kw][in_c]`, the layout the
//! microcontroller kernels read in place. On a host with `std` there is stack to spare, so a
//! layer call first repacks the weights of up to a panel of output channels *output-major*
//! (`[tap][8 channels]`, taps in `[kh][kw][in_c]` order; int8: `[ky][quad][channel][4 taps]`,
//! [`PanelI8`]), then reads each output pixel's receptive field — f32: in place for interior
//! pixels, else copied into one column with the padding filled with a value that contributes
//! nothing; int8: from a copy of the input padded once ([`Padded`]) — and forms eight channels
//! per vector instruction, with no horizontal reduction. Layers too large for the stack
//! buffers fall back to the in-place kernels.
//!
//! f32: the sum of each output is taken over four interleaved tap groups, then combined, so
//! results differ from the in-place kernel (used without `std`, e.g. on the device) by
//! rounding only; a given build always gives the same bits. int8: exact integer sums, the same
//! bits as every other path.

use crate::desc::Activation;
use crate::kernels::activation::activate;
use crate::kernels::dot::float::dot_rows;
use crate::kernels::{conv_range, Requant, Weight, Window};
use core::mem::MaybeUninit;

/// Output channels per vector.
pub(super) const LANES: usize = 8;
/// Taps (`kh · kw · in_c`) a layer may have.
pub(super) const MAX_TAPS: usize = 2304;
/// Kernel rows a layer may have.
pub(super) const MAX_KH: usize = 16;
/// Fewest output channels for which the f32 panels beat the in-place kernel.
const MIN_F32_CHANNELS: usize = 6;
/// f32 weights in one packed panel (36 KB).
const PANEL_F32: usize = MAX_TAPS * 4;

/// Initialises `buf` to `v` and returns it as a plain slice: the stack buffers are large and
/// only the part a layer uses is ever written, so they are not zeroed up front.
#[inline(always)]
pub(super) fn filled<T: Copy>(buf: &mut [MaybeUninit<T>], v: T) -> &mut [T] {
    for b in buf.iter_mut() {
        b.write(v);
    }
    // SAFETY: every element was just written; MaybeUninit<T> has T's layout.
    unsafe { &mut *(buf as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// Input bytes a padded int8 copy may hold (64 KB); larger inputs use the in-place kernel.
pub(super) const MAX_PADDED: usize = 1 << 16;

/// An int8 input copied once with its padding around it (and each value XORed with `flip`,
/// 0 or -128 for kernels that take unsigned bytes), so every window of the layer lies inside
/// it: a pixel's kernel rows are then plain offsets, with no border cases per pixel.
pub(super) struct Padded<'a> {
    x: &'a [i8],
    /// Values per padded row.
    row: usize,
    /// Values between horizontally neighbouring windows.
    step: usize,
    /// Values between vertically neighbouring windows.
    step_y: usize,
    kh: usize,
}

impl<'a> Padded<'a> {
    /// Copies `x` of geometry `g` into `buf`, padded with `fill` (the flipped zero point),
    /// with `slack` readable values past the last window row (a kernel reading whole quads).
    /// `None` when the copy would not fit in `buf`.
    #[inline(always)]
    pub fn new(
        x: &[i8],
        g: &Window,
        (fill, flip): (i8, i8),
        slack: usize,
        buf: &'a mut [MaybeUninit<i8>],
    ) -> Option<Self> {
        let ([ih, iw, ic], [oh, ow, _]) = g.sizes();
        let [kh, kw] = g.kernel;
        let [sy, sx] = g.stride;
        let ph = (ih + g.pad[0]).max((oh.max(1) - 1) * sy + kh);
        let pw = (iw + g.pad[1]).max((ow.max(1) - 1) * sx + kw);
        let len = ph * pw * ic + slack;
        if len > buf.len() {
            return None;
        }
        let xp = filled(&mut buf[..len], fill);
        for (iy, src) in x.chunks_exact(iw * ic).take(ih).enumerate() {
            let dst = &mut xp[((iy + g.pad[0]) * pw + g.pad[1]) * ic..][..iw * ic];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v ^ flip;
            }
        }
        Some(Self {
            x: xp,
            row: pw * ic,
            step: sx * ic,
            step_y: sy * pw * ic,
            kh,
        })
    }

    /// Sets `rows[..kh]` to where the kernel rows of output `(oy, ox)` start; each is valid
    /// for the kernel row's values plus the slack.
    #[inline(always)]
    pub fn rows(&self, (oy, ox): (usize, usize), rows: &mut [*const i8; MAX_KH]) {
        let base = &self.x[oy * self.step_y + ox * self.step..];
        for (ky, r) in rows.iter_mut().enumerate().take(self.kh) {
            *r = base[ky * self.row..].as_ptr();
        }
    }
}

/// int8 weights in one packed panel (36 KB).
pub(super) const PANEL_I8: usize = MAX_TAPS * 16;
/// Output channels in one int8 panel.
pub(super) const PANEL_CHANNELS: usize = 512;

/// One panel of int8 weights in the hosts' quad layout, as the x86 and aarch64 kernels read
/// it, with each channel's folded bias, multiplier and shift.
pub(super) struct PackedI8<'a> {
    /// `[block][ky][quad][channel][4 taps]`, each kernel row padded with zero weights to
    /// whole quads.
    pub weights: &'a [i8],
    /// `bias - fold · Σw` per channel (0 past the layer's channels).
    pub bias: &'a [i32],
    /// Multiplier per channel (past the layer's channels, its last channel's).
    pub mult: &'a [i32],
    /// Shift per channel (likewise).
    pub shift: &'a [i32],
}

/// Stack room for one [`PackedI8`] panel.
pub(super) struct PanelI8 {
    weights: [MaybeUninit<i8>; PANEL_I8],
    bias: [MaybeUninit<i32>; PANEL_CHANNELS],
    mult: [MaybeUninit<i32>; PANEL_CHANNELS],
    shift: [MaybeUninit<i32>; PANEL_CHANNELS],
}

impl PanelI8 {
    /// Uninitialised room (nothing is zeroed up front).
    #[inline(always)]
    pub fn new() -> Self {
        Self {
            weights: [MaybeUninit::uninit(); PANEL_I8],
            bias: [MaybeUninit::uninit(); PANEL_CHANNELS],
            mult: [MaybeUninit::uninit(); PANEL_CHANNELS],
            shift: [MaybeUninit::uninit(); PANEL_CHANNELS],
        }
    }

    /// Blocks of [`LANES`] output channels a panel holds for kernel rows of `row_len` taps.
    pub fn blocks(g: &Window, row_len: usize) -> usize {
        (PANEL_I8 / (g.kernel[0] * row_len * LANES)).min(PANEL_CHANNELS / LANES)
    }

    /// Packs blocks `first..first + nb` of `w` (`[out_c][kh][kw][in_c]`); `fold` is the value
    /// each padded or input position is offset by (the kernel adds `fold · Σw` back through
    /// the bias).
    #[inline(always)]
    pub fn pack<'p>(
        &'p mut self,
        w: &[i8],
        g: &Window,
        q: &Requant,
        (first, nb): (usize, usize),
        row_len: usize,
        fold: i32,
    ) -> PackedI8<'p> {
        let oc = g.output.c as usize;
        let row = g.kernel[1] * g.input.c as usize;
        let taps = g.kernel[0] * row;
        let block = g.kernel[0] * row_len * LANES;
        let weights = filled(&mut self.weights[..nb * block], 0);
        let bias = filled(&mut self.bias[..nb * LANES], 0);
        // Written once per panel: vectors loaded right after scalar stores would stall.
        let mult = filled(&mut self.mult[..nb * LANES], 0);
        let shift = filled(&mut self.shift[..nb * LANES], 0);
        for (i, (m, s)) in mult.iter_mut().zip(shift.iter_mut()).enumerate() {
            (*m, *s) = q.channel((first * LANES + i).min(oc - 1));
        }
        for (bi, dst) in weights.chunks_exact_mut(block).enumerate() {
            for j in 0..LANES.min(oc - (first + bi) * LANES) {
                let o = (first + bi) * LANES + j;
                let mut sum = 0i32;
                for (ky, src) in w[o * taps..][..taps].chunks_exact(row).enumerate() {
                    let dr = &mut dst[ky * row_len * LANES..][..row_len * LANES];
                    for (t, &v) in src.iter().enumerate() {
                        dr[(t / 4) * 4 * LANES + j * 4 + t % 4] = v;
                        sum += v as i32;
                    }
                }
                bias[bi * LANES + j] = q.bias[o].wrapping_sub(fold.wrapping_mul(sum));
            }
        }
        PackedI8 {
            weights,
            bias,
            mult,
            shift,
        }
    }
}

/// Where the kernel rows of output `(oy, ox)` start: in `x` itself when the whole window
/// lies inside the input and `row_len` values from each row start are in bounds (the
/// interior, nearly every pixel), else in `col`, filled here with the window's values and
/// `fill` for the padding (each row `row_len` long, values past `kw · ic` are `fill` too).
/// Each of the first `kh` pointers is then valid for `row_len` reads while `x` and `col` are
/// neither dropped nor written. (Raw pointers, so the array is set up once per layer.)
#[inline(always)]
pub(super) fn window_rows<T: Copy>(
    x: &[T],
    g: &Window,
    (oy, ox): (usize, usize),
    row_len: usize,
    fill: T,
    col: &mut [T],
    rows: &mut [*const T; MAX_KH],
) {
    let ([ih, iw, ic], _) = g.sizes();
    let [kh, kw] = g.kernel;
    let (ky_lo, ky_hi, iy0) = conv_range(oy, g.stride[0], g.pad[0], kh, ih);
    let (kx_lo, kx_hi, ix0) = conv_range(ox, g.stride[1], g.pad[1], kw, iw);
    let inside = ky_lo == 0 && ky_hi == kh && kx_lo == 0 && kx_hi == kw;
    if inside && ((iy0 + kh - 1) * iw + ix0) * ic + row_len <= x.len() {
        for (ky, r) in rows.iter_mut().enumerate().take(kh) {
            *r = x[((iy0 + ky) * iw + ix0) * ic..][..row_len].as_ptr();
        }
        return;
    }
    let col = &mut col[..kh * row_len];
    col.fill(fill);
    for ky in ky_lo..ky_hi {
        let iy = iy0 + (ky - ky_lo);
        let (lo, hi) = (kx_lo * ic, kx_hi * ic);
        col[ky * row_len + lo..ky * row_len + hi]
            .copy_from_slice(&x[(iy * iw + ix0) * ic..][..hi - lo]);
    }
    for (r, c) in rows.iter_mut().zip(col.chunks_exact(row_len)) {
        *r = c.as_ptr();
    }
}

/// The `kh` rows of `row_len` values set by [`window_rows`].
///
/// # Safety
/// `rows` must come from [`window_rows`] with this `row_len`, its `x` and `col` still alive
/// and unchanged.
#[inline(always)]
pub(super) unsafe fn row_slices<T>(
    rows: &[*const T],
    row_len: usize,
) -> impl Iterator<Item = &[T]> {
    // SAFETY: the caller's contract.
    rows.iter()
        .map(move |&p| unsafe { core::slice::from_raw_parts(p, row_len) })
}

/// f32 (and f16-weight) 2-D convolution through packed panels. Returns false, having
/// written nothing, when the layer exceeds the stack buffers.
#[inline(always)]
pub(crate) fn conv2d_f32<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    g: &Window,
    act: Activation,
    y: &mut [f32],
) -> bool {
    let oc = g.output.c as usize;
    let [kh, kw] = g.kernel;
    let row = kw * g.input.c as usize;
    let taps = kh * row;
    if taps == 0 || taps > MAX_TAPS || kh > MAX_KH || oc == 0 {
        return false;
    }
    // With few output channels most lanes would idle: one long dot product per output.
    if oc < MIN_F32_CHANNELS {
        return narrow_f32(x, w, b, g, act, y);
    }
    let blocks = oc.div_ceil(LANES);
    let per_panel = PANEL_F32 / (taps * LANES);
    let mut panel_buf = [MaybeUninit::<f32>::uninit(); PANEL_F32];
    let mut col_buf = [MaybeUninit::<f32>::uninit(); MAX_TAPS];
    let col = filled(&mut col_buf[..taps], 0.0);
    let mut first = 0;
    while first < blocks {
        let nb = per_panel.min(blocks - first);
        let panel = filled(&mut panel_buf[..nb * taps * LANES], 0.0);
        for (bi, dst) in panel.chunks_exact_mut(taps * LANES).enumerate() {
            for j in 0..LANES.min(oc - (first + bi) * LANES) {
                let o = (first + bi) * LANES + j;
                for (t, v) in w[o * taps..][..taps].iter().enumerate() {
                    dst[t * LANES + j] = v.to_f32();
                }
            }
        }
        // A first layer on one input channel has 3-tap rows: with the length known, the tap
        // loop unrolls and the accumulators stay in registers.
        let run = Panels {
            x,
            b,
            g,
            panel,
            first,
            taps,
        };
        match row {
            3 => run.pixels::<3>(col, y),
            _ => run.pixels::<0>(col, y),
        }
        first += nb;
    }
    // Once over the whole output: a tight loop per activation the compiler can vectorise.
    activate(y, act);
    true
}

/// f32 convolution with few output channels: each output is one dot product of the window
/// rows (in place for interior pixels) with the weight rows as stored.
#[inline(always)]
fn narrow_f32<W: Weight>(
    x: &[f32],
    w: &[W],
    b: &[f32],
    g: &Window,
    act: Activation,
    y: &mut [f32],
) -> bool {
    let (_, [oh, ow, oc]) = g.sizes();
    let kh = g.kernel[0];
    let row = g.kernel[1] * g.input.c as usize;
    let taps = kh * row;
    let mut col_buf = [MaybeUninit::<f32>::uninit(); MAX_TAPS];
    let col = filled(&mut col_buf[..taps], 0.0);
    let mut rows = [core::ptr::null(); MAX_KH];
    for oy in 0..oh {
        for ox in 0..ow {
            window_rows(x, g, (oy, ox), row, 0.0, col, &mut rows);
            let out = &mut y[(oy * ow + ox) * oc..][..oc];
            for (o, yo) in out.iter_mut().enumerate() {
                // SAFETY: rows just set by window_rows; x and col untouched since.
                let r = unsafe { row_slices(&rows[..kh], row) };
                *yo = b[o] + dot_rows(r, &w[o * taps..][..taps]);
            }
        }
    }
    activate(y, act);
    true
}

/// One panel of packed f32 weights and what its pixel loop needs.
struct Panels<'a> {
    x: &'a [f32],
    b: &'a [f32],
    g: &'a Window,
    panel: &'a [f32],
    first: usize,
    taps: usize,
}

impl Panels<'_> {
    /// Every output pixel's channels of this panel, bias added; rows of `R` taps if `R > 0`.
    #[inline(always)]
    fn pixels<const R: usize>(&self, col: &mut [f32], y: &mut [f32]) {
        let (_, [oh, ow, oc]) = self.g.sizes();
        let (kh, row) = (self.g.kernel[0], self.taps / self.g.kernel[0]);
        let mut rows = [core::ptr::null(); MAX_KH];
        for oy in 0..oh {
            for ox in 0..ow {
                window_rows(self.x, self.g, (oy, ox), row, 0.0, col, &mut rows);
                let out = &mut y[(oy * ow + ox) * oc..][..oc];
                for (bi, p) in self.panel.chunks_exact(self.taps * LANES).enumerate() {
                    let o0 = (self.first + bi) * LANES;
                    // SAFETY: rows just set by window_rows; x and col untouched since.
                    let acc = dot8::<R>(unsafe { row_slices(&rows[..kh], row) }, p);
                    for ((yo, a), bo) in out[o0..].iter_mut().zip(acc).zip(&self.b[o0..]) {
                        *yo = bo + a;
                    }
                }
            }
        }
    }
}

/// Eight channel sums `Σ_t tap[t] · p[t][j]` over the taps of every row, in four interleaved
/// groups so four dependency chains are in flight. `R > 0`: every row has `R` taps.
#[inline(always)]
fn dot8<'r, const R: usize>(rows: impl Iterator<Item = &'r [f32]>, p: &[f32]) -> [f32; LANES] {
    let mut acc = [[0.0f32; LANES]; 4];
    let mut p = p;
    for r in rows {
        let r = if R > 0 { &r[..R] } else { r };
        let (pr, rest) = p.split_at(r.len() * LANES);
        p = rest;
        let quads = r.len() / 4;
        for (c4, p4) in r.chunks_exact(4).zip(pr.chunks_exact(4 * LANES)) {
            for (g, (&c, pl)) in c4.iter().zip(p4.chunks_exact(LANES)).enumerate() {
                for j in 0..LANES {
                    acc[g][j] += c * pl[j];
                }
            }
        }
        // The last 0-3 taps, with constant accumulator indices so `acc` stays in registers.
        let (rest, prest) = (&r[4 * quads..], &pr[4 * quads * LANES..]);
        for g in 0..3 {
            if g < rest.len() {
                let pl = &prest[g * LANES..][..LANES];
                for j in 0..LANES {
                    acc[g][j] += rest[g] * pl[j];
                }
            }
        }
    }
    core::array::from_fn(|j| (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]))
}

/// int8 2-D convolution with VNNI (x86-64 with AVX-VNNI or AVX-512 VNNI). Returns false,
/// having written nothing, on other CPUs or when the layer exceeds the stack buffers.
#[cfg(target_arch = "x86_64")]
pub(crate) fn conv2d_i8(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    super::x86::conv2d(x, w, g, q, y)
}

/// int8 2-D convolution with NEON (aarch64; `sdot` where the CPU has it). Returns false,
/// having written nothing, when the layer exceeds the stack buffers.
#[cfg(target_arch = "aarch64")]
pub(crate) fn conv2d_i8(x: &[i8], w: &[i8], g: &Window, q: &Requant, y: &mut [i8]) -> bool {
    super::aarch64::conv2d(x, w, g, q, y)
}
