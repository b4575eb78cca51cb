//! Convolutions, max pooling and nearest upsampling on burn-flex computed by aedge's own
//! passes: the forward pass and the gradients of a stride-1 convolution as one `gemm` product
//! per sample ([`conv`]), pooling that keeps each window's winner for the gradient ([`pool`]),
//! and upsampling as block copies and block sums ([`upsample`]).
//!
//! burn-flex gets a convolution's input gradient from a transposed convolution (a product
//! and a scattering col2im) and its weight gradient from a convolution whose kernel is the
//! whole image, each with layout copies around it, and upsamples through two `repeat_dim`s;
//! and pools through a general strided kernel with 64-bit indices; on the small-channel
//! models of the presets those copies, not the products, were most of a training step. Here the forward pass, the input gradient (the forward pass of the
//! flipped kernel) and the weight gradient (a product of the output gradient and the input's
//! im2col) each read the tensors once.
//!
//! The ops are a burn backend extension ([`HostOps`]): burn-flex runs them on its tensors'
//! memory, and their autodiff wrappers (`host_ops/autodiff.rs`) register the gradients the same passes
//! compute. Other devices (GPUs), and the convolutions the passes do not cover (strides,
//! dilation, groups, `Same` padding), take burn's own ops: see [`conv2d`], [`max_pool2d`]
//! and [`upsample_nearest`].

mod autodiff;
pub mod conv;
pub mod pool;
pub mod upsample;

use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex, TensorMetadata};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::{DType, Tensor, TensorData};
use conv::Geometry;
use pool::Pool;

/// The convolution `c` applied to `x`, by [`conv`] on burn-flex when it covers the layer,
/// else by burn.
pub fn conv2d(c: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(g) = host_geometry(c, &x) else {
        return c.forward(x);
    };
    // The weight before the bias: burn draws lazily initialised parameters on first use, and
    // this keeps its order, so a seed gives the same initial weights on either path.
    let weight = c.weight.val();
    let bias = c
        .bias
        .as_ref()
        .expect("host_geometry checked the bias")
        .val();
    let p = g.pad;
    let out = <Dispatch as HostOps>::host_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        p[0],
        p[1],
        p[2],
        p[3],
    );
    Tensor::from_dispatch(out)
}

/// Whether [`conv2d`] computes `c` on `x` with the host passes (else it is burn's).
pub fn covers(c: &Conv2d, x: &Tensor<4>) -> bool {
    host_geometry(c, x).is_some()
}

/// Whether `x` lives where the host passes can read it (burn-flex, `f32`): then
/// [`upsample_nearest`] runs on the host.
pub fn on_host(x: &Tensor<4>) -> bool {
    x.dtype() == DType::F32 && crate::device::reads_back_cheaply(&x.device())
}

/// The layer's geometry when the host passes compute it.
fn host_geometry(c: &Conv2d, x: &Tensor<4>) -> Option<Geometry> {
    c.bias.as_ref()?;
    let pad = match c.padding {
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => return None,
    };
    if c.stride != [1, 1] || c.dilation != [1, 1] || c.groups != 1 || !on_host(x) {
        return None;
    }
    let [n, ch, h, w] = x.dims();
    let [o, ci, kh, kw] = c.weight.dims();
    let g = Geometry {
        n,
        c: ch,
        h,
        w,
        o,
        kh,
        kw,
        pad,
    };
    (ci == ch && g.supported()).then_some(g)
}

/// The pooling `p` applied to `x`: by [`pool`] on burn-flex when it covers it, else by burn.
pub fn max_pool2d(p: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let Some(g) = host_pool(p, &x) else {
        return p.forward(x);
    };
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [t, l, b, r] = g.pad;
    let out = <Dispatch as HostOps>::host_max_pool2d(x.into_dispatch(), kh, kw, sh, sw, t, l, b, r);
    Tensor::from_dispatch(out)
}

/// Whether [`max_pool2d`] computes `p` on `x` with the host passes (else it is burn's).
pub fn pools_on_host(p: &MaxPool2d, x: &Tensor<4>) -> bool {
    host_pool(p, x).is_some()
}

