//! A parsed, validated model that borrows its parameters from the file bytes.

use crate::container;
use crate::desc::{
    ErrorStats, LatentDesc, LayerDesc, Meta, Metric, Op, PatternDesc, Precision, Quant, SeriesDesc,
    ThresholdRule,
};
use crate::error::Error;
use crate::layer::{self, Layer};
use crate::plan;
use crate::shape::Shape;
use crate::skip::Skips;

/// A model parsed from `.aedge` bytes. Parameters stay in the byte buffer (zero-copy, so a
/// model in flash uses no RAM for weights); `Model` itself is a few dozen bytes.
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    pub(crate) meta: Meta<'a>,
    pub(crate) series: Option<SeriesDesc<'a>>,
    /// The postcard-encoded latent record (empty without one): decoded where it is used, so
    /// `Model` stays a few dozen bytes of RAM.
    pub(crate) latent_record: &'a [u8],
    /// The pattern memory's description (series models, format version 8).
    pub(crate) pattern: Option<PatternDesc>,
    pub(crate) version: u16,
    /// postcard-encoded layer records.
    pub(crate) layers: &'a [u8],
    /// The aligned weights section.
    pub(crate) weights: &'a [u8],
    pub(crate) file_len: usize,
    /// The file's CRC-32: which model a stored threshold belongs to.
    pub(crate) checksum: u32,
    pub(crate) arena_len: usize,
    /// Bytes at the start of the arena for tensors saved by skip connections.
    pub(crate) saved_len: usize,
    /// Whether a skip connection crosses the code (the decoder cannot run on a code alone).
    pub(crate) skips_cross_code: bool,
    pub(crate) latent: Shape,
    pub(crate) latent_quant: Quant,
    pub(crate) output: Shape,
    pub(crate) output_quant: Quant,
    pub(crate) macs: u64,
    pub(crate) params: usize,
}

const META: u16 = u16::MAX;

fn invalid(layer: u16, reason: &'static str) -> Error {
    Error::InvalidGraph { layer, reason }
}

/// A layer as reported by [`Model::layers`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerInfo {
    /// Position in the model.
    pub index: u16,
    /// The stored record.
    pub desc: LayerDesc,
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Weights and biases.
    pub params: usize,
    /// Quantization of the output (int8 models).
    pub output_quant: Quant,
}

