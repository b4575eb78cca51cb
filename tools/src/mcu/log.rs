//! The firmware's log protocol, host side: the lines `firmware/src/bin/check.rs` prints through
//! defmt and their parsers, in one place for `aedge bench` and the firmware tests.
//!
//! ```text
//! sample <i> error <f32> anomalous <bool> score <ticks> denoise <ticks>
//! recon <i> [<u8>, …]                          little-endian f32 bytes of the reconstruction
//! stack high-water <bytes> B
//! bench run <ticks> <qemu-ticks|cycles> stack <B> B arena <B> B state <B> B output-fnv <hex>
//! layer <index> <ticks> <qemu-ticks|cycles>    one per layer, in order
//! point <row> error <f32> score <f32> anomalous <bool> push <ticks> <unit>   series models
//! stream rows <n> scored <n> unscored-push-max <ticks> <unit> arena <B> B buffer <B> B state <B> B
//! inference failed … | panic …                 the run failed
//! ```
//!
//! The validate demo (`firmware/src/bin/validate.rs`) prints instead:
//!
//! ```text
//! validate <name> <precision> inputs <n> arena <B> B
//! output <input> <layer> [<u8>, …]             every layer's output tensor, in order
//! input <i> run <ticks> <unit> error <f32> anomalous <bool>
//! validate stack <B> B
//! ```

/// The firmware's measurement of one bare inference (`Model::run`, second run).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BenchRun {
    /// Counter ticks: QEMU timer ticks or DWT cycles, see `unit`.
    pub ticks: u32,
    /// `"qemu-ticks"` or `"cycles"`.
    pub unit: &'static str,
    /// Stack the inference used below its caller, bytes.
    pub stack: usize,
    /// The arena, bytes.
    pub arena: usize,
    /// The `Model` value (the runtime's only state besides the arena), bytes.
    pub state: usize,
    /// FNV-1a of the output tensor's bytes.
    pub output_fnv: u32,
}

/// The word after `key` in a log line (`"… error 0.25 …"` → `"0.25"`).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut it = line.split_whitespace();
    while let Some(w) = it.next() {
        if w == key {
            return it.next();
        }
    }
    None
}

/// Finds and parses the `bench run …` line of a firmware log.
pub fn parse_bench(lines: &[String]) -> Result<BenchRun, String> {
    let l = lines
        .iter()
        .find(|l| l.starts_with("bench run "))
        .ok_or("the firmware log has no `bench run` line")?;
    let bad = || format!("unexpected bench line: {l}");
    let num = |k: &str| field(l, k).ok_or_else(bad);
    let mut words = l.split_whitespace().skip(2);
    let ticks = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let unit = match words.next() {
        Some("qemu-ticks") => "qemu-ticks",
        Some("cycles") => "cycles",
        _ => return Err(bad()),
    };
    let hex = num("output-fnv")?;
    Ok(BenchRun {
        ticks,
        unit,
        stack: num("stack")?.parse().map_err(|_| bad())?,
        arena: num("arena")?.parse().map_err(|_| bad())?,
        state: num("state")?.parse().map_err(|_| bad())?,
        output_fnv: u32::from_str_radix(hex.trim_start_matches("0x"), 16).map_err(|_| bad())?,
    })
}

/// Parses the firmware's per-layer profile (`layer <index> <ticks> <unit>` lines, in layer
/// order) into ticks per layer; empty when the log has none (an older firmware).
pub fn parse_layers(lines: &[String]) -> Result<Vec<u32>, String> {
    let mut ticks = Vec::new();
    for l in lines {
        let Some(rest) = l.strip_prefix("layer ") else {
            continue;
        };
        let bad = || format!("unexpected layer line: {l}");
        let mut w = rest.split_whitespace();
        let index: usize = w.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let t: u32 = w.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        if !matches!(w.next(), Some("qemu-ticks" | "cycles")) || index != ticks.len() {
            return Err(bad());
        }
        ticks.push(t);
    }
    Ok(ticks)
}

/// `[1, 2, 3]` as defmt prints a byte slice.
fn byte_list(list: &str) -> Option<Vec<u8>> {
    let inner = list.trim().strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    inner.split(',').map(|b| b.trim().parse().ok()).collect()
}