/// The pooling's geometry when the host passes compute it.
fn host_pool(p: &MaxPool2d, x: &Tensor<4>) -> Option<Pool> {
    let pad = match p.padding {
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => return None,
    };
    let [_, _, h, w] = x.dims();
    let g = Pool {
        h,
        w,
        kernel: p.kernel_size,
        stride: p.stride,
        pad,
    };
    (p.dilation == [1, 1] && !p.ceil_mode && g.supported() && on_host(x)).then_some(g)
}

/// Nearest-neighbour upsampling of `b × c × h × w` by `f` in both directions: by
/// [`upsample`] on burn-flex, else by burn's `repeat_dim`.
pub fn upsample_nearest(t: Tensor<4>, f: usize) -> Tensor<4> {
    if f >= 1 && on_host(&t) {
        return Tensor::from_dispatch(<Dispatch as HostOps>::host_upsample(t.into_dispatch(), f));
    }
    let [b, c, h, w] = t.dims();
    t.reshape([b * c * h, 1, w, 1])
        .repeat_dim(1, f)
        .repeat_dim(3, f)
        .reshape([b, c, h * f, w * f])
}

/// The host ops as a backend extension: burn-flex computes them with [`conv`] and
/// [`upsample`]; autodiff records their backward passes.
#[backend_extension(Flex, Autodiff)]
pub trait HostOps: Backend {
    /// A stride-1 convolution with a bias, padding `[top, left, bottom, right]`: `x` is
    /// `n × c × h × w`, `weight` `o × c × kh × kw`, `bias` `o`.
    fn host_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
    ) -> FloatTensor<Self>;

    /// Nearest-neighbour upsampling of `n × c × h × w` by `factor`.
    fn host_upsample(x: FloatTensor<Self>, factor: usize) -> FloatTensor<Self>;

    /// Max pooling of `n × c × h × w` over `kh × kw` windows every `sh`, `sw`, padding
    /// `[top, left, bottom, right]` (padding never wins).
    #[allow(clippy::too_many_arguments)]
    fn host_max_pool2d(
        x: FloatTensor<Self>,
        kh: usize,
        kw: usize,
        sh: usize,
        sw: usize,
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
    ) -> FloatTensor<Self>;
}

/// The passes behind [`HostOps`] on a backend whose tensors are host memory; the autodiff
/// wrappers call them.
pub trait HostPasses: Backend {
    /// The convolution's forward pass.
    fn conv_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: [usize; 4],
    ) -> FloatTensor<Self>;

    /// The convolution's gradients of the input (when asked for), the weight and the bias
    /// from the output gradient `gy`.
    fn conv_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        pad: [usize; 4],
        input: bool,
    ) -> ConvGradient<Self>;

    /// Upsampling's forward pass.
    fn upsample_forward(x: FloatTensor<Self>, factor: usize) -> FloatTensor<Self>;

    /// Upsampling's input gradient from the output gradient `gy`.
    fn upsample_backward(gy: FloatTensor<Self>, factor: usize) -> FloatTensor<Self>;

    /// Max pooling's forward pass (`h` and `w` of `p` are taken from `x`), each output's
    /// winner in its input plane, and the pooling with its plane size filled in.
    fn pool_forward(x: FloatTensor<Self>, p: Pool) -> (FloatTensor<Self>, Vec<u32>, Pool);

    /// Max pooling's input gradient from the output gradient `gy` and the winners.
    fn pool_backward(gy: FloatTensor<Self>, p: Pool, winners: &[u32]) -> FloatTensor<Self>;
}

/// What [`HostPasses::conv_backward`] returns.
pub struct ConvGradient<B: Backend> {
    /// The input's gradient, when asked for.
    pub x: Option<FloatTensor<B>>,
    /// The weight's.
    pub weight: FloatTensor<B>,
    /// The bias's.
    pub bias: FloatTensor<B>,
}

/// A burn-flex tensor laid out contiguously (a view of the same buffer when it already is,
/// as the tensors reaching these ops are: reading them costs no copy).
struct Host(FloatTensor<Flex>);

impl Host {
    fn new(t: FloatTensor<Flex>) -> Self {
        Host(t.to_contiguous())
    }

    fn shape(&self) -> Vec<usize> {
        self.0.shape().to_vec()
    }

