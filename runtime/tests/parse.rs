//! Untrusted bytes: every kind of damage is a distinct error, never a panic.

mod common;

use aedge_runtime::ir::Layer;
use aedge_runtime::{
    update_checksum, Activation, AlignedBytes, Error, Model, Precision, Shape, FORMAT_VERSION,
    MIN_FORMAT_VERSION,
};
use common::{all_ops, conv_ae, dense_ae, Rng};
use proptest::prelude::*;

fn file() -> Vec<u8> {
    all_ops(9).to_aedge(Precision::F32).unwrap()
}

/// Parses, and when that succeeds runs every entry point; must never panic.
fn parse_and_run(bytes: &[u8]) -> Result<(), Error> {
    let b = AlignedBytes::copy_from(bytes);
    let m = Model::parse(&b)?;
    let mut arena = AlignedBytes::zeroed(m.arena_len());
    let x = vec![0.5f32; m.input_shape().len()];
    let mut y = vec![0.0; m.output_shape().len()];
    let mut z = vec![0.0; m.latent_shape().len()];
    m.reconstruct(&x, &mut y, &mut arena)?;
    m.encode(&x, &mut z, &mut arena)?;
    m.decode(&z, &mut y, &mut arena)?;
    m.score(&x, &mut arena)?;
    m.denoise(&x, &mut y, &mut arena)?;
    let _ = m.layers().count();
    Ok(())
}

#[test]
fn wrong_magic() {
    let mut f = file();
    f[0] = b'X';
    assert_eq!(parse_and_run(&f), Err(Error::BadMagic));
    assert_eq!(
        parse_and_run(b"PK\x03\x04 a zip file, not a model"),
        Err(Error::BadMagic)
    );
    assert_eq!(
        parse_and_run(b""),
        Err(Error::Truncated { needed: 32, got: 0 })
    );
}

#[test]
fn unknown_version() {
    let mut f = file();
    f[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(
        parse_and_run(&f),
        Err(Error::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        })
    );
    // Version 2, 3 and 4 files (no per-tensor requantization, no series record, no latent
    // record) still load; version 1 does not. An old file is a new one without the trailing
    // `None` bytes of the records it lacks.
    let mut f = file();
    assert_eq!(
        Model::parse(&AlignedBytes::copy_from(&f))
            .unwrap()
            .format_version(),
        FORMAT_VERSION
    );
    let graph_len = u32::from_le_bytes(f[8..12].try_into().unwrap());
    assert_eq!(
        f[32 + graph_len as usize - 3..32 + graph_len as usize],
        [0, 0, 0],
        "a model without series, latent and pattern records ends in three Nones"
    );
    f[8..12].copy_from_slice(&(graph_len - 1).to_le_bytes());
    f[4..6].copy_from_slice(&7u16.to_le_bytes());
    update_checksum(&mut f);
    assert_eq!(parse_and_run(&f), Ok(()));
    // Read as version 8, the same bytes lack the pattern record.
    f[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    update_checksum(&mut f);
    assert_eq!(
        parse_and_run(&f),
        Err(Error::Malformed("pattern record cannot be decoded"))
    );
    f[8..12].copy_from_slice(&(graph_len - 2).to_le_bytes());
    f[4..6].copy_from_slice(&4u16.to_le_bytes());
    update_checksum(&mut f);
    assert_eq!(parse_and_run(&f), Ok(()));
    // Read as version 5, the same bytes lack the latent record.
    f[4..6].copy_from_slice(&5u16.to_le_bytes());
    update_checksum(&mut f);
    assert_eq!(
        parse_and_run(&f),
        Err(Error::Malformed("latent record cannot be decoded"))
    );
    f[8..12].copy_from_slice(&(graph_len - 3).to_le_bytes());
    for version in [3, MIN_FORMAT_VERSION] {
        f[4..6].copy_from_slice(&version.to_le_bytes());
        update_checksum(&mut f);
        assert_eq!(parse_and_run(&f), Ok(()));
        let b = AlignedBytes::copy_from(&f);
        let m = Model::parse(&b).unwrap();
        assert_eq!((m.format_version(), m.series()), (version, None));
    }
    // Read as version 4, the same bytes lack the series record.
    f[4..6].copy_from_slice(&4u16.to_le_bytes());
    update_checksum(&mut f);
    assert_eq!(
        parse_and_run(&f),
        Err(Error::Malformed("series record cannot be decoded"))
    );
    f[4..6].copy_from_slice(&(MIN_FORMAT_VERSION - 1).to_le_bytes());
    update_checksum(&mut f);
    assert_eq!(
        parse_and_run(&f),
        Err(Error::UnsupportedVersion {
            found: MIN_FORMAT_VERSION - 1,
            supported: FORMAT_VERSION
        })
    );
}

#[test]
fn every_truncation_is_reported() {
    let f = file();
    for len in 0..f.len() {
        match parse_and_run(&f[..len]) {
            Err(Error::Truncated { got, .. }) => assert_eq!(got, len),
            other => panic!("truncated to {len}: {other:?}"),
        }
    }
    assert_eq!(parse_and_run(&f), Ok(()));
    // Trailing bytes (flash padding) are ignored.
    let mut padded = f.clone();
    padded.extend_from_slice(&[0xFF; 100]);
    assert_eq!(parse_and_run(&padded), Ok(()));
}

#[test]
fn every_flipped_byte_fails_the_checksum() {
    let f = file();
    for i in 32..f.len() {
        let mut g = f.clone();
        g[i] ^= 0x10;
        assert!(
            matches!(parse_and_run(&g), Err(Error::ChecksumMismatch { .. })),
            "byte {i}"
        );
    }
}

#[test]
fn misaligned_bytes_are_refused() {
    let f = file();
    let mut buf = AlignedBytes::zeroed(f.len() + 1);
    buf[1..].copy_from_slice(&f);
    assert_eq!(
        Model::parse(&buf[1..]).err(),
        Some(Error::Misaligned {
            what: "model bytes",
            align: 16
        })
    );
}

#[test]
fn inconsistent_graphs_are_refused_by_the_writer() {
    // Weights that do not match the layer's shape.
    let mut g = dense_ae(1);
    g.layers[0].weights.pop();
    assert_eq!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph {
            layer: 0,
            reason: "parameter data has the wrong size"
        })
    );
    // A chain whose reconstruction is not the input's size.
    let mut g = dense_ae(1);
    g.layers.truncate(1);
    assert!(matches!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph {
            layer: u16::MAX,
            ..
        })
    ));
    // A reshape that changes the number of elements.
    let mut g = conv_ae(1);
    g.layers.insert(
        1,
        Layer::op(aedge_runtime::Op::Reshape {
            to: Shape::vector(7),
        }),
    );
    assert_eq!(
        g.to_aedge(Precision::F16),
        Err(Error::InvalidGraph {
            layer: 1,
            reason: "reshape must keep the number of elements"
        })
    );
    // Activations on ops that cannot carry one.
    let mut g = conv_ae(1);
    g.layers[1].act = Activation::Relu;
    assert_eq!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph {
            layer: 1,
            reason: "this op cannot carry an activation"
        })
    );
    // More encoder layers than layers.
    let mut g = conv_ae(1);
    g.encoder_layers = 99;
    assert!(matches!(
        g.to_aedge(Precision::F32),
        Err(Error::InvalidGraph {
            layer: u16::MAX,
            ..
        })
    ));
}