/// One input of a validate run, as the device computed it.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidateInput {
    /// Every layer's output tensor, bytes in the model's storage type (little-endian f32 or
    /// i8).
    pub outputs: Vec<Vec<u8>>,
    /// Counter ticks of the bare inference.
    pub ticks: u32,
    /// `"qemu-ticks"` or `"cycles"`.
    pub unit: &'static str,
    /// The anomaly score.
    pub error: f32,
    /// The verdict.
    pub anomalous: bool,
}

/// A validate run on the device.
#[derive(Clone, Debug)]
pub struct ValidateRun {
    /// Per input, in order.
    pub inputs: Vec<ValidateInput>,
    /// The arena, bytes.
    pub arena: usize,
    /// Stack the bare inference used below its caller, bytes (deepest over the inputs).
    pub stack: usize,
}

/// Parses the validate demo's log.
pub fn parse_validate(lines: &[String]) -> Result<ValidateRun, String> {
    let bad = |l: &str| format!("unexpected log line: {l}");
    let mut inputs: Vec<ValidateInput> = Vec::new();
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let (mut arena, mut stack) = (None, None);
    for l in lines {
        let num = |k: &str| -> Result<&str, String> { field(l, k).ok_or_else(|| bad(l)) };
        if let Some(rest) = l.strip_prefix("output ") {
            let mut w = rest.splitn(3, ' ');
            let i: Option<usize> = w.next().and_then(|v| v.parse().ok());
            let layer: Option<usize> = w.next().and_then(|v| v.parse().ok());
            if i != Some(inputs.len()) || layer != Some(pending.len()) {
                return Err(bad(l));
            }
            pending.push(w.next().and_then(byte_list).ok_or_else(|| bad(l))?);
        } else if l.starts_with("input ") {
            if num("input")?.parse::<usize>().ok() != Some(inputs.len()) {
                return Err(bad(l));
            }
            let mut w = l.split_whitespace().skip(3);
            let ticks = w
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(l))?;
            let unit = match w.next() {
                Some("qemu-ticks") => "qemu-ticks",
                Some("cycles") => "cycles",
                _ => return Err(bad(l)),
            };
            inputs.push(ValidateInput {
                outputs: std::mem::take(&mut pending),
                ticks,
                unit,
                error: num("error")?.parse().map_err(|_| bad(l))?,
                anomalous: num("anomalous")?.parse().map_err(|_| bad(l))?,
            });
        } else if l.starts_with("validate stack ") {
            stack = Some(num("stack")?.parse().map_err(|_| bad(l))?);
        } else if l.starts_with("validate ") {
            arena = Some(num("arena")?.parse().map_err(|_| bad(l))?);
        } else if l.starts_with("inference failed") || l.starts_with("panic") {
            return Err(format!("on the device: {l}"));
        }
    }
    Ok(ValidateRun {
        inputs,
        arena: arena.ok_or("the validate log has no header line")?,
        stack: stack.ok_or("the validate log has no stack line (the run did not finish)")?,
    })
}

/// One sample's results as logged by the firmware.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSample {
    /// Reconstruction error.
    pub error: f32,
    /// Verdict.
    pub anomalous: bool,
    /// Timer ticks of `score`.
    pub score_ticks: u32,
    /// Timer ticks of `denoise`.
    pub denoise_ticks: u32,
    /// The reconstruction, bit for bit.
    pub recon: Vec<f32>,
}

/// A whole firmware run.
#[derive(Clone, Debug)]
pub struct DeviceRun {
    /// Per sample.
    pub samples: Vec<DeviceSample>,
    /// Stack high-water mark in bytes.
    pub stack: usize,
    /// The threshold the device learned from the samples by the model's rule (`None` for a
    /// hand-set threshold; absent in the logs of older firmware).
    pub learned: Option<f32>,
    /// The learned threshold as read back from the firmware's storage.
    pub stored: Option<f32>,
}

