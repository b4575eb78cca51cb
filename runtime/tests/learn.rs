//! Learning normal on the device: the learner's threshold is the host calibration's, bit for
//! bit, from the same samples.

mod common;

use aedge_runtime::calibrate::{threshold, RangeMethod};
use aedge_runtime::learn::threshold_in_place;
use aedge_runtime::precisions::{calibrate_thresholds, export_precisions};
use aedge_runtime::rng::SplitMix;
use aedge_runtime::{AlignedBytes, Error, Learner, Metric, Model, ThresholdRule};
use common::{conv_ae, images};

#[test]
fn the_in_place_threshold_is_the_host_calibration() {
    let mut r = SplitMix(11);
    for n in [1usize, 2, 7, 100, 1000] {
        let mut e: Vec<f32> = r.vec(n, 0.0, 3.0);
        if n > 2 {
            e[1] = f32::NAN;
            e[n - 1] = f32::INFINITY;
        }
        for rule in [
            ThresholdRule::Percentile(99.0),
            ThresholdRule::Percentile(50.0),
            ThresholdRule::MeanPlusKStd(3.0),
        ] {
            let host = threshold(&e, rule).unwrap();
            let mut buf = e.clone();
            let device = threshold_in_place(&mut buf, rule).unwrap();
            assert_eq!(host.0.to_bits(), device.0.to_bits(), "{n} {rule:?}");
            assert_eq!(host.1, device.1);
            assert_eq!(device.1.count as usize, if n > 2 { n - 2 } else { n });
        }
    }
    let mut none = [f32::NAN];
    assert!(threshold_in_place(&mut none, ThresholdRule::Percentile(99.0)).is_err());
}

#[test]
fn a_device_learns_the_threshold_the_host_calibrates() {
    for metric in [Metric::Mse, Metric::MseLatent] {
        let mut g = conv_ae(5);
        g.metric = metric;
        let data = images(6, 120, g.input);
        let (normal, held) = data.split_at(80);
        let mut files =
            export_precisions(&g, &normal[..16], &normal[..0], &[RangeMethod::MinMax]).unwrap();
        let rule = ThresholdRule::Percentile(95.0);
        calibrate_thresholds(&mut g, &mut files, &normal[..16], normal, held, rule).unwrap();
        for (precision, bytes) in files.files() {
            let b = AlignedBytes::from(bytes.to_vec());
            let mut m = Model::parse(&b).unwrap();
            let mut arena = AlignedBytes::zeroed(m.arena_len());
            let mut buffer = [0.0f32; 40];
            let mut learner = Learner::new(&mut buffer);
            for x in held {
                learner.observe(&m, x, &mut arena).unwrap();
            }
            assert!(learner.is_full());
            assert!(matches!(
                learner.observe(&m, &held[0], &mut arena),
                Err(Error::BadLength { .. })
            ));
            let (t, stats) = learner.threshold(m.threshold_rule()).unwrap();
            assert_eq!(
                t.to_bits(),
                m.threshold().to_bits(),
                "{metric} {precision}: learned {t}, calibrated {}",
                m.threshold()
            );
            assert_eq!(stats, m.error_stats());
            // A learned threshold replaces the file's in the parsed model.
            m.set_threshold(f32::NEG_INFINITY);
            assert!(m.score(&held[0], &mut arena).unwrap().anomalous);
        }
    }
}

#[test]
fn a_learned_threshold_survives_in_storage_for_its_model_only() {
    use aedge_runtime::learn::{load, save, RamStorage, SAVED_LEN};
    let g = conv_ae(1);
    let a = AlignedBytes::from(g.to_aedge(aedge_runtime::Precision::F32).unwrap());
    let b = AlignedBytes::from(conv_ae(2).to_aedge(aedge_runtime::Precision::F32).unwrap());
    let (ma, mb) = (Model::parse(&a).unwrap(), Model::parse(&b).unwrap());
    let mut ram = RamStorage::<64>::new();
    assert_eq!(
        load(&mut ram, 8, &ma).unwrap(),
        None,
        "erased storage holds nothing"
    );
    save(&mut ram, 8, &ma, 0.125).unwrap();
    assert_eq!(load(&mut ram, 8, &ma).unwrap(), Some(0.125));
    assert_eq!(
        load(&mut ram, 8, &mb).unwrap(),
        None,
        "another model's record"
    );
    // A torn or flipped record is ignored.
    ram.0[8 + 9] ^= 1;
    assert_eq!(load(&mut ram, 8, &ma).unwrap(), None);
    // Storage errors are errors.
    assert!(matches!(
        save(&mut ram, 64 - SAVED_LEN as u32 + 1, &ma, 1.0),
        Err(Error::Storage(_))
    ));
    assert!(matches!(load(&mut ram, 60, &ma), Err(Error::Storage(_))));
}