#[test]
fn skip_connections_must_nest_and_match() {
    use aedge_runtime::zoo::small_unet;
    use aedge_runtime::Op;
    let refused = |g: &aedge_runtime::ir::Graph| match g.to_aedge(Precision::F32) {
        Err(Error::InvalidGraph { layer, reason }) => (layer, reason),
        other => panic!("accepted: {other:?}"),
    };
    // A Save never joined.
    let mut g = small_unet(1);
    g.layers.insert(12, Layer::op(Op::Save));
    assert_eq!(
        refused(&g),
        (
            u16::MAX,
            "a saved tensor is never used (each Save needs a later Add or Concat)"
        )
    );
    // A join with nothing saved.
    let mut g = small_unet(1);
    g.layers.remove(1);
    assert_eq!(
        refused(&g).1,
        "Add and Concat need a tensor saved by an earlier Save"
    );
    // Concat naming the wrong channel count, Add on a tensor of another shape.
    let mut g = small_unet(1);
    g.layers[11] = Layer::op(Op::Concat {
        channels: 4,
        saved_first: false,
    });
    assert_eq!(refused(&g).0, 11);
    let mut g = small_unet(1);
    g.layers.swap(7, 8); // Add before the upsampling: 7x7 against the saved 14x14
    assert_eq!(
        refused(&g),
        (7, "Add needs the saved tensor to have the input's shape")
    );
    // Five held at once.
    let mut g = small_unet(1);
    for _ in 0..3 {
        g.layers.insert(2, Layer::op(Op::Save));
        g.layers.insert(g.layers.len() - 1, Layer::op(Op::Add));
    }
    assert!(refused(&g).1.contains("at most 4"));
}

#[test]
fn errors_explain_themselves() {
    let msg = Error::ArenaTooSmall {
        needed: 100,
        got: 10,
    }
    .to_string();
    assert!(msg.contains("100") && msg.contains("arena_len"), "{msg}");
    let msg = Error::InvalidGraph {
        layer: 3,
        reason: "x",
    }
    .to_string();
    assert!(msg.starts_with("layer 3"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random damage past the checksum (the checksum recomputed) must give an error or a
    /// model that runs; never a panic.
    #[test]
    fn resealed_damage_never_panics(seed in any::<u64>(), edits in 1usize..8) {
        let f = file();
        let mut g = f.clone();
        let mut r = Rng(seed);
        for _ in 0..edits {
            let i = 32 + (r.next_u64() as usize) % (g.len() - 32);
            g[i] = r.next_u64() as u8;
        }
        update_checksum(&mut g);
        let _ = parse_and_run(&g);
    }

    /// Damage to the graph section specifically (where the structure lives).
    #[test]
    fn resealed_graph_damage_never_panics(seed in any::<u64>(), edits in 1usize..4) {
        let f = file();
        let graph_len = u32::from_le_bytes(f[8..12].try_into().unwrap()) as usize;
        let mut g = f.clone();
        let mut r = Rng(seed);
        for _ in 0..edits {
            let i = 32 + (r.next_u64() as usize) % graph_len;
            g[i] = r.next_u64() as u8;
        }
        update_checksum(&mut g);
        let _ = parse_and_run(&g);
    }

    #[test]
    fn random_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..400), fix in any::<bool>()) {
        if fix && bytes.len() >= 32 {
            bytes[..4].copy_from_slice(b"AEDG");
            bytes[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
            update_checksum(&mut bytes);
        }
        let _ = parse_and_run(&bytes);
    }
}

/// The fuzzer's seed models (`runtime/fuzz/seeds`, written by `examples/fuzz_seeds.rs`) are
/// valid: each parses and runs every entry point, so the fuzzer starts from real models of
/// the current format.
#[test]
fn fuzz_seeds_are_valid_models() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(parse_and_run(&bytes), Ok(()), "{}", path.display());
        n += 1;
    }
    assert!(n >= 12, "{n} seeds");
}
