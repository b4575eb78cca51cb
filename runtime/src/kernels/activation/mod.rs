//! Activations: f32 functions in place, and int8 256-entry table lookups (with an x86-64
//! AVX-512 VBMI path).

use crate::desc::Activation;

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod x86;

/// Applies an activation in place.
pub fn activate(y: &mut [f32], act: Activation) {
    // One loop per activation, so each is a tight loop (the ReLU family vectorises).
    match act {
        Activation::Identity => {}
        Activation::Relu => y.iter_mut().for_each(|v| *v = Activation::Relu.apply(*v)),
        Activation::Clip { .. } | Activation::LeakyRelu { .. } => {
            y.iter_mut().for_each(|v| *v = act.apply(*v))
        }
        _ => y.iter_mut().for_each(|v| *v = act.apply(*v)),
    }
}

/// Applies a 256-entry table in place (stand-alone int8 activation, and the activation of
/// layers computed without one).
pub fn lookup(y: &mut [i8], lut: &[i8; 256]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if x86::lookup(y, lut) {
        return;
    }
    for v in y {
        *v = lut[(*v as i32 + 128) as usize];
    }
}
