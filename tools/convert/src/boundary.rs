//! Where the encoder ends in an imported model: files from other frameworks do not say, and
//! the runtime's `encode` / `decode` need a split.

use aedge_runtime::Op;

/// The number of encoder layers, given each layer's op and output length: the encoder ends
/// after the first layer with the smallest output, and the activations and reshapes right
/// after it (same length) stay in the encoder, so the code is taken after its activation.
pub fn encoder_end<'a>(layers: impl IntoIterator<Item = (&'a Op, usize)>) -> usize {
    let layers: Vec<(&Op, usize)> = layers.into_iter().collect();
    let Some(min) = layers.iter().map(|&(_, n)| n).min() else {
        return 0;
    };
    let mut k = layers
        .iter()
        .position(|&(_, n)| n == min)
        .map_or(0, |i| i + 1);
    while k < layers.len()
        && matches!(layers[k].0, Op::Activation | Op::Reshape { .. })
        && layers[k].1 == min
    {
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use aedge_runtime::Shape;

    #[test]
    fn the_code_keeps_its_activation_and_reshape() {
        let dense = Op::Dense { units: 8 };
        let act = Op::Activation;
        let reshape = Op::Reshape {
            to: Shape::vector(8),
        };
        let layers = [
            (&dense, 32),
            (&dense, 8),
            (&act, 8),
            (&reshape, 8),
            (&dense, 8),
            (&dense, 32),
        ];
        assert_eq!(encoder_end(layers), 4);
        assert_eq!(encoder_end([(&dense, 4), (&dense, 16)]), 1);
        assert_eq!(encoder_end(std::iter::empty()), 0);
    }
}
