//! The catalogue: named recipes that reproduce the seed and textbook autoencoders, each a
//! TOML file in `trainer/presets/` built into the binary, so a user starts their own from the
//! same text (`aedge presets show NAME`).
//!
//! Optimiser choice: the Keras recipes used Adadelta, whose learning rate in today's Keras
//! (0.001) barely moves these models in 10 epochs (val BCE 0.694 after 10 epochs on
//! Fashion-MNIST, against 0.285 with Adam). Keras 1 and 2.0 used `lr = 1.0`. Those presets
//! therefore use **Adam, lr = 1e-3**; `optimizer = { name = "adadelta", lr = 1.0 }`
//! reproduces the original Keras setting.

use crate::model::ModelSpec;
use crate::recipe::Recipe;
use crate::train::TrainConfig;

macro_rules! presets {
    ($($name:literal),* $(,)?) => {
        /// Every preset: (name, its recipe file's text).
        pub const FILES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../presets/", $name, ".toml")))),*
        ];
    };
}

presets!(
    "seed-dense",
    "seed-tf",
    "seed-conv",
    "keras-simple",
    "keras-sparse",
    "keras-deep",
    "keras-conv",
    "conv-transpose",
    "keras-denoise",
    "wide-denoise",
    "deep-denoise",
    "unet-denoise",
    "keras-vae",
    "pytorch-vae",
    "mlperf-ad",
    "series-dense",
    "keras-lstm",
);

/// The names of every preset, in catalogue order.
pub fn names() -> Vec<&'static str> {
    FILES.iter().map(|f| f.0).collect()
}

/// The recipe file of preset `name`, as text.
pub fn file(name: &str) -> Result<&'static str, String> {
    FILES
        .iter()
        .find(|f| f.0 == name)
        .map(|f| f.1)
        .ok_or_else(|| format!("unknown preset '{name}'; presets: {}", names().join(", ")))
}

/// The recipe of preset `name`.
pub fn recipe(name: &str) -> Result<Recipe, String> {
    Recipe::parse(file(name)?, &format!("preset {name}"))
}

/// The model and training configuration of a preset for inputs of shape `input` (h, w, c).
/// Image presets expect data in `[0, 1]`; the series presets expect standardised windows.
pub fn preset(name: &str, input: [usize; 3]) -> Result<(ModelSpec, TrainConfig), String> {
    let r = recipe(name)?;
    Ok((r.spec(input), r.train))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Architecture;

    #[test]
    fn every_preset_file_parses_and_describes_itself() {
        for (name, _) in FILES {
            let r = recipe(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!r.description.is_empty(), "{name} has no description");
            // Printed back (comments dropped), it is the same recipe.
            assert_eq!(Recipe::parse(&r.to_toml(), name).unwrap(), r, "{name}");
        }
        assert!(recipe("nope").unwrap_err().contains("seed-dense"));
    }

    #[test]
    fn seed_tf_is_seed_004s_model() {
        let (spec, cfg) = preset("seed-tf", [28, 28, 1]).unwrap();
        assert!(
            matches!(spec.arch, Architecture::Dense { code: 256, ref hidden, .. } if hidden.is_empty())
        );
        assert_eq!((cfg.epochs, cfg.batch_size), (20, 100));
        assert_eq!(cfg.optimizer.lr(), 0.01);
    }

    #[test]
    fn seed_conv_has_seed_001s_seven_by_seven_code() {
        let (spec, cfg) = preset("seed-conv", [28, 28, 1]).unwrap();
        let dev = crate::device(crate::Backend::Flex).unwrap();
        let crate::model::AutoEncoder::Layers(m) = spec.build(&dev).unwrap() else {
            panic!("seed-conv is not a layer list")
        };
        assert_eq!(m.code_shape(), [7, 7, 1]);
        assert_eq!(m.convs.len(), 7);
        assert!(matches!(
            cfg.optimizer,
            crate::optim::OptimizerSpec::Adadelta { lr, .. } if lr == 1.0
        ));
    }
}
