//! The autodiff side of [`HostOps`]: each op records a backward step that calls the host
//! passes of the backend underneath.

use super::pool::Pool;
use super::{pool_of, HostOps, HostPasses};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::Autodiff;
use std::sync::Arc;

/// A convolution's backward step: the input and weight are kept for it.
#[derive(Debug)]
struct ConvBackward;

impl<B: HostPasses> Backward<B, 3> for ConvBackward {
    type State = (NodeId, NodeId, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ck: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        let (x_state, w_state, pad) = ops.state;
        let x = ck.retrieve_node_output::<FloatTensor<B>>(x_state);
        let w = ck.retrieve_node_output::<FloatTensor<B>>(w_state);
        let g = B::conv_backward(x, w, gy, pad, node_x.is_some());
        if let (Some(node), Some(gx)) = (node_x, g.x) {
            grads.register::<B>(node.id, gx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, g.weight);
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, g.bias);
        }
    }
}

/// Upsampling's backward step: only the factor is kept.
#[derive(Debug)]
struct UpsampleBackward;

impl<B: HostPasses> Backward<B, 1> for UpsampleBackward {
    type State = usize;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::upsample_backward(gy, ops.state));
        }
    }
}

/// Max pooling's backward step: the winners and the plane size are kept.
#[derive(Debug)]
struct PoolBackward;

impl<B: HostPasses> Backward<B, 1> for PoolBackward {
    type State = (Arc<Vec<u32>>, Pool);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        if let Some(node) = node_x {
            let (winners, p) = ops.state;
            grads.register::<B>(node.id, B::pool_backward(gy, p, &winners));
        }
    }
}

impl<B: HostPasses, C: CheckpointStrategy> HostOps for Autodiff<B, C> {
    fn host_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
    ) -> FloatTensor<Self> {
        let pad = [top, left, bottom, right];
        let run = |x: &FloatTensor<Self>, w: &FloatTensor<Self>, b: &FloatTensor<Self>| {
            let p = |t: &FloatTensor<Self>| t.primitive().clone();
            B::conv_forward(p(x), p(w), p(b), pad)
        };
        match ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let xs = prep.checkpoint(&x);
                let ws = prep.checkpoint(&weight);
                prep.finish((xs, ws, pad), run(&x, &weight, &bias))
            }
            OpsKind::UnTracked(prep) => prep.finish(run(&x, &weight, &bias)),
        }
    }

    fn host_upsample(x: FloatTensor<Self>, factor: usize) -> FloatTensor<Self> {
        let y = B::upsample_forward(x.primitive().clone(), factor);
        match UpsampleBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(factor, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
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
        let p = pool_of(kh, kw, sh, sw, [top, left, bottom, right]);
        let (y, winners, p) = B::pool_forward(x.primitive().clone(), p);
        match PoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((Arc::new(winners), p), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}
