//! Recipes: a model, how to train it and how to read its data, as one TOML file. `aedge train
//! --config FILE` reads one; every preset is such a file built into the binary
//! (`trainer/presets/*.toml`, printed by `aedge presets show NAME`).

use crate::data::Color;
use crate::model::{Act, Architecture, LayerSpec, ModelSpec, Padding, Upsampling};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A whole recipe file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Recipe {
    /// One line on what the model is.
    #[serde(default)]
    pub description: String,
    /// The `[model]` table.
    pub model: ModelPart,
    /// The `[train]` table.
    #[serde(default)]
    pub train: TrainConfig,
    /// The `[data]` table.
    #[serde(default)]
    pub data: DataConfig,
    /// The `[score]` table.
    #[serde(default, skip_serializing_if = "ScoreConfig::is_default")]
    pub score: ScoreConfig,
}

/// How the exported model scores anomalies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScoreConfig {
    /// The anomaly score `aedge export` records unless `--metric` says otherwise (default:
    /// MSE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<ScoreMetric>,
}

impl ScoreConfig {
    fn is_default(&self) -> bool {
        *self == ScoreConfig::default()
    }
}

/// An anomaly score, as a recipe names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreMetric {
    /// Mean squared error.
    #[serde(rename = "mse")]
    Mse,
    /// Mean absolute error.
    #[serde(rename = "mae")]
    Mae,
    /// Binary cross-entropy.
    #[serde(rename = "bce")]
    Bce,
    /// The latent distance (see [`aedge_runtime::Metric::Latent`]).
    #[serde(rename = "latent")]
    Latent,
    /// MSE and the latent distance, standardised and summed.
    #[serde(rename = "mse+latent")]
    MseLatent,
}

impl From<ScoreMetric> for aedge_runtime::Metric {
    fn from(m: ScoreMetric) -> Self {
        match m {
            ScoreMetric::Mse => aedge_runtime::Metric::Mse,
            ScoreMetric::Mae => aedge_runtime::Metric::Mae,
            ScoreMetric::Bce => aedge_runtime::Metric::Bce,
            ScoreMetric::Latent => aedge_runtime::Metric::Latent,
            ScoreMetric::MseLatent => aedge_runtime::Metric::MseLatent,
        }
    }
}

/// The architecture and the output activation; the input shape comes from the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelFile", into = "ModelFile")]
pub struct ModelPart {
    /// `kind` and that kind's sizes.
    pub arch: Architecture,
    /// The decoder's last activation.
    pub output: Act,
}

/// The `[model]` table as written: one flat table whose `kind` says which sizes belong.
/// (Flat rather than a tagged enum: serde buffers tagged enums, which loses the line numbers
/// of errors and breaks on numbers where serde_json's arbitrary precision is on.)
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ModelFile {
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    hidden: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_act: Option<Act>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upsampling: Option<Upsampling>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latent: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoder: Option<Vec<CheckedLayer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decoder: Option<Vec<CheckedLayer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<Act>,
}

/// One layer of `encoder = [...]` / `decoder = [...]` as written: the key naming the kind
/// carries its size (`{ conv = 8, kernel = 3 }`, `{ maxpool = 2 }`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LayerFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    conv: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conv_transpose: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxpool: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upsample: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dense: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reshape: Option<[usize; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    save: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    add: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kernel: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stride: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    padding: Option<Padding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Act>,
}

/// A layer table checked on its own as it is read, so a mistake in it is reported at its
/// line; whether it may set `act` (not as the decoder's last) is checked with the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "LayerFile", into = "LayerFile")]
struct CheckedLayer {
    spec: LayerSpec,
    /// Whether the file set `act`.
    act_set: bool,
}

impl TryFrom<LayerFile> for CheckedLayer {
    type Error = String;
    fn try_from(f: LayerFile) -> Result<Self, String> {
        Ok(CheckedLayer {
            spec: f.spec()?,
            act_set: f.act.is_some(),
        })
    }
}

impl From<CheckedLayer> for LayerFile {
    fn from(c: CheckedLayer) -> Self {
        LayerFile::of(&c.spec, !c.act_set)
    }
}

