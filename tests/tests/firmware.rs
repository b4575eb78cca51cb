//! The firmware end to end: three trained int8 models (a dense anomaly scorer, a conv
//! denoiser and a U-Net denoiser with skip connections) and their f32 versions, plus the MLPerf Tiny AD model imported from int8 TFLite
//! (whose check vector must give TFLite Micro's outputs on the device) and a converter-made
//! int8 TFLite conv autoencoder (TFLite Micro's outputs too), are built into
//! `firmware/`, run on QEMU's mps2-an386
//! (Cortex-M4F), and compared with aedge-runtime on this host: int8 bit-identical, f32 within
//! 1e-5. Prints flash, static RAM, arena, stack high-water mark and instructions per inference.
//! A series model is streamed one sample at a time and its every scored window compared too,
//! and the pattern memory's worst case (a match against a full memory) is measured.
//! Needs qemu-system-arm (scripts/test.sh installs it).

use aedge_runtime::{AlignedBytes, Model};
use aedge_tests::firmware::{self, check};
use aedge_tests::repo_root;

#[test]
fn firmware_matches_the_host_in_qemu() {
    let mut models = firmware::train_models().unwrap();
    models.push(firmware::mlperf_tflite_model().unwrap());
    let (conv_ae, conv_ae_tflm) = firmware::tflite_conv_model().unwrap();
    models.push(conv_ae);
    models.push(firmware::per_tensor_model().unwrap());
    models.push(firmware::conv_shapes_model().unwrap());
    models.push(firmware::unet_model().unwrap());
    let work = repo_root().join("target/firmware-check");
    std::fs::create_dir_all(&work).unwrap();
    let target = firmware::target_dir();
    println!("| model | precision | flash B | static RAM B | arena B | stack B | score insns | denoise insns | run insns | run stack B | device vs host |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    // One build at a time: builds share the target directory.
    for m in &models {
        for (p, bytes) in &m.files {
            let r = check(m, *p, bytes, &work, &target).unwrap_or_else(|e| panic!("{e}"));
            let arena = Model::parse(&AlignedBytes::from(bytes.clone()))
                .unwrap()
                .arena_len();
            // The arena and the model are statics: RAM and flash hold them.
            assert!(r.sizes.ram as usize >= arena);
            assert!(r.sizes.flash as usize >= bytes.len());
            assert!(r.stack > 0 && r.score_insns > 0 && r.denoise_insns > 0);
            if m.name == "ad01-tflite" {
                // TFLite Micro's outputs for the README's check vector, computed on the device.
                let file = AlignedBytes::from(bytes.clone());
                let q = Model::parse(&file).unwrap().output_quant();
                let y: Vec<i8> = r.first_recon.iter().map(|&v| q.quantize(v)).collect();
                assert_eq!(
                    firmware::mlperf_check_summary(&y),
                    (5820, 23878, vec![-36, 10, 40, 56, 51, 52, 49, 66]),
                    "the device's outputs for the MLPerf AD check vector"
                );
                println!("ad01-tflite in QEMU: check vector sum 5820, weighted 23878, y[0..8] as TFLite Micro");
            }
            if m.name == "conv-ae-tflite" {
                // The device's reconstruction is TFLite Micro's, bit for bit.
                let same = r
                    .first_recon
                    .iter()
                    .zip(&conv_ae_tflm[0])
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "conv-ae-tflite in QEMU differs from TFLite Micro");
            }
            println!(
                "| {} | {p} | {} | {} | {arena} | {} | {} | {} | {} | {} | {} |",
                m.name,
                r.sizes.flash,
                r.sizes.ram,
                r.stack,
                r.score_insns,
                r.denoise_insns,
                r.run_insns,
                r.run_stack,
                r.agreement
            );
        }
    }
}

