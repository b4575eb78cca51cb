//! Series models: the series record round-trips and is validated, and `Stream` scores the
//! same windows `Model::score` does, when it should.

mod common;

use aedge_runtime::calibrate::{ranges, RangeMethod};
use aedge_runtime::ir::{Graph, Layer, Series};
use aedge_runtime::{
    Activation, AlignedBytes, Error, ErrorStats, Likelihood, Model, Precision, Running, Shape,
    Stream, CORROBORATION, FIRM, PATTERN_FLOOR,
};
use common::Rng;

const WINDOW: u16 = 8;

/// A dense autoencoder `WINDOW`×1×`channels` → `code` → back, with made-up weights and the
/// error statistics of its calibration.
fn dense_ae(name: &str, channels: u16, code: u16, seed: u64) -> Graph {
    let mut r = Rng(seed);
    let input = Shape::new(WINDOW, 1, channels);
    let (n, k) = (input.len(), code as usize);
    let mut g = Graph::new(name, input);
    g.push(Layer::dense(
        code,
        r.vec(k * n, -0.3, 0.3),
        r.vec(k, -0.1, 0.1),
        Activation::Tanh,
    ));
    g.push(Layer::dense(
        n as u16,
        r.vec(k * n, -0.3, 0.3),
        r.vec(n, -0.1, 0.1),
        Activation::Identity,
    ));
    g.encoder_layers = 1;
    g.errors = ErrorStats {
        count: 500,
        mean: 0.2,
        std: 0.05,
        ..ErrorStats::default()
    };
    g
}

/// A 8×1×2 → 4 → 8×1×2 dense autoencoder over two channels, with a series record.
fn series_graph(stride: u16) -> Graph {
    let mut g = dense_ae("series", 2, 4, 3);
    g.preprocess_scale = vec![0.5, 2.0];
    g.preprocess_offset = vec![-1.0, 0.25];
    g.series = Some(Series {
        columns: vec!["temp".into(), "current".into()],
        stride,
        tail: WINDOW,
        likelihood: Likelihood::NAB,
        range: Vec::new(),
        period: 0,
        seasonal: Default::default(),
        pattern: None,
    });
    g
}

fn signal(t: usize) -> [f32; 2] {
    let x = t as f32 * 0.3;
    [2.0 + x.sin(), 0.1 * x.cos()]
}

#[test]
fn series_record_round_trips() {
    let bytes = AlignedBytes::from(series_graph(3).to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let s = m.series().unwrap();
    assert_eq!((s.columns, s.stride), ("temp,current", 3));
    assert_eq!(s.likelihood, Likelihood::NAB);
}

#[test]
fn bad_series_records_are_refused() {
    let mut g = series_graph(0);
    assert!(matches!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph { reason, .. }) if reason.contains("stride")
    ));
    g.series.as_mut().unwrap().stride = 1;
    g.series.as_mut().unwrap().columns = vec!["temp".into()];
    assert!(matches!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph { reason, .. }) if reason.contains("columns")
    ));
    g.series.as_mut().unwrap().columns = vec!["a,b".into(), "c".into()];
    assert!(g.to_aedge(Precision::F32).is_err());
    g.series.as_mut().unwrap().columns = vec!["a".into(), "b".into()];
    g.series.as_mut().unwrap().likelihood.alarm = f32::NAN;
    assert!(g.to_aedge(Precision::F32).is_err());
}

/// Pushes `n` samples; returns, per sample, the point the stream gave.
fn stream_points(bytes: &[u8], n: usize) -> Vec<Option<aedge_runtime::Point>> {
    let bytes = AlignedBytes::copy_from(bytes);
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut buffer = vec![0.0; Stream::buffer_len(&m)];
    let mut s = Stream::new(m, &mut buffer).unwrap();
    (0..n)
        .map(|t| s.push(&signal(t), &mut arena).unwrap())
        .collect()
}