const LAYER_KINDS: &str =
    "conv, conv-transpose, maxpool, upsample, dense, reshape, save, add or concat";

impl LayerFile {
    /// The layer (activation `relu` unless `act` says otherwise).
    fn spec(&self) -> Result<LayerSpec, String> {
        if let Some(spec) = self.skip_spec()? {
            return Ok(spec);
        }
        let kinds = [
            (self.conv, "conv"),
            (self.conv_transpose, "conv-transpose"),
            (self.maxpool, "maxpool"),
            (self.upsample, "upsample"),
            (self.dense, "dense"),
            (self.reshape.map(|r| r.iter().product()), "reshape"),
        ];
        let mut set = kinds.iter().filter_map(|&(v, k)| v.map(|v| (v, k)));
        let (n, kind) = match (set.next(), set.next()) {
            (Some(one), None) => one,
            (Some((_, a)), Some((_, b))) => {
                return Err(format!("one layer cannot be both `{a}` and `{b}`"))
            }
            (None, _) => return Err(format!("each layer is one of {LAYER_KINDS}")),
        };
        if n == 0 {
            return Err(format!("`{kind}` must be at least 1"));
        }
        let allowed: &[&str] = match kind {
            "conv" => &["kernel", "stride", "padding", "act"],
            "conv-transpose" => &["kernel", "stride", "act"],
            "dense" => &["act"],
            _ => &[],
        };
        let set = [
            (self.kernel.is_some(), "kernel"),
            (self.stride.is_some(), "stride"),
            (self.padding.is_some(), "padding"),
            (self.act.is_some(), "act"),
        ];
        if let Some(key) = stray_key(&set, allowed) {
            return Err(format!("`{key}` is not a setting of a {kind} layer"));
        }
        let act = self.act.unwrap_or(Act::Relu);
        let kernel = || {
            self.kernel
                .filter(|&k| k > 0)
                .ok_or_else(|| format!("a {kind} layer needs `kernel` (at least 1)"))
        };
        let stride = self.stride.unwrap_or(1);
        if stride == 0 {
            return Err("`stride` must be at least 1".into());
        }
        Ok(match kind {
            "conv" => LayerSpec::Conv {
                filters: n,
                kernel: kernel()?,
                stride,
                padding: self.padding.unwrap_or_default(),
                act,
            },
            "conv-transpose" => LayerSpec::ConvTranspose {
                filters: n,
                kernel: kernel()?,
                stride,
                act,
            },
            "maxpool" => LayerSpec::MaxPool { size: n },
            "upsample" => LayerSpec::Upsample { factor: n },
            "dense" => LayerSpec::Dense { units: n, act },
            _ => LayerSpec::Reshape {
                to: self.reshape.unwrap_or_default(),
            },
        })
    }

    /// A skip layer (`save`, `add`, `concat`: a name and no other setting), if this is one.
    fn skip_spec(&self) -> Result<Option<LayerSpec>, String> {
        let named = [
            (&self.save, "save"),
            (&self.add, "add"),
            (&self.concat, "concat"),
        ];
        let Some((name, kind)) = named
            .iter()
            .find_map(|&(v, k)| v.as_ref().map(|n| (n.clone(), k)))
        else {
            return Ok(None);
        };
        let others = named.iter().filter(|(v, _)| v.is_some()).count() > 1
            || [
                self.conv,
                self.conv_transpose,
                self.maxpool,
                self.upsample,
                self.dense,
            ]
            .iter()
            .any(Option::is_some)
            || self.reshape.is_some();
        if others {
            return Err(format!("a `{kind}` layer is only `{kind} = \"name\"`"));
        }
        let set = [
            (self.kernel.is_some(), "kernel"),
            (self.stride.is_some(), "stride"),
            (self.padding.is_some(), "padding"),
            (self.act.is_some(), "act"),
        ];
        if let Some(key) = stray_key(&set, &[]) {
            return Err(format!("`{key}` is not a setting of a {kind} layer"));
        }
        if name.is_empty() {
            return Err(format!("`{kind}` needs a name"));
        }
        Ok(Some(match kind {
            "save" => LayerSpec::Save { name },
            "add" => LayerSpec::Add { name },
            _ => LayerSpec::Concat { name },
        }))
    }