impl<'a> Model<'a> {
    /// Parses and validates a model. Every length, shape, offset, alignment and quantization
    /// parameter is checked here, so running the result cannot index out of bounds.
    ///
    /// `bytes` must start at a 16-byte aligned address (see [`crate::AlignedBytes`] and
    /// [`crate::include_model!`]) so weights can be used in place.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if cfg!(target_endian = "big") {
            return Err(Error::Unsupported("big-endian targets"));
        }
        let sections = container::open(bytes)?;
        if !(sections.weights.as_ptr() as usize).is_multiple_of(container::WEIGHTS_ALIGN) {
            return Err(Error::Misaligned {
                what: "model bytes",
                align: container::WEIGHTS_ALIGN,
            });
        }
        let (meta, layers): (Meta<'a>, &'a [u8]) = postcard::take_from_bytes(sections.graph)
            .map_err(|_| Error::Malformed("model metadata cannot be decoded"))?;
        let mut model = Model {
            meta,
            series: None,
            latent_record: &[],
            pattern: None,
            version: sections.version,
            layers,
            weights: sections.weights,
            file_len: container_len(bytes),
            checksum: sections.checksum,
            arena_len: 0,
            saved_len: 0,
            skips_cross_code: false,
            latent: meta.input,
            latent_quant: meta.input_quant,
            output: meta.input,
            output_quant: meta.input_quant,
            macs: 0,
            params: 0,
        };
        model.validate()?;
        Ok(model)
    }

    fn validate(&mut self) -> Result<(), Error> {
        let m = self.meta;
        if !m.input.is_valid() {
            return Err(invalid(META, "input shape is empty or too large"));
        }
        if m.encoder_layers > m.layer_count {
            return Err(invalid(META, "encoder has more layers than the model"));
        }
        if !(m.threshold.is_finite() || m.threshold == f32::INFINITY) {
            return Err(invalid(META, "threshold must be a number or +infinity"));
        }
        if m.precision == Precision::Int8 {
            if !(m.input_quant.scale.is_finite() && m.input_quant.scale > 0.0) {
                return Err(invalid(
                    META,
                    "input quantization scale must be finite and positive",
                ));
            }
        } else if m.input_quant != Quant::NONE {
            return Err(invalid(META, "a float model has input quantization"));
        }
        let c = m.input.c as usize;
        for b in [m.preprocess.scale, m.preprocess.offset] {
            let v = self.f32_blob(b).ok_or(invalid(
                META,
                "preprocessing data is out of range or misaligned",
            ))?;
            if v.len() != 1 && v.len() != c {
                return Err(invalid(
                    META,
                    "preprocessing needs one value or one per input channel",
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(invalid(META, "preprocessing values must be finite"));
            }
        }
        if self.preprocess_scale().contains(&0.0) {
            return Err(invalid(META, "preprocessing scale must not be zero"));
        }

        let mut planner = plan::Planner::new(m.precision, m.input);
        let mut rest = self.layers;
        let mut shape = m.input;
        let mut quant = m.input_quant;
        let mut skips = Skips::new(m.precision);
        for i in 0..m.layer_count {
            let (desc, tail): (LayerDesc, &[u8]) = postcard::take_from_bytes(rest)
                .map_err(|_| invalid(i, "layer record cannot be decoded"))?;
            rest = tail;
            let l = layer::resolve(desc, shape, quant, m.precision, self.weights, true)
                .map_err(|why| invalid(i, why))?;
            if desc.op == Op::Save && self.version < 7 {
                return Err(invalid(i, "skip connections need format version 7"));
            }
            skips
                .track(&desc.op, shape, quant)
                .map_err(|why| invalid(i, why))?;
            planner.saved(skips.bytes());
            planner.add(&l);
            self.macs += l.macs();
            self.params += l.param_count();
            shape = l.output;
            quant = l.out_quant;
            if i + 1 == m.encoder_layers {
                self.latent = shape;
                self.latent_quant = quant;
                self.skips_cross_code = skips.depth() > 0;
            }
        }
        if skips.depth() > 0 {
            return Err(invalid(
                META,
                "a saved tensor is never used (each Save needs a later Add or Concat)",
            ));
        }
        if self.version >= 4 {
            let bad = |_| Error::Malformed("series record cannot be decoded");
            let (series, tail): (Option<SeriesDesc<'a>>, &'a [u8]) = if self.version >= 6 {
                postcard::take_from_bytes(rest).map_err(bad)?
            } else {
                let (old, tail): (Option<crate::desc::SeriesDescV4<'a>>, _) =
                    postcard::take_from_bytes(rest).map_err(bad)?;
                (old.map(Into::into), tail)
            };
            rest = tail;
            if let Some(s) = series {
                check_series(&s, m.input)?;
                self.check_range(&s)?;
            }
            self.series = series;
        }
        if self.version >= 5 {
            let (latent, tail): (Option<LatentDesc>, &'a [u8]) = postcard::take_from_bytes(rest)
                .map_err(|_| Error::Malformed("latent record cannot be decoded"))?;
            if latent.is_some() {
                self.latent_record = &rest[..rest.len() - tail.len()];
            }
            rest = tail;
        }
        if self.version >= 8 {
            let (pattern, tail): (Option<PatternDesc>, &'a [u8]) = postcard::take_from_bytes(rest)
                .map_err(|_| Error::Malformed("pattern record cannot be decoded"))?;
            if let Some(p) = &pattern {
                if self.series.is_none() || m.input.c != 1 {
                    return Err(invalid(
                        META,
                        "a pattern memory needs a one-channel series model",
                    ));
                }
                crate::pattern::check(p).map_err(|r| invalid(META, r))?;
            }
            self.pattern = pattern;
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(Error::Malformed("extra bytes after the last layer record"));
        }
        if shape.len() != m.input.len() {
            return Err(invalid(
                META,
                "the reconstruction must have as many values as the input",
            ));
        }
        self.output = shape;
        self.output_quant = quant;
        self.arena_len = planner.arena_len();
        self.saved_len = planner.saved_len();
        self.check_latent()
    }

    /// The latent record matches the code, and a latent metric has one. It decodes the
    /// record again rather than keeping it in `validate`'s frame through the layer loop
    /// (stack on MCUs).
    #[inline(never)]
    fn check_latent(&self) -> Result<(), Error> {
        let bad = |reason| invalid(META, reason);
        let Some(l) = self.latent_fit() else {
            return if self.meta.metric.uses_latent() {
                Err(bad("a latent metric needs the latent record"))
            } else {
                Ok(())
            };
        };
        if self.meta.encoder_layers == 0 || self.series.is_some() {
            return Err(bad(
                "a latent record needs an encoder and a model of whole samples",
            ));
        }
        let d = self.latent.len();
        let blob = |b| {
            self.f32_blob(b)
                .ok_or(bad("latent data is out of range or misaligned"))
        };
        let (mean, basis, inv_var) = (blob(l.mean)?, blob(l.basis)?, blob(l.inv_var)?);
        if mean.len() != d || inv_var.len() > d || basis.len() != inv_var.len() * d {
            return Err(bad("latent record does not match the code's length"));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        let all_finite = finite(mean)
            && finite(basis)
            && finite(inv_var)
            && finite(&l.mix)
            && l.rest_inv_var.is_finite();
        if !all_finite || inv_var.iter().any(|&x| x < 0.0) || l.rest_inv_var < 0.0 {
            return Err(bad("latent values must be finite, variances positive"));
        }
        Ok(())
    }

    /// The file's CRC-32, as stored in its header (checked by [`Model::parse`]).
    pub fn checksum(&self) -> u32 {
        self.checksum
    }

    /// Replaces the threshold this parsed model scores against (the file is not changed): a
    /// threshold the device learned ([`crate::Learner`]) or kept in its own storage.
    pub fn set_threshold(&mut self, threshold: f32) {
        self.meta.threshold = threshold;
    }

    /// The Gaussian of normal codes behind [`Metric::Latent`], if the file has one.
    pub fn latent_fit(&self) -> Option<LatentDesc> {
        if self.latent_record.is_empty() {
            return None;
        }
        // parse() decoded these bytes once already.
        postcard::from_bytes::<Option<LatentDesc>>(self.latent_record)
            .ok()
            .flatten()
    }

    pub(crate) fn f32_blob(&self, b: crate::desc::Blob) -> Option<&'a [f32]> {
        let start = b.offset as usize;
        let bytes = self
            .weights
            .get(start..start.checked_add(b.len as usize)?)?;
        bytemuck::try_cast_slice(bytes).ok()
    }

    /// The preprocessing, raw sensor units to model units and back.
    pub fn scaling(&self) -> crate::Scaling<'a> {
        crate::Scaling::new(
            self.preprocess_scale(),
            self.preprocess_offset(),
            self.meta.input.c as usize,
        )
    }

    /// Preprocessing scale: one value, or one per input channel.
    pub fn preprocess_scale(&self) -> &'a [f32] {
        self.f32_blob(self.meta.preprocess.scale).unwrap_or(&[])
    }

    /// Per-channel (or single) preprocessing offset.
    pub fn preprocess_offset(&self) -> &'a [f32] {
        self.f32_blob(self.meta.preprocess.offset).unwrap_or(&[])
    }

    /// Exact scratch bytes one inference needs (any entry point). Pass an arena of at least this
    /// size, aligned to [`crate::ARENA_ALIGN`].
    pub fn arena_len(&self) -> usize {
        self.arena_len
    }

    /// The stored metadata.
    pub fn meta(&self) -> &Meta<'a> {
        &self.meta
    }

    /// A series record's range: empty, or a finite low and high (low ≤ high) per channel.
    fn check_range(&self, s: &SeriesDesc) -> Result<(), Error> {
        if s.range.len == 0 {
            return Ok(());
        }
        let ok = self.f32_blob(s.range).is_some_and(|r| {
            r.len() == 2 * self.meta.input.c as usize
                && r.chunks_exact(2)
                    .all(|p| p[0].is_finite() && p[1].is_finite() && p[0] <= p[1])
        });
        if ok {
            Ok(())
        } else {
            Err(invalid(
                META,
                "series range must hold a finite low and high (low <= high) per channel",
            ))
        }
    }

    /// Each channel's `[low, high]` on the normal stretch, from the series record (empty
    /// when there is none or it has no range).
    pub fn series_range(&self) -> &'a [f32] {
        self.series
            .and_then(|s| self.f32_blob(s.range))
            .unwrap_or(&[])
    }

    /// The memory of the series' shapes a stream reports novel patterns with, if the model
    /// has one (see [`crate::pattern`]).
    pub fn pattern(&self) -> Option<&PatternDesc> {
        self.pattern.as_ref()
    }

    /// How the model scores a stream of samples, for series models (see [`crate::Stream`]).
    pub fn series(&self) -> Option<&SeriesDesc<'a>> {
        self.series.as_ref()
    }

    /// The format version the file was written in.
    pub fn format_version(&self) -> u16 {
        self.version
    }

    /// The model's name.
    pub fn name(&self) -> &'a str {
        self.meta.name
    }

    /// Number format.
    pub fn precision(&self) -> Precision {
        self.meta.precision
    }

    /// Shape of one input sample.
    pub fn input_shape(&self) -> Shape {
        self.meta.input
    }

    /// Shape of the latent code (the encoder's output).
    pub fn latent_shape(&self) -> Shape {
        self.latent
    }

    /// Whether the decoder runs on a code alone ([`Model::decode`]): false when a skip
    /// connection carries a tensor from the encoder past the code, as in a U-Net.
    pub fn decodes_codes(&self) -> bool {
        !self.skips_cross_code
    }

    /// Shape of the reconstruction.
    pub fn output_shape(&self) -> Shape {
        self.output
    }

    /// Reconstruction error metric.
    pub fn metric(&self) -> Metric {
        self.meta.metric
    }

    /// Quantization of the input tensor (int8 models; [`Quant::NONE`] otherwise).
    pub fn input_quant(&self) -> Quant {
        self.meta.input_quant
    }

    /// Quantization of the output tensor (int8 models; [`Quant::NONE`] otherwise).
    pub fn output_quant(&self) -> Quant {
        self.output_quant
    }

    /// Anomaly threshold on the reconstruction error.
    pub fn threshold(&self) -> f32 {
        self.meta.threshold
    }

    /// How the threshold was chosen.
    pub fn threshold_rule(&self) -> ThresholdRule {
        self.meta.threshold_rule
    }

    /// Calibration error summary.
    pub fn error_stats(&self) -> ErrorStats {
        self.meta.errors
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.meta.layer_count as usize
    }

    /// Multiply-accumulates per inference.
    pub fn macs(&self) -> u64 {
        self.macs
    }

    /// Number of weights and biases.
    pub fn param_count(&self) -> usize {
        self.params
    }

    /// Bytes of the weights section (what the parameters take in flash).
    pub fn weights_len(&self) -> usize {
        self.weights.len()
    }

    /// Bytes of the whole file.
    pub fn file_len(&self) -> usize {
        self.file_len
    }

    /// The layers with their shapes.
    pub fn layers(&self) -> impl Iterator<Item = LayerInfo> + 'a {
        Layers::new(self).enumerate().map_while(|(i, l)| {
            l.ok().map(|l| LayerInfo {
                index: i as u16,
                desc: l.desc,
                input: l.input,
                output: l.output,
                macs: l.macs(),
                params: l.param_count(),
                output_quant: l.out_quant,
            })
        })
    }
}