#[test]
fn stream_scores_every_stride_once_the_window_is_full() {
    for precision in [Precision::F32, Precision::Int8] {
        let g = series_graph(3);
        let bytes = match precision {
            Precision::Int8 => {
                let calib: Vec<Vec<f32>> = (0..40)
                    .map(|s| (s..s + WINDOW as usize).flat_map(signal).collect())
                    .collect();
                let r =
                    ranges(&g, calib.iter().map(|v| v.as_slice()), RangeMethod::MinMax).unwrap();
                g.to_aedge_int8(&r).unwrap()
            }
            p => g.to_aedge(p).unwrap(),
        };
        let points = stream_points(&bytes, 30);
        let m_bytes = AlignedBytes::copy_from(&bytes);
        let m = Model::parse(&m_bytes).unwrap();
        let mut arena = AlignedBytes::zeroed(m.arena_len());
        let mut running = Running::new(Likelihood::NAB, 500, 0.2, 0.05);
        for (t, p) in points.iter().enumerate() {
            let last = WINDOW as usize - 1;
            let due = t >= last && (t - last).is_multiple_of(3);
            assert_eq!(p.is_some(), due, "{precision} sample {t}");
            if let Some(p) = p {
                let window: Vec<f32> = (t - last..=t).flat_map(signal).collect();
                let error = m.score(&window, &mut arena).unwrap().error;
                assert_eq!(p.error.to_bits(), error.to_bits(), "{precision} sample {t}");
                assert_eq!(*p, running.update(error, None, false, None));
            }
        }
    }
}