    /// The table of `l`; `last` leaves out `act` (the decoder's last takes `output`).
    fn of(l: &LayerSpec, last: bool) -> LayerFile {
        let act = |a: Act| (!last).then_some(a);
        match *l {
            LayerSpec::Save { ref name } => LayerFile {
                save: Some(name.clone()),
                ..LayerFile::default()
            },
            LayerSpec::Add { ref name } => LayerFile {
                add: Some(name.clone()),
                ..LayerFile::default()
            },
            LayerSpec::Concat { ref name } => LayerFile {
                concat: Some(name.clone()),
                ..LayerFile::default()
            },
            LayerSpec::Conv {
                filters,
                kernel,
                stride,
                padding,
                act: a,
            } => LayerFile {
                conv: Some(filters),
                kernel: Some(kernel),
                stride: Some(stride),
                padding: Some(padding),
                act: act(a),
                ..LayerFile::default()
            },
            LayerSpec::ConvTranspose {
                filters,
                kernel,
                stride,
                act: a,
            } => LayerFile {
                conv_transpose: Some(filters),
                kernel: Some(kernel),
                stride: Some(stride),
                act: act(a),
                ..LayerFile::default()
            },
            LayerSpec::MaxPool { size } => LayerFile {
                maxpool: Some(size),
                ..LayerFile::default()
            },
            LayerSpec::Upsample { factor } => LayerFile {
                upsample: Some(factor),
                ..LayerFile::default()
            },
            LayerSpec::Dense { units, act: a } => LayerFile {
                dense: Some(units),
                act: act(a),
                ..LayerFile::default()
            },
            LayerSpec::Reshape { to } => LayerFile {
                reshape: Some(to),
                ..LayerFile::default()
            },
        }
    }
}

fn layer_list(
    files: &[CheckedLayer],
    part: &str,
    has_last: bool,
) -> Result<Vec<LayerSpec>, String> {
    if files.is_empty() {
        return Err(format!("`{part}` in [model] needs at least one layer"));
    }
    let mut layers: Vec<LayerSpec> = files.iter().map(|f| f.spec.clone()).collect();
    if has_last {
        let n = files.len();
        if files[n - 1].act_set {
            return Err(format!("{part} layer {n}: the decoder's last layer takes its activation from `output` in [model], not `act`"));
        }
        layers[n - 1].set_act(Act::Identity);
    }
    Ok(layers)
}

fn layer_files(layers: &[LayerSpec], has_last: bool) -> Vec<CheckedLayer> {
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| CheckedLayer {
            spec: l.clone(),
            act_set: !(has_last && i + 1 == layers.len()),
        })
        .collect()
}

/// The first key of `set` (whether it is set, its name) that is set but not `allowed`: the
/// check every flat table (`[model]`, a layer, `optimizer`) makes of keys of another kind.
pub(crate) fn stray_key<'a>(set: &[(bool, &'a str)], allowed: &[&str]) -> Option<&'a str> {
    set.iter()
        .find(|(present, key)| *present && !allowed.contains(key))
        .map(|&(_, key)| key)
}

/// `kind` in `[model]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    #[default]
    Dense,
    Conv,
    Vae,
    Lstm,
    Layers,
}

