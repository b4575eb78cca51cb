//! The host ops (`aedge_trainer::host_ops`) give burn's values and gradients: the output, and
//! the gradients of a random linear function of the output through burn-flex's autodiff,
//! against burn's own `Conv2d::forward` and `repeat_dim` upsampling.

use aedge_runtime::rng::SplitMix;
use aedge_trainer::{device, host_ops, Backend};
use burn::nn::conv::Conv2dConfig;
use burn::nn::PaddingConfig2d;
use burn::tensor::{Tensor, TensorData};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * scale,
            "{what}[{i}]: {x} vs burn {y}"
        );
    }
}

#[test]
fn values_and_gradients_match_burns_convolution() {
    let dev = device(Backend::Flex).unwrap();
    let mut r = SplitMix(11);
    // (batch, channels in, out, height, width, kernel, padding [top, left, bottom, right])
    let cases = [
        (4, 1, 16, 28, 28, 3, [1, 1, 1, 1]),
        (3, 16, 8, 14, 14, 3, [1, 1, 1, 1]),
        (9, 8, 16, 16, 16, 3, [0, 0, 0, 0]),
        (2, 3, 5, 7, 9, 2, [0, 1, 1, 0]),
    ];
    for (n, c, o, h, w, k, p) in cases {
        let conv = Conv2dConfig::new([c, o], [k, k])
            .with_padding(PaddingConfig2d::Explicit(p[0], p[1], p[2], p[3]))
            .init(&dev);
        let x = r.vec(n * c * h * w, -1.0, 1.0);
        let input = || Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &dev);
        let ours_x = input().require_grad();
        assert!(
            host_ops::covers(&conv, &ours_x),
            "the host passes take {p:?}"
        );
        let ours = host_ops::conv2d(&conv, ours_x.clone());
        let burns_x = input().require_grad();
        let burns = conv.forward(burns_x.clone());
        let [_, _, ho, wo] = burns.dims();
        assert_eq!(ours.dims(), [n, o, ho, wo]);
        let dir = Tensor::<4>::from_data(
            TensorData::new(r.vec(n * o * ho * wo, -1.0, 1.0), [n, o, ho, wo]),
            &dev,
        );
        let what = format!("{n}x{c}x{h}x{w} -> {o}, {k}x{k}, pad {p:?}");
        close(
            &values(ours.clone()),
            &values(burns.clone()),
            &format!("{what}: y"),
        );
        let g_ours = (ours * dir.clone()).sum().backward();
        let g_burn = (burns * dir).sum().backward();
        let grads = |t: &Tensor<4>, g| values(t.grad(g).unwrap());
        close(
            &grads(&ours_x, &g_ours),
            &grads(&burns_x, &g_burn),
            &format!("{what}: dx"),
        );
        let weight = conv.weight.val();
        close(
            &values(weight.grad(&g_ours).unwrap()),
            &values(weight.grad(&g_burn).unwrap()),
            &format!("{what}: dw"),
        );
        let bias = conv.bias.as_ref().unwrap().val();
        close(
            &values(bias.grad(&g_ours).unwrap()),
            &values(bias.grad(&g_burn).unwrap()),
            &format!("{what}: db"),
        );
    }
}

#[test]
fn upsampling_matches_repeated_rows_and_columns() {
    let dev = device(Backend::Flex).unwrap();
    let mut r = SplitMix(12);
    for (n, c, h, w, f) in [(3, 8, 4, 4, 2), (2, 1, 7, 5, 3)] {
        let x = r.vec(n * c * h * w, -1.0, 1.0);
        let input = || Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &dev);
        let (ours_x, burns_x) = (input().require_grad(), input().require_grad());
        assert!(host_ops::on_host(&ours_x), "upsampling runs on the host");
        let ours = host_ops::upsample_nearest(ours_x.clone(), f);
        let burns = burns_x
            .clone()
            .reshape([n * c * h, 1, w, 1])
            .repeat_dim(1, f)
            .repeat_dim(3, f)
            .reshape([n, c, h * f, w * f]);
        assert_eq!(values(ours.clone()), values(burns.clone()));
        let dir = Tensor::<4>::from_data(
            TensorData::new(
                r.vec(n * c * h * w * f * f, -1.0, 1.0),
                [n, c, h * f, w * f],
            ),
            &dev,
        );
        let g_ours = (ours * dir.clone()).sum().backward();
        let g_burn = (burns * dir).sum().backward();
        close(
            &values(ours_x.grad(&g_ours).unwrap()),
            &values(burns_x.grad(&g_burn).unwrap()),
            "upsampling dx",
        );
    }
}

#[test]
fn max_pooling_matches_burns() {
    use burn::nn::pool::MaxPool2dConfig;
    let dev = device(Backend::Flex).unwrap();
    let mut r = SplitMix(13);
    // (batch, channels, height, width, window = stride, padding): 28 → 14, 7 → 4 with a
    // partial edge window, and ReLU-like inputs whose zero ties pick the first position.
    for (n, c, h, w, k, p) in [
        (3, 16, 28, 28, 2, [0, 0, 0, 0]),
        (4, 8, 7, 7, 2, [0, 0, 1, 1]),
        (2, 3, 9, 6, 3, [0, 0, 0, 0]),
    ] {
        let pool = MaxPool2dConfig::new([k, k])
            .with_strides([k, k])
            .with_padding(PaddingConfig2d::Explicit(p[0], p[1], p[2], p[3]))
            .init();
        let x: Vec<f32> = r
            .vec(n * c * h * w, -1.0, 1.0)
            .iter()
            .map(|v| v.max(0.0))
            .collect();
        let input = || Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &dev);
        let (ours_x, burns_x) = (input().require_grad(), input().require_grad());
        assert!(
            host_ops::pools_on_host(&pool, &ours_x),
            "pooling runs on the host"
        );
        let ours = host_ops::max_pool2d(&pool, ours_x.clone());
        let burns = pool.forward(burns_x.clone());
        assert_eq!(ours.dims(), burns.dims());
        assert_eq!(values(ours.clone()), values(burns.clone()));
        let dims = burns.dims();
        let dir = Tensor::<4>::from_data(
            TensorData::new(r.vec(dims.iter().product(), -1.0, 1.0), dims),
            &dev,
        );
        let g_ours = (ours * dir.clone()).sum().backward();
        let g_burn = (burns * dir).sum().backward();
        assert_eq!(
            values(ours_x.grad(&g_ours).unwrap()),
            values(burns_x.grad(&g_burn).unwrap()),
            "pooling dx, {h}x{w} window {k} pad {p:?}"
        );
    }
}
