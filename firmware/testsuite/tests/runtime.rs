//! aedge-runtime on the Cortex-M4F (QEMU mps2-an386), with the model the firmware embeds:
//! `cd firmware && cargo test -p aedge-firmware-testsuite`. A failing test panics, which ends
//! QEMU with exit code 101 (see `aedge_firmware::fault`); all passing exits with 0.
#![no_std]
#![no_main]

use aedge_firmware as _;

#[defmt_test::tests]
mod tests {
    use aedge_firmware::{read_sample, ARENA_LEN, INPUT_LEN, MODEL, SAMPLE_COUNT, SERIES};
    use aedge_runtime::learn::{self, RamStorage};
    use aedge_runtime::{Arena, Error, Learner, Model};

    #[init]
    fn init() -> Model<'static> {
        // The embedded default is a whole-input model (firmware/models/).
        defmt::assert!(!SERIES);
        Model::parse(MODEL).unwrap()
    }

    #[test]
    fn the_embedded_model_needs_the_arena_build_rs_sized(m: &mut Model<'static>) {
        defmt::assert_eq!(m.arena_len(), ARENA_LEN);
        defmt::assert_eq!(m.input_shape().len(), INPUT_LEN);
    }

    #[test]
    fn scoring_twice_gives_the_same_bits(m: &mut Model<'static>) {
        let mut arena = Arena::<ARENA_LEN>::new();
        let mut x = [0.0f32; INPUT_LEN];
        read_sample(0, &mut x);
        let a = m.score(&x, arena.as_mut_slice()).unwrap();
        let b = m.score(&x, arena.as_mut_slice()).unwrap();
        defmt::assert_eq!(a.error.to_bits(), b.error.to_bits());
        defmt::assert_eq!(a.anomalous, a.error > a.threshold);
    }

    #[test]
    fn a_short_arena_is_an_error_not_a_fault(m: &mut Model<'static>) {
        let mut arena = Arena::<ARENA_LEN>::new();
        let x = [0.0f32; INPUT_LEN];
        let short = &mut arena.as_mut_slice()[..ARENA_LEN - 16];
        defmt::assert!(matches!(
            m.score(&x, short),
            Err(Error::ArenaTooSmall { .. })
        ));
    }

    #[test]
    fn a_non_finite_reading_is_refused(m: &mut Model<'static>) {
        let mut arena = Arena::<ARENA_LEN>::new();
        let mut x = [0.0f32; INPUT_LEN];
        x[INPUT_LEN / 2] = f32::NAN;
        defmt::assert_eq!(
            m.score(&x, arena.as_mut_slice()).unwrap_err(),
            Error::NonFiniteInput {
                index: INPUT_LEN / 2
            }
        );
    }

    /// The pattern memory's DSP byte kernels give the portable kernels' results, on every
    /// length from 0 to 40 (whole words and tails) and bytes from a fixed pseudo-random
    /// sequence, the extremes included.
    #[test]
    fn the_box_kernels_match_the_portable_ones() {
        use aedge_runtime::kernels::boxes;
        let mut state = 0x9e37_79b9u32;
        let mut byte = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            match state % 8 {
                0 => 0,
                1 => 255,
                _ => (state >> 24) as u8,
            }
        };
        for n in 0..=40 {
            let mut w = [0u8; 40];
            let mut x = [0u8; 40];
            for i in 0..n {
                w[i] = byte();
                x[i] = byte();
            }
            defmt::assert_eq!(
                boxes::overlap(&w[..n], &x[..n]),
                boxes::overlap_generic(&w[..n], &x[..n])
            );
            let mut fast = w;
            let mut portable = w;
            boxes::learn(&mut fast[..n], &x[..n]);
            boxes::learn_generic(&mut portable[..n], &x[..n]);
            defmt::assert_eq!(fast, portable);
        }
    }

    #[test]
    fn truncated_bytes_are_refused() {
        defmt::assert!(Model::parse(&MODEL[..MODEL.len() / 2]).is_err());
        defmt::assert!(Model::parse(&MODEL[..8]).is_err());
    }

    #[test]
    fn a_learned_threshold_survives_storage_and_a_torn_record_reads_as_none(
        m: &mut Model<'static>,
    ) {
        let mut arena = Arena::<ARENA_LEN>::new();
        let mut x = [0.0f32; INPUT_LEN];
        let mut scores = [0.0f32; SAMPLE_COUNT];
        let mut learner = Learner::new(&mut scores);
        for i in 0..SAMPLE_COUNT {
            read_sample(i, &mut x);
            learner.observe(m, &x, arena.as_mut_slice()).unwrap();
        }
        let (t, _) = learner.threshold(m.threshold_rule()).unwrap();
        let mut storage = RamStorage::<64>::new();
        learn::save(&mut storage, 16, m, t).unwrap();
        defmt::assert_eq!(
            learn::load(&mut storage, 16, m).unwrap().map(f32::to_bits),
            Some(t.to_bits())
        );
        // A torn record reads as none.
        storage.0[20] ^= 0xff;
        defmt::assert_eq!(learn::load(&mut storage, 16, m).unwrap(), None);
    }
}