    fn values(&self) -> &[f32] {
        self.0
            .as_slice::<f32>()
            .expect("host ops: routed only for f32 tensors")
    }
}

fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D]) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(v, shape))
}

fn geometry(x: &[usize], w: &[usize], pad: [usize; 4]) -> Geometry {
    Geometry {
        n: x[0],
        c: x[1],
        h: x[2],
        w: x[3],
        o: w[0],
        kh: w[2],
        kw: w[3],
        pad,
    }
}

impl HostPasses for Flex {
    fn conv_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: [usize; 4],
    ) -> FloatTensor<Self> {
        let (x, w, b) = (Host::new(x), Host::new(weight), Host::new(bias));
        let g = geometry(&x.shape(), &w.shape(), pad);
        let y = conv::forward(&g, x.values(), w.values(), Some(b.values()));
        tensor(y, [g.n, g.o, g.ho(), g.wo()])
    }

    fn conv_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        pad: [usize; 4],
        input: bool,
    ) -> ConvGradient<Self> {
        let (x, w, gy) = (Host::new(x), Host::new(weight), Host::new(gy));
        let g = geometry(&x.shape(), &w.shape(), pad);
        let gx = input.then(|| {
            let gx = conv::input_grad(&g, w.values(), gy.values());
            tensor(gx, [g.n, g.c, g.h, g.w])
        });
        let (gw, gb) = conv::weight_grad(&g, x.values(), gy.values());
        ConvGradient {
            x: gx,
            weight: tensor(gw, [g.o, g.c, g.kh, g.kw]),
            bias: tensor(gb, [g.o]),
        }
    }

    fn upsample_forward(x: FloatTensor<Self>, f: usize) -> FloatTensor<Self> {
        let x = Host::new(x);
        let [n, c, h, w] = x.shape()[..] else {
            unreachable!("upsampling takes 4-d tensors")
        };
        tensor(upsample::forward(x.values(), h, w, f), [n, c, h * f, w * f])
    }

    fn upsample_backward(gy: FloatTensor<Self>, f: usize) -> FloatTensor<Self> {
        let gy = Host::new(gy);
        let [n, c, ho, wo] = gy.shape()[..] else {
            unreachable!("upsampling takes 4-d tensors")
        };
        let (h, w) = (ho / f, wo / f);
        tensor(upsample::backward(gy.values(), h, w, f), [n, c, h, w])
    }

    fn pool_forward(x: FloatTensor<Self>, p: Pool) -> (FloatTensor<Self>, Vec<u32>, Pool) {
        let x = Host::new(x);
        let [n, c, h, w] = x.shape()[..] else {
            unreachable!("pooling takes 4-d tensors")
        };
        let p = Pool { h, w, ..p };
        let (y, winners) = pool::forward(&p, x.values());
        (tensor(y, [n, c, p.ho(), p.wo()]), winners, p)
    }

    fn pool_backward(gy: FloatTensor<Self>, p: Pool, winners: &[u32]) -> FloatTensor<Self> {
        let gy = Host::new(gy);
        let [n, c, ..] = gy.shape()[..] else {
            unreachable!("pooling takes 4-d tensors")
        };
        tensor(pool::backward(&p, gy.values(), winners), [n, c, p.h, p.w])
    }
}

impl HostOps for Flex {
    fn host_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        Self::conv_forward(x, weight, bias, [top, left, bottom, right])
    }

    fn host_upsample(x: FloatTensor<Self>, factor: usize) -> FloatTensor<Self> {
        Self::upsample_forward(x, factor)
    }

    fn host_max_pool2d(
        x: FloatTensor<Self>,
        kh: usize,
        kw: usize,
        sh: usize,
        sw: usize,
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        Self::pool_forward(x, pool_of(kh, kw, sh, sw, [top, left, bottom, right])).0
    }
}

/// A pooling's settings as the extension passes them (the plane size comes from the tensor).
fn pool_of(kh: usize, kw: usize, sh: usize, sw: usize, pad: [usize; 4]) -> Pool {
    Pool {
        h: 0,
        w: 0,
        kernel: [kh, kw],
        stride: [sh, sw],
        pad,
    }
}