#[test]
fn stream_checks_its_buffers_and_samples() {
    let bytes = AlignedBytes::from(series_graph(1).to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut short = vec![0.0; 3];
    assert!(matches!(
        Stream::new(m, &mut short),
        Err(Error::BadLength { .. })
    ));
    let mut buffer = vec![0.0; Stream::buffer_len(&m)];
    let mut s = Stream::new(m, &mut buffer).unwrap();
    assert!(matches!(
        s.push(&[1.0], &mut arena),
        Err(Error::BadLength { .. })
    ));
    assert_eq!(
        s.push(&[1.0, f32::NAN], &mut arena),
        Err(Error::NonFiniteInput { index: 1 })
    );
    let plain = AlignedBytes::from(common::dense_ae(1).to_aedge(Precision::F32).unwrap());
    let plain = Model::parse(&plain).unwrap();
    let mut w = vec![0.0; Stream::buffer_len(&plain)];
    assert!(matches!(
        Stream::new(plain, &mut w),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn likelihood_flags_a_jump_then_adapts_to_it() {
    let mut r = Rng(7);
    let mut run = Running::new(Likelihood::NAB, 1000, 1.0, 0.1);
    let normal: Vec<f32> = (0..300)
        .map(|_| {
            let p = run.update(1.0 + r.uniform(-0.15, 0.15), None, false, None);
            p.score
        })
        .collect();
    assert!(normal.iter().all(|&s| s < 0.5), "normal errors flagged");
    let jump: Vec<_> = (0..200)
        .map(|_| run.update(3.0, None, false, None))
        .collect();
    assert!(jump[0].anomalous, "a 20σ jump is not flagged");
    // A level that persists becomes part of the distribution: the score falls.
    assert!(jump[199].score < jump[0].score && !jump[199].anomalous);
    // Uncalibrated: the first window gives 0, later ones are measured against it.
    let mut fresh = Running::new(Likelihood::NAB, 0, 0.0, 0.0);
    assert_eq!(fresh.update(5.0, None, false, None).score, 0.0);
}

#[test]
fn a_tail_scores_the_newest_rows_only() {
    let mut g = series_graph(1);
    g.series.as_mut().unwrap().tail = 2;
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let points = stream_points(&bytes, WINDOW as usize);
    let p = points.last().unwrap().unwrap();
    // By hand: the squared errors of the last two rows (4 values), in model units.
    let window: Vec<f32> = (0..WINDOW as usize).flat_map(signal).collect();
    let mut y = vec![0.0; window.len()];
    m.reconstruct(&window, &mut y, &mut arena).unwrap();
    let s = m.scaling();
    let n = window.len();
    let by_hand: f32 = (n - 4..n)
        .map(|i| (s.to_model(i, window[i]) - y[i]).powi(2))
        .sum::<f32>()
        / 4.0;
    assert!(
        (p.error - by_hand).abs() <= 1e-6 * by_hand.max(1.0),
        "{} vs {by_hand}",
        p.error
    );
    assert_ne!(p.error, m.score(&window, &mut arena).unwrap().error);
    g.series.as_mut().unwrap().tail = WINDOW + 1;
    assert!(g.to_aedge(Precision::F32).is_err());
}

#[test]
fn range_hold_and_novelty_round_trip_and_are_checked() {
    let mut g = series_graph(1);
    let l = Likelihood {
        hold: 12,
        novelty: 100.0,
        ..Likelihood::NAB
    };
    let series = g.series.as_mut().unwrap();
    series.likelihood = l;
    series.range = vec![[1.0, 3.0], [-0.1, 0.1]];
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    assert_eq!(m.series().unwrap().likelihood, l);
    assert_eq!(m.series_range(), [1.0, 3.0, -0.1, 0.1]);
    for bad in [
        vec![[1.0, 3.0]],
        vec![[3.0, 1.0], [0.0, 0.0]],
        vec![[f32::NAN, 1.0], [0.0, 0.0]],
    ] {
        g.series.as_mut().unwrap().range = bad;
        assert!(g.to_aedge(Precision::F32).is_err());
    }
    g.series.as_mut().unwrap().range = Vec::new();
    g.series.as_mut().unwrap().likelihood.novelty = -1.0;
    assert!(g.to_aedge(Precision::F32).is_err());
}

#[test]
fn version_5_series_records_load_without_range_or_hold() {
    // Hold 0, novelty 0, an empty range, period 0 and empty seasonal statistics are the last
    // 17 bytes of the series record, all zero, as are the latent and pattern records' `None`s
    // after them: version 5's record is the same bytes 18 shorter (17, and no pattern record).
    let mut f = series_graph(2).to_aedge(Precision::F32).unwrap();
    let graph_len = u32::from_le_bytes(f[8..12].try_into().unwrap()) as usize;
    assert_eq!(f[32 + graph_len - 19..32 + graph_len], [0; 19]);
    f[8..12].copy_from_slice(&(graph_len as u32 - 18).to_le_bytes());
    f[4..6].copy_from_slice(&5u16.to_le_bytes());
    aedge_runtime::update_checksum(&mut f);
    let b = AlignedBytes::copy_from(&f);
    let m = Model::parse(&b).unwrap();
    let s = m.series().unwrap();
    assert_eq!((m.format_version(), s.stride), (5, 2));
    assert_eq!(s.likelihood, Likelihood::NAB);
    assert!(m.series_range().is_empty());
}

#[test]
fn a_value_beyond_the_range_seen_raises_the_score_once() {
    let mut g = series_graph(1);
    let series = g.series.as_mut().unwrap();
    series.likelihood.novelty = 100.0;
    // The signal's range: temp 1..3, current -0.1..0.1.
    series.range = vec![[1.0, 3.0], [-0.1, 0.1]];
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut buffer = vec![0.0; Stream::buffer_len(&m)];
    let mut s = Stream::new(m, &mut buffer).unwrap();
    let mut last = None;
    for t in 0..20 {
        last = s.push(&signal(t), &mut arena).unwrap();
    }
    let inside = last.unwrap();
    assert!(inside.level < 0.5, "{inside:?}");
    // Novel on the second channel only: the window's level gains 100 (100 / 107 at least).
    let beyond = s.push(&[2.0, 0.2], &mut arena).unwrap().unwrap();
    assert!(beyond.level >= 100.0 / 107.0, "{beyond:?}");
    // The range now reaches 0.2: the same value again is not novel.
    let again = s.push(&[2.0, 0.2], &mut arena).unwrap().unwrap();
    assert!(again.level < 100.0 / 107.0, "{again:?}");
}

#[test]
fn the_hold_reports_an_event_once_then_expires() {
    let l = Likelihood {
        hold: 5,
        ..Likelihood::NAB
    };
    let mut run = Running::new(l, 1000, 1.0, 0.1);
    let p = run.update(1.0, None, false, None);
    assert_eq!(p.score, p.level);
    // A jump that stays: its first window is reported; the next five, lower as the
    // distribution takes the new level in, are held at 0; then the hold expires.
    let jump: Vec<_> = (0..7).map(|_| run.update(3.0, None, false, None)).collect();
    assert!(jump[0].anomalous && jump[0].score == jump[0].level);
    for p in &jump[1..6] {
        assert!(p.score == 0.0 && p.level > 0.5 && !p.anomalous, "{p:?}");
    }
    assert!(jump[6].score == jump[6].level && jump[6].anomalous);
    // Without a hold every window is reported.
    let mut open = Running::new(Likelihood::NAB, 1000, 1.0, 0.1);
    open.update(3.0, None, false, None);
    let p = open.update(3.0, None, false, None);
    assert_eq!(p.score, p.level);
}

#[test]
fn a_firm_report_holds_higher_levels_a_weak_one_does_not() {
    let l = Likelihood {
        hold: 5,
        ..Likelihood::NAB
    };
    let mut run = Running::new(l, 1000, 1.0, 0.1);
    run.update(1.0, None, false, Some(0.0));
    // Pattern reports put the levels where the test wants them: 0.92, then 0.98, then 1.
    let weak = run.update(1.0, None, false, Some(0.2));
    assert!(weak.score > 0.0 && weak.level < FIRM, "{weak:?}");
    // A higher level within a weak report's hold is reported.
    let firm = run.update(1.0, None, false, Some(0.8));
    assert!(firm.score == firm.level && firm.level >= FIRM, "{firm:?}");
    // Within a firm report's hold, even a higher level is not.
    let higher = run.update(1.0, None, false, Some(1.0));
    assert!(
        higher.level > firm.level && higher.score == 0.0,
        "{higher:?}"
    );
    for _ in 0..4 {
        assert_eq!(run.update(1.0, None, false, Some(1.0)).score, 0.0);
    }
    // The hold has run out: the next report goes through.
    let after = run.update(1.0, None, false, Some(1.0));
    assert!(after.score > 0.0, "{after:?}");
}

#[test]
fn an_unusual_error_in_the_patterns_step_raises_its_report() {
    let report = |before: &[f32]| {
        let mut run = Running::new(Likelihood::NAB, 1000, 1.0, 0.1);
        // The memory's previous point ends the step before.
        run.update(1.0, None, false, Some(0.0));
        for &e in before {
            run.update(e, None, false, None);
        }
        run.update(1.0, None, false, Some(0.3))
    };
    let quiet = report(&[1.0, 1.0]);
    let level = |c: f32| PATTERN_FLOOR + (1.0 - PATTERN_FLOOR) * c;
    assert!(
        quiet.level >= level(0.3) && quiet.level < level(0.33),
        "{quiet:?}"
    );
    assert_eq!(quiet.pattern, 0.3);
    // A large error two rows before, in the same step: the report counts for more.
    let seen = report(&[3.0, 1.0]);
    assert!(seen.level > level(0.3 + 0.8 * CORROBORATION), "{seen:?}");
    assert_eq!(seen.pattern, 0.3);
    // The same error before the previous point does not.
    let mut run = Running::new(Likelihood::NAB, 1000, 1.0, 0.1);
    run.update(3.0, None, false, None);
    run.update(1.0, None, false, Some(0.0));
    let earlier = run.update(1.0, None, false, Some(0.3));
    assert!(earlier.level < level(0.33), "{earlier:?}");
}

#[test]
fn a_sample_unlike_the_one_a_period_earlier_raises_the_level() {
    const PERIOD: usize = 20;
    let mut g = series_graph(1);
    let series = g.series.as_mut().unwrap();
    series.period = PERIOD as u16;
    series.seasonal = aedge_runtime::Moments {
        count: 100,
        mean: 1e-3,
        std: 1e-3,
    };
    let bytes = AlignedBytes::from(g.to_aedge(Precision::F32).unwrap());
    let m = Model::parse(&bytes).unwrap();
    assert_eq!(
        Stream::buffer_len(&m),
        WINDOW as usize * 2 + 2 * 2 + PERIOD * 2
    );
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let mut buffer = vec![0.0; Stream::buffer_len(&m)];
    let mut s = Stream::new(m, &mut buffer).unwrap();
    // A cycle of PERIOD samples, repeated exactly: the seasonal differences are zero.
    let cycle = |t: usize| {
        let x = (t % PERIOD) as f32 * core::f32::consts::TAU / PERIOD as f32;
        [2.0 + x.sin(), 0.1 * x.cos()]
    };
    let mut last = None;
    for t in 0..5 * PERIOD {
        last = s.push(&cycle(t), &mut arena).unwrap();
    }
    let steady = last.unwrap();
    // The next sample repeats an earlier phase instead (inside the range seen): only the
    // comparison with a period earlier can tell.
    let off = s
        .push(&cycle(5 * PERIOD + PERIOD / 2), &mut arena)
        .unwrap()
        .unwrap();
    assert!(
        off.level > 0.9 && off.level > steady.level,
        "{steady:?} {off:?}"
    );
}

/// A one-channel 8-row series model whose stream also keeps a pattern memory fitted on
/// `normal` (a stretch of the signal).
fn pattern_graph(normal: &[f32]) -> Graph {
    let mut g = dense_ae("patterns", 1, 3, 5);
    g.series = Some(Series {
        columns: vec!["value".into()],
        stride: 1,
        tail: 1,
        likelihood: Likelihood::NAB,
        range: Vec::new(),
        period: 0,
        seasonal: Default::default(),
        pattern: aedge_runtime::pattern::fit(normal, aedge_runtime::pattern::LEVELS),
    });
    g
}

/// A daily-like wave of 48 rows with a little deterministic wobble.
fn wave(t: usize) -> f32 {
    let x = t as f32 * std::f32::consts::TAU / 48.0;
    10.0 + 3.0 * x.sin() + 0.05 * ((t * 7919) % 13) as f32
}

#[test]
fn a_new_shape_is_reported_by_the_pattern_memory_once_learned() {
    let normal: Vec<f32> = (0..600).map(wave).collect();
    let g = pattern_graph(&normal);
    let d = g.series.as_ref().unwrap().pattern.unwrap();
    assert_eq!((d.step, d.window, d.warmup), (5, 8, 120));
    assert!(d.low < 7.0 && d.high > 13.0 && d.vigilance > 0.0 && d.vigilance <= 1.0);
    for p in [Precision::F32, Precision::Int8] {
        let bytes = AlignedBytes::from(match p {
            Precision::Int8 => {
                let calib: Vec<Vec<f32>> = (0..50)
                    .map(|i| (i * 10..i * 10 + 8).map(wave).collect())
                    .collect();
                let r =
                    ranges(&g, calib.iter().map(|v| v.as_slice()), RangeMethod::MinMax).unwrap();
                g.to_aedge_int8(&r).unwrap()
            }
            _ => g.to_aedge(p).unwrap(),
        });
        let m = Model::parse(&bytes).unwrap();
        assert_eq!(m.pattern(), Some(&d));
        let mut arena = AlignedBytes::zeroed(m.arena_len());
        let mut buffer = vec![0.0; Stream::buffer_len(&m)];
        let mut s = Stream::new(m, &mut buffer).unwrap();
        // Normal rows (the memory learns their shapes, then keeps quiet), then a stretch
        // where the wave stalls at a level it passes through but never holds.
        let mut reports = Vec::new();
        for t in 0..3000 {
            let x = if (2400..2460).contains(&t) {
                11.5
            } else {
                wave(t)
            };
            if let Some(point) = s.push(&[x], &mut arena).unwrap() {
                if point.pattern > 0.0 {
                    assert!(point.level >= aedge_runtime::PATTERN_FLOOR, "{point:?}");
                    reports.push(t);
                }
            }
        }
        assert!(
            reports.iter().any(|t| (2400..2520).contains(t)),
            "{p}: the stall is not reported (reports at {reports:?})"
        );
        assert!(
            reports
                .iter()
                .filter(|&&t| (1200..2400).contains(&t))
                .count()
                <= 1,
            "{p}: the learned wave keeps being reported: {reports:?}"
        );
        let categories = s.patterns().unwrap().categories();
        assert!((1..=256).contains(&categories), "{categories}");
    }
}

#[test]
fn bad_pattern_records_are_refused() {
    let normal: Vec<f32> = (0..600).map(wave).collect();
    let mut g = pattern_graph(&normal);
    let good = g.series.as_ref().unwrap().pattern.unwrap();
    for (bad, why) in [
        (
            aedge_runtime::PatternDesc { window: 6, ..good },
            "power of two",
        ),
        (
            aedge_runtime::PatternDesc { levels: 0, ..good },
            "at least 1",
        ),
        (
            aedge_runtime::PatternDesc {
                low: good.high,
                ..good
            },
            "low < high",
        ),
        (
            aedge_runtime::PatternDesc {
                vigilance: f32::NAN,
                ..good
            },
            "vigilance",
        ),
    ] {
        g.series.as_mut().unwrap().pattern = Some(bad);
        assert!(
            matches!(g.to_aedge(Precision::F32), Err(Error::InvalidGraph { reason, .. }) if reason.contains(why)),
            "{bad:?}"
        );
    }
    // Two channels: the memory reads one.
    let mut two = series_graph(1);
    two.series.as_mut().unwrap().pattern = Some(good);
    assert!(matches!(
        two.to_aedge(Precision::F32),
        Err(Error::InvalidGraph { reason, .. }) if reason.contains("one-channel")
    ));
    // Too short a normal stretch for two windows of points.
    assert_eq!(aedge_runtime::pattern::fit(&normal[..10], 80), None);
    assert_eq!(aedge_runtime::pattern::fit(&normal, 1), None);
}