/// Parses the firmware's log lines.
pub fn parse_run(lines: &[String]) -> Result<DeviceRun, String> {
    let mut samples: Vec<DeviceSample> = Vec::new();
    let mut stack = None;
    let mut learned = None;
    let mut stored = None;
    let bad = |l: &str| format!("unexpected log line: {l}");
    for l in lines {
        if l.starts_with("sample ") {
            let num = |k: &str| -> Result<&str, String> { field(l, k).ok_or_else(|| bad(l)) };
            samples.push(DeviceSample {
                error: num("error")?.parse().map_err(|_| bad(l))?,
                anomalous: num("anomalous")?.parse().map_err(|_| bad(l))?,
                score_ticks: num("score")?.parse().map_err(|_| bad(l))?,
                denoise_ticks: num("denoise")?.parse().map_err(|_| bad(l))?,
                recon: Vec::new(),
            });
        } else if let Some(rest) = l.strip_prefix("recon ") {
            let (i, list) = rest.split_once(' ').ok_or_else(|| bad(l))?;
            let i: usize = i.parse().map_err(|_| bad(l))?;
            let bytes = byte_list(list).ok_or_else(|| bad(l))?;
            let s = samples.get_mut(i).ok_or_else(|| bad(l))?;
            s.recon = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
        } else if let Some(rest) = l.strip_prefix("stack high-water ") {
            stack = rest.trim_end_matches(" B").parse().ok();
        } else if let Some(rest) = l.strip_prefix("learned threshold ") {
            learned = rest.parse().ok();
        } else if let Some(rest) = l.strip_prefix("stored threshold ") {
            stored = rest.parse().ok();
        } else if l.starts_with("inference failed") || l.starts_with("panic") {
            return Err(l.clone());
        }
    }
    Ok(DeviceRun {
        samples,
        stack: stack.ok_or("no stack high-water line")?,
        learned,
        stored,
    })
}

/// One scored window of a series model streamed on the device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DevicePoint {
    /// The row whose push completed the window.
    pub row: usize,
    /// The window's reconstruction error.
    pub error: f32,
    /// Its anomaly score.
    pub score: f32,
    /// Its verdict.
    pub anomalous: bool,
    /// Counter ticks of that push (inference and scoring included).
    pub push_ticks: u32,
}

/// A series model's run on the device.
#[derive(Clone, Debug)]
pub struct StreamRun {
    /// Every scored window, in order.
    pub points: Vec<DevicePoint>,
    /// Rows pushed.
    pub rows: usize,
    /// Most ticks a push that scored nothing took (the window shift alone).
    pub unscored_push_max: u32,
    /// The stream buffer (window and range of values seen), bytes.
    pub buffer_bytes: usize,
    /// The `Stream` value, bytes.
    pub state_bytes: usize,
    /// Stack high-water mark in bytes.
    pub stack: usize,
}

/// Parses the log of a series model's run.
pub fn parse_stream(lines: &[String]) -> Result<StreamRun, String> {
    let bad = |l: &str| format!("unexpected log line: {l}");
    let mut points = Vec::new();
    let mut summary = None;
    let mut stack = None;
    for l in lines {
        let num = |k: &str| -> Result<&str, String> { field(l, k).ok_or_else(|| bad(l)) };
        if l.starts_with("point ") {
            points.push(DevicePoint {
                row: num("point")?.parse().map_err(|_| bad(l))?,
                error: num("error")?.parse().map_err(|_| bad(l))?,
                score: num("score")?.parse().map_err(|_| bad(l))?,
                anomalous: num("anomalous")?.parse().map_err(|_| bad(l))?,
                push_ticks: num("push")?.parse().map_err(|_| bad(l))?,
            });
        } else if l.starts_with("stream rows ") {
            summary = Some((
                num("rows")?.parse().map_err(|_| bad(l))?,
                num("unscored-push-max")?.parse().map_err(|_| bad(l))?,
                num("buffer")?.parse().map_err(|_| bad(l))?,
                num("state")?.parse().map_err(|_| bad(l))?,
            ));
        } else if let Some(rest) = l.strip_prefix("stack high-water ") {
            stack = rest.trim_end_matches(" B").parse().ok();
        } else if l.starts_with("inference failed") || l.starts_with("panic") {
            return Err(l.clone());
        }
    }
    let (rows, unscored_push_max, buffer_bytes, state_bytes) =
        summary.ok_or("no stream summary line")?;
    Ok(StreamRun {
        points,
        rows,
        unscored_push_max,
        buffer_bytes,
        state_bytes,
        stack: stack.ok_or("no stack high-water line")?,
    })
}