impl TryFrom<ModelFile> for ModelPart {
    type Error = String;
    fn try_from(f: ModelFile) -> Result<Self, String> {
        let name = format!("{:?}", f.kind).to_lowercase();
        let need = |v: Option<usize>, key: &str| {
            v.ok_or_else(|| format!("a {name} model needs `{key}` in [model]"))
        };
        // Keys of another kind are mistakes, not settings to ignore.
        let allowed: &[&str] = match f.kind {
            Kind::Dense => &["hidden", "code", "code-act"],
            Kind::Conv => &["channels", "upsampling"],
            Kind::Vae => &["hidden", "latent"],
            Kind::Lstm => &["code"],
            Kind::Layers => &["encoder", "decoder"],
        };
        let set = [
            (f.hidden.is_some(), "hidden"),
            (f.code.is_some(), "code"),
            (f.code_act.is_some(), "code-act"),
            (f.channels.is_some(), "channels"),
            (f.upsampling.is_some(), "upsampling"),
            (f.latent.is_some(), "latent"),
            (f.encoder.is_some(), "encoder"),
            (f.decoder.is_some(), "decoder"),
        ];
        if let Some(key) = stray_key(&set, allowed) {
            return Err(format!("`{key}` is not a setting of a {name} model"));
        }
        let arch = match f.kind {
            Kind::Dense => Architecture::Dense {
                hidden: f.hidden.unwrap_or_default(),
                code: need(f.code, "code")?,
                code_act: f.code_act.unwrap_or(Act::Relu),
            },
            Kind::Conv => Architecture::Conv {
                channels: f
                    .channels
                    .ok_or_else(|| "a conv model needs `channels` in [model]".to_string())?,
                upsampling: f.upsampling.unwrap_or_default(),
            },
            Kind::Vae => Architecture::Vae {
                hidden: f.hidden.unwrap_or_default(),
                latent: need(f.latent, "latent")?,
            },
            Kind::Lstm => Architecture::Lstm {
                code: need(f.code, "code")?,
            },
            Kind::Layers => {
                let list = |v: &Option<Vec<CheckedLayer>>, part: &str| {
                    v.as_deref()
                        .ok_or_else(|| format!("a layers model needs `{part}` in [model]"))
                        .and_then(|files| layer_list(files, part, part == "decoder"))
                };
                Architecture::Layers {
                    encoder: list(&f.encoder, "encoder")?,
                    decoder: list(&f.decoder, "decoder")?,
                }
            }
        };
        Ok(ModelPart {
            arch,
            output: f.output.unwrap_or(Act::Sigmoid),
        })
    }
}

impl From<ModelPart> for ModelFile {
    fn from(m: ModelPart) -> Self {
        let output = Some(m.output);
        match m.arch {
            Architecture::Dense {
                hidden,
                code,
                code_act,
            } => ModelFile {
                kind: Kind::Dense,
                hidden: Some(hidden),
                code: Some(code),
                code_act: Some(code_act),
                output,
                ..ModelFile::default()
            },
            Architecture::Conv {
                channels,
                upsampling,
            } => ModelFile {
                kind: Kind::Conv,
                channels: Some(channels),
                upsampling: Some(upsampling),
                output,
                ..ModelFile::default()
            },
            Architecture::Vae { hidden, latent } => ModelFile {
                kind: Kind::Vae,
                hidden: Some(hidden),
                latent: Some(latent),
                output,
                ..ModelFile::default()
            },
            Architecture::Lstm { code } => ModelFile {
                kind: Kind::Lstm,
                code: Some(code),
                output,
                ..ModelFile::default()
            },
            Architecture::Layers { encoder, decoder } => ModelFile {
                kind: Kind::Layers,
                encoder: Some(layer_files(&encoder, false)),
                decoder: Some(layer_files(&decoder, true)),
                output,
                ..ModelFile::default()
            },
        }
    }
}

/// How samples are read and split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DataConfig {
    /// Share of the samples held out for the validation loss and the anomaly threshold.
    pub validation: f32,
    /// Image folders: every image is resized to this `[height, width]` (default: the first
    /// image's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<[u32; 2]>,
    /// Image folders: `gray` or `rgb` (default: rgb when the first image has colour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<Color>,
    /// Image folders: `stretch` resizes images of another size (bilinear, aspect ratio not
    /// kept), `error` refuses them.
    pub resize: Resize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            validation: 0.1,
            image_size: None,
            color: None,
            resize: Resize::Stretch,
        }
    }
}

/// What to do with an image whose size is not the dataset's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Resize it (bilinear; the aspect ratio is not kept).
    #[default]
    Stretch,
    /// Refuse it, naming the file.
    Error,
}