fn check_series(s: &SeriesDesc, input: Shape) -> Result<(), Error> {
    if s.stride == 0 {
        return Err(invalid(META, "series stride must be at least 1"));
    }
    if s.tail == 0 || s.tail > input.h {
        return Err(invalid(
            META,
            "series tail must be between 1 and the window length",
        ));
    }
    if input.w != 1 {
        return Err(invalid(
            META,
            "a series model's input must be window x 1 x channels",
        ));
    }
    if s.columns.split(',').count() != input.c as usize || s.columns.split(',').any(str::is_empty) {
        return Err(invalid(
            META,
            "series columns must name each input channel once",
        ));
    }
    let l = s.likelihood;
    if l.memory == 0 || l.short == 0 || !(l.alarm.is_finite() && (0.0..=1.0).contains(&l.alarm)) {
        return Err(invalid(
            META,
            "series likelihood needs memory and short of at least 1 and an alarm in [0, 1]",
        ));
    }
    let m = s.seasonal;
    if !(m.mean.is_finite() && m.std.is_finite() && m.mean >= 0.0 && m.std >= 0.0) {
        return Err(invalid(
            META,
            "series seasonal error statistics must be finite and at least 0",
        ));
    }
    if !(l.novelty.is_finite() && l.novelty >= 0.0) {
        return Err(invalid(
            META,
            "series novelty must be a finite number of at least 0",
        ));
    }
    Ok(())
}