/// A series model streamed one sample at a time: every scored window as on the host, with
/// the per-sample cost.
#[test]
fn firmware_matches_the_host_in_qemu_for_series() {
    let work = repo_root().join("target/firmware-check");
    std::fs::create_dir_all(&work).unwrap();
    let target = firmware::target_dir();
    let series = firmware::series_model().unwrap();
    println!("| series model | precision | flash B | static RAM B | rows | windows scored | flagged | pattern reports (categories) | insns per scoring push (median / mean / max) | est. cycles per scoring push (median / mean / max) | insns per filling push | buffer + Stream B | stack B | device vs host |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (p, bytes) in &series.files {
        let r = firmware::check_stream(&series, *p, bytes, &work, &target)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.scored,
            r.rows - 23,
            "a 24-row window scored at every row once full"
        );
        assert!(r.push_insns > r.fill_insns && r.fill_insns > 0);
        assert!(
            r.flagged > 0,
            "the labelled anomaly in the streamed rows is not flagged"
        );
        assert!(
            r.patterns > 0,
            "no novel shape reported: the pattern memory's path is not exercised"
        );
        println!(
            "| {} | {p} | {} | {} | {} | {} | {} | {} ({}) | {} / {} / {} | {} | {} | {} | {} | {} |",
            series.name,
            r.sizes.flash,
            r.sizes.ram,
            r.rows,
            r.scored,
            r.flagged,
            r.patterns,
            r.categories,
            r.push_insns,
            r.mean_push_insns,
            r.max_push_insns,
            r.push_cycles.map_or("no cycle plugin".into(), |(m, a, x)| format!(
                "{m} / {a} / {x} ({:.3} ms at 120 MHz)",
                a as f64 / 120e3
            )),
            r.fill_insns,
            r.stream_bytes,
            r.stack,
            r.agreement
        );
    }
}

/// The pattern memory's worst case (`firmware/src/bin/patterns.rs`): a match of a pattern
/// against a full memory of `pattern::CAPACITY` categories, as a series stream pays on the
/// pushes that end a step, in instructions and, with the cycle plugin, estimated Cortex-M4
/// cycles.
#[test]
fn a_full_pattern_memory_is_measured_in_qemu() {
    use aedge::mcu;
    let work = repo_root().join("target/firmware-patterns");
    std::fs::create_dir_all(&work).unwrap();
    let elf = work.join("patterns.elf");
    mcu::build_micro(mcu::PATTERNS, &firmware::target_dir(), &elf).unwrap();
    let (raw, mut reads) = mcu::run_qemu_maybe_cycles(&elf, 120).unwrap();
    let lines = mcu::decode(&elf, &raw).unwrap();
    let full = lines
        .iter()
        .find_map(|l| l.strip_prefix("patterns full "))
        .unwrap_or_else(|| panic!("no summary line: {lines:?}"));
    let w: Vec<&str> = full.split_whitespace().collect();
    let capacity = aedge_runtime::pattern::CAPACITY as usize;
    assert_eq!(w[0].parse::<usize>().unwrap(), capacity, "{full}");
    assert_eq!(w[2].parse::<usize>().unwrap(), capacity, "{full}");
    let buffer: usize = w[w.len() - 2].parse().unwrap();
    let mut insns = Vec::new();
    let mut cycles = Vec::new();
    for l in lines.iter().filter_map(|l| l.strip_prefix("pattern push ")) {
        let n = mcu::instructions(l.split_whitespace().next().unwrap().parse().unwrap());
        if let Some(r) = reads.as_mut() {
            cycles.push(r.take(n).unwrap());
        }
        insns.push(n);
    }
    assert_eq!(insns.len(), 2048);
    // The first push compares the pattern with every category and learns it into none (the
    // vigilance is still 1); later ones, once the vigilance has adapted, also grow the boxes
    // of the categories the pattern resonates with.
    let first = insns[0];
    let worst = *insns.iter().max().unwrap();
    // Each category costs at least a box comparison of its 32 bytes.
    assert!(first > 20 * capacity as u64 && worst >= first, "{insns:?}");
    let cyc = match (cycles.first(), cycles.iter().max_by_key(|c| c.estimate)) {
        (Some(f), Some(w)) => format!(
            "{} / {} ({:.3} ms at 120 MHz)",
            f.estimate,
            w.estimate,
            w.ms_with_wait_states()[1].0
        ),
        _ => "no cycle plugin".into(),
    };
    println!(
        "| categories | buffer B | insns per match (alone / worst) | est. cycles (alone / worst) |"
    );
    println!("|---:|---:|---:|---|");
    println!("| {capacity} | {buffer} | {first} / {worst} | {cyc} |");
}