impl Recipe {
    /// Parses a recipe from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Recipe, String> {
        let r: Recipe = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines (a source excerpt); keep the sentence.
            let msg = e.message().trim().to_string();
            match e.span().map(|s| line_of(text, s.start)) {
                Some(line) => format!("{origin}:{line}: {msg}"),
                None => format!("{origin}: {msg}"),
            }
        })?;
        r.check().map_err(|e| format!("{origin}: {e}"))?;
        Ok(r)
    }

    /// Reads a recipe file.
    pub fn read(path: &Path) -> Result<Recipe, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Recipe::parse(&text, &path.display().to_string())
    }

    /// The recipe as TOML (comments are not kept).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The model for inputs of shape `input` (height, width, channels).
    pub fn spec(&self, input: [usize; 3]) -> ModelSpec {
        ModelSpec {
            input,
            arch: self.model.arch.clone(),
            out_act: self.model.output,
        }
    }

    /// Values a parser accepts but training cannot use.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.train;
        if t.epochs == 0 {
            return Err("[train] epochs must be at least 1".into());
        }
        if t.batch_size == 0 {
            return Err("[train] batch-size must be at least 1".into());
        }
        let lr = t.optimizer.lr();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!(
                "[train] optimizer lr must be a positive number, not {lr}"
            ));
        }
        if !(0.0..1.0).contains(&self.data.validation) {
            return Err("[data] validation must be in [0, 1)".into());
        }
        if let Some([h, w]) = self.data.image_size {
            if h == 0 || w == 0 || h > 4096 || w > 4096 {
                return Err("[data] image-size must be [height, width], each 1 to 4096".into());
            }
        }
        let sizes_ok = match &self.model.arch {
            Architecture::Dense { hidden, code, .. } => *code > 0 && hidden.iter().all(|&h| h > 0),
            Architecture::Conv { channels, .. } => {
                !channels.is_empty() && channels.iter().all(|&c| c > 0)
            }
            Architecture::Vae { hidden, latent } => *latent > 0 && hidden.iter().all(|&h| h > 0),
            Architecture::Lstm { code } => *code > 0,
            // Checked layer by layer when the file is read.
            Architecture::Layers { .. } => true,
        };
        if !sizes_ok {
            return Err("[model] layer sizes must be at least 1 (and a conv model needs one stage in channels)".into());
        }
        Ok(())
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerSpec;

    const MIN: &str = "[model]\nkind = \"dense\"\ncode = 8\n";

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let r = Recipe::parse(MIN, "m.toml").unwrap();
        assert_eq!(
            r.model.arch,
            Architecture::Dense {
                hidden: vec![],
                code: 8,
                code_act: Act::Relu
            }
        );
        assert_eq!(r.model.output, Act::Sigmoid);
        assert_eq!(r.train, TrainConfig::default());
        assert_eq!(r.data, DataConfig::default());
        // What it prints parses back to the same recipe.
        assert_eq!(Recipe::parse(&r.to_toml(), "again").unwrap(), r);
    }

    #[test]
    fn errors_name_the_line_the_field_and_what_is_allowed() {
        let e = Recipe::parse(&format!("{MIN}codes = 3\n"), "m.toml").unwrap_err();
        assert!(e.starts_with("m.toml:") && e.contains("codes"), "{e}");
        let e = Recipe::parse("[model]\nkind = \"mlp\"\n", "m.toml").unwrap_err();
        assert!(e.contains("m.toml:") && e.contains("`dense`"), "{e}");
        let e = Recipe::parse(&format!("{MIN}[train]\nepochs = \"ten\"\n"), "m.toml").unwrap_err();
        assert!(e.contains("m.toml:5") && e.contains("\"ten\""), "{e}");
        let e = Recipe::parse(&format!("{MIN}[train]\nloss = \"huber\"\n"), "m.toml").unwrap_err();
        assert!(e.contains("mse") && e.contains("bce"), "{e}");
        let e = Recipe::parse(&format!("{MIN}[train]\nbatch = 3\n"), "m.toml").unwrap_err();
        assert!(e.contains("batch-size"), "{e}");
        let e = Recipe::parse(&format!("{MIN}[train]\nepochs = 0\n"), "m.toml").unwrap_err();
        assert!(e.contains("epochs must be at least 1"), "{e}");
        let e = Recipe::parse(&format!("{MIN}[data]\nvalidation = 1.5\n"), "m.toml").unwrap_err();
        assert!(e.contains("validation"), "{e}");
        let e = Recipe::parse("[model]\nkind = \"dense\"\ncode = 0\n", "m.toml").unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        let e = Recipe::parse("[train]\nepochs = 3\n", "m.toml").unwrap_err();
        assert!(e.contains("model"), "{e}");
    }

    #[test]
    fn the_score_table_names_a_metric() {
        let r = Recipe::parse(
            &format!("{MIN}[score]\nmetric = \"mse+latent\"\n"),
            "m.toml",
        )
        .unwrap();
        assert_eq!(r.score.metric, Some(ScoreMetric::MseLatent));
        assert_eq!(Recipe::parse(&r.to_toml(), "again").unwrap(), r);
        assert_eq!(Recipe::parse(MIN, "m.toml").unwrap().score.metric, None);
        let e = Recipe::parse(&format!("{MIN}[score]\nmetric = \"ssim\"\n"), "m.toml").unwrap_err();
        assert!(e.contains("m.toml:5") && e.contains("latent"), "{e}");
        let e = Recipe::parse(&format!("{MIN}[score]\nmetrics = \"mse\"\n"), "m.toml").unwrap_err();
        assert!(e.contains("metrics"), "{e}");
    }

    #[test]
    fn optimiser_and_corruption_tables() {
        let r = Recipe::parse(
            &format!("{MIN}[train]\noptimizer = {{ name = \"adadelta\", lr = 1.0 }}\nlr-schedule = \"cosine\"\ncorruption = {{ kind = \"masking\", fraction = 0.2 }}\nearly-stopping = {{ patience = 3 }}\n"),
            "m.toml",
        )
        .unwrap();
        assert_eq!(
            r.train.optimizer,
            OptimizerSpec::Adadelta { lr: 1.0, rho: 0.95 }
        );
        assert!(r.train.early_stopping.is_some_and(|e| e.patience == 3));
        assert_eq!(r.train.lr_schedule, crate::optim::LrSchedule::Cosine);
        assert_eq!(Recipe::parse(&r.to_toml(), "again").unwrap(), r);
        let e = Recipe::parse(&format!("{MIN}[train]\nlr-schedule = \"step\"\n"), "m.toml")
            .unwrap_err();
        assert!(e.contains("m.toml:5") && e.contains("cosine"), "{e}");
    }

    #[test]
    fn layer_lists_read_and_print_back() {
        let text = "[model]\nkind = \"layers\"\nencoder = [{ conv = 4, kernel = 3, stride = 2 }, { maxpool = 2 }, { dense = 8, act = \"identity\" }]\ndecoder = [{ dense = 196 }, { reshape = [7, 7, 4] }, { conv-transpose = 1, kernel = 3, stride = 4 }]\n";
        let r = Recipe::parse(text, "m.toml").unwrap();
        let Architecture::Layers { encoder, decoder } = &r.model.arch else {
            panic!("{:?}", r.model.arch)
        };
        assert_eq!(encoder.len(), 3);
        assert_eq!(
            encoder[2],
            LayerSpec::Dense {
                units: 8,
                act: Act::Identity
            }
        );
        assert_eq!(
            decoder[2],
            LayerSpec::ConvTranspose {
                filters: 1,
                kernel: 3,
                stride: 4,
                act: Act::Identity
            }
        );
        assert_eq!(Recipe::parse(&r.to_toml(), "again").unwrap(), r);
        // It builds for 28x28 (14, 7, code 8, back to 7x7x4, x4 = 28).
        let dev = crate::device(crate::Backend::Flex).unwrap();
        r.spec([28, 28, 1]).build(&dev).unwrap();
        // For another size the decoder does not lead back, and the error says where it ends.
        let e = r.spec([32, 32, 1]).build(&dev).unwrap_err();
        assert!(
            e.contains("ends at 28x28x1") && e.contains("32x32x1"),
            "{e}"
        );
    }

    #[test]
    fn skip_layers_parse_nest_and_say_what_is_wrong() {
        let dev = crate::device(crate::Backend::Flex).unwrap();
        let build = |enc: &str, dec: &str| {
            Recipe::parse(
                &format!("[model]\nkind = \"layers\"\nencoder = [{enc}]\ndecoder = [{dec}]\n"),
                "m.toml",
            )
            .and_then(|r| {
                let again = Recipe::parse(&r.to_toml(), "again").unwrap();
                assert_eq!(again, r);
                r.spec([8, 8, 1]).build(&dev).map(|_| ())
            })
        };
        let enc = "{ conv = 4, kernel = 3 }, { save = \"a\" }, { maxpool = 2 }, { conv = 4, kernel = 3 }, { save = \"b\" }";
        // Nested joins: the inner first, one of each kind.
        build(
            enc,
            "{ add = \"b\" }, { upsample = 2 }, { concat = \"a\" }, { conv = 1, kernel = 3 }",
        )
        .unwrap();
        let e = build(
            enc,
            "{ upsample = 2 }, { concat = \"a\" }, { add = \"b\" }, { conv = 1, kernel = 3 }",
        )
        .unwrap_err();
        assert!(
            e.contains("\"b\" was saved after it") && e.contains("nest"),
            "{e}"
        );
        let e = build(enc, "{ upsample = 2 }, { conv = 1, kernel = 3 }").unwrap_err();
        assert!(e.contains("never used"), "{e}");
        let e = build(
            enc,
            "{ add = \"b\" }, { add = \"a\" }, { conv = 1, kernel = 3 }",
        )
        .unwrap_err();
        assert!(e.contains("decoder layer 2") && e.contains("shape"), "{e}");
        let e = build(enc, "{ concat = \"c\" }, { conv = 1, kernel = 3 }").unwrap_err();
        assert!(e.contains("\"c\""), "{e}");
        let e = build("{ save = \"a\", kernel = 3 }", "{ conv = 1, kernel = 3 }").unwrap_err();
        assert!(
            e.contains("`kernel` is not a setting of a save layer"),
            "{e}"
        );
        let e = build("{ save = \"a\", add = \"a\" }", "{ conv = 1, kernel = 3 }").unwrap_err();
        assert!(e.contains("only `save = \"name\"`"), "{e}");
    }

    #[test]
    fn wrong_layers_name_the_layer_and_what_is_allowed() {
        let with = |enc: &str, dec: &str| {
            Recipe::parse(
                &format!("[model]\nkind = \"layers\"\nencoder = [{enc}]\ndecoder = [{dec}]\n"),
                "m.toml",
            )
        };
        let ok_dec = "{ conv = 1, kernel = 3 }";
        let e = with("{ conv = 4 }", ok_dec).unwrap_err();
        // At the layer's own line.
        assert!(e.starts_with("m.toml:3:") && e.contains("`kernel`"), "{e}");
        let e = with("{ pool = 2 }", ok_dec).unwrap_err();
        assert!(e.contains("maxpool"), "{e}");
        let e = with("{ maxpool = 2, kernel = 3 }", ok_dec).unwrap_err();
        assert!(
            e.contains("`kernel` is not a setting of a maxpool layer"),
            "{e}"
        );
        let e = with("{ conv = 4, dense = 3, kernel = 3 }", ok_dec).unwrap_err();
        assert!(e.contains("both"), "{e}");
        let e = with(
            "{ maxpool = 2 }",
            "{ conv = 1, kernel = 3, act = \"tanh\" }",
        )
        .unwrap_err();
        assert!(
            e.contains("decoder layer 1") && e.contains("`output`"),
            "{e}"
        );
        let e = with("{ upsample = 0 }", ok_dec).unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        let e = with("", ok_dec).unwrap_err();
        assert!(e.contains("at least one layer"), "{e}");
        let e = Recipe::parse(
            "[model]\nkind = \"dense\"\ncode = 3\nencoder = []\n",
            "m.toml",
        )
        .unwrap_err();
        assert!(
            e.contains("`encoder` is not a setting of a dense model"),
            "{e}"
        );
        // The last decoder layer carries the output activation, so it must have weights.
        let r = with(
            "{ maxpool = 2 }",
            "{ conv = 1, kernel = 3 }, { upsample = 2 }",
        )
        .unwrap();
        let dev = crate::device(crate::Backend::Flex).unwrap();
        let e = r.spec([28, 28, 1]).build(&dev).unwrap_err();
        assert!(e.contains("last layer"), "{e}");
    }
}