fn container_len(bytes: &[u8]) -> usize {
    u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]) as usize
}

/// Decodes and resolves layers in order. Parsing validated them, so errors here are only
/// defensive.
pub(crate) struct Layers<'a> {
    // Only what decoding needs, not a copy of the whole `Model`: the iterator lives in the
    // interpreter loop's frame (RAM on MCUs).
    weights: &'a [u8],
    precision: Precision,
    count: u16,
    rest: &'a [u8],
    shape: Shape,
    quant: Quant,
    left: u16,
}

impl<'a> Layers<'a> {
    pub(crate) fn new(model: &Model<'a>) -> Self {
        Layers {
            weights: model.weights,
            precision: model.meta.precision,
            count: model.meta.layer_count,
            rest: model.layers,
            shape: model.meta.input,
            quant: model.meta.input_quant,
            left: model.meta.layer_count,
        }
    }
}

impl<'a> Iterator for Layers<'a> {
    type Item = Result<Layer<'a>, Error>;

    // Out of line: inlined into the interpreter loop it doubles that frame (RAM on MCUs).
    #[inline(never)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let index = self.count - self.left - 1;
        let r = postcard::take_from_bytes::<LayerDesc>(self.rest)
            .map_err(|_| invalid(index, "layer record cannot be decoded"))
            .and_then(|(desc, tail)| {
                self.rest = tail;
                layer::resolve(
                    desc,
                    self.shape,
                    self.quant,
                    self.precision,
                    self.weights,
                    false,
                )
                .map_err(|why| invalid(index, why))
            });
        match &r {
            Ok(l) => {
                self.shape = l.output;
                self.quant = l.out_quant;
            }
            Err(_) => self.left = 0,
        }
        Some(r)
    }
}
