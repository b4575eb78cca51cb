//! The pattern memory's inner loops over bytes: how much of a category box a pattern covers,
//! `Σ min(w, x)` beside the box's size `Σ w`, and the box growing to hold the pattern,
//! `w ← min(w, x)` — portable, with a Cortex-M DSP path that gives the same bytes.

#[cfg(aedge_dsp)]
mod cortex_m;

/// `(Σ min(w_i, x_i), Σ w_i)` over the common length of `w` and `x`.
#[inline]
pub fn overlap(w: &[u8], x: &[u8]) -> (u32, u32) {
    #[cfg(aedge_dsp)]
    {
        cortex_m::overlap(w, x)
    }
    #[cfg(not(aedge_dsp))]
    {
        overlap_generic(w, x)
    }
}

/// The portable [`overlap`], the reference the DSP path must equal.
pub fn overlap_generic(w: &[u8], x: &[u8]) -> (u32, u32) {
    w.iter().zip(x).fold((0, 0), |(common, size), (&a, &b)| {
        (common + a.min(b) as u32, size + a as u32)
    })
}

/// `w_i ← min(w_i, x_i)` over the common length of `w` and `x`: a category's box (its lowest
/// features and complements) grown to hold a pattern.
#[inline]
pub fn learn(w: &mut [u8], x: &[u8]) {
    #[cfg(aedge_dsp)]
    {
        cortex_m::learn(w, x)
    }
    #[cfg(not(aedge_dsp))]
    {
        learn_generic(w, x)
    }
}

/// The portable [`learn`], the reference the DSP path must equal.
pub fn learn_generic(w: &mut [u8], x: &[u8]) {
    for (a, &b) in w.iter_mut().zip(x) {
        *a = (*a).min(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_sums_the_smaller_bytes_and_the_box() {
        let w = [0u8, 10, 255, 200, 7, 9, 255];
        let x = [5u8, 3, 255, 0, 7, 200, 1];
        assert_eq!(overlap_generic(&w, &x), (3 + 255 + 7 + 9 + 1, 736));
        assert_eq!(overlap(&w, &x), overlap_generic(&w, &x));
    }

    #[test]
    fn learn_keeps_the_smaller_bytes() {
        let mut w = [0u8, 10, 255, 200, 7, 9, 255];
        let x = [5u8, 3, 255, 0, 7, 200, 1];
        learn(&mut w, &x);
        assert_eq!(w, [0, 3, 255, 0, 7, 9, 1]);
    }
}
