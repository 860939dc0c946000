"""The compiled train and eval steps, in two equivalent forms.

`train_step_body(model, optimizer, batch, ...)` is the torch loop body written once: forward,
loss, backward (optionally over k micro-batches), clipping, `optimizer.step`, metrics. Two
wrappers compile it:

- stateful: `stateful_train_step(...)` is `jtorch.jit` of the body; it updates the model and
  optimizer in place (what `fit` and the README's examples use);
- functional: `make_train_step(...)` returns a pure `step(state, batch) -> (state, metrics)` over a
  `TrainState` pytree (parameters, buffers, optimizer state, RNG, step), for Flax/Optax programs.

Because both run the same body, they give identical parameters (tests check it).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx, struct

from jtorch import _random
from jtorch._transforms import Grads, jit, value_and_grad
from jtorch.nn.module import Buffer, Module, Parameter
from jtorch.nn.utils.clip_grad import clip_grad_norm_
from jtorch.train.metrics import batch_metrics

__all__ = [
    "TrainState",
    "train_step_body",
    "stateful_train_step",
    "make_train_step",
    "make_eval_step",
]

LossFn = Callable[[Any, Any], jax.Array]


def _cast_floating(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating) else x,
        tree,
    )


def _forward_loss(model: Module, batch: Any, loss_fn: LossFn, compute_dtype: Any):
    """Loss and outputs of one (micro-)batch; with `compute_dtype` the forward pass runs in that
    dtype while the parameters (and so their gradients) stay in their own dtype."""
    inputs, targets = batch
    if compute_dtype is None:
        outputs = model(inputs)
    else:
        originals = [(p, p.value) for p in model.parameters()]
        for p, value in originals:
            if jnp.issubdtype(value.dtype, jnp.floating):
                p.value = value.astype(compute_dtype)
        outputs = model(_cast_floating(inputs, compute_dtype))
        for p, value in originals:
            p.value = value
        outputs = _cast_floating(outputs, jnp.float32)
    return loss_fn(outputs, targets), outputs


def _accumulated_grads(
    model: Module, batch: Any, loss_fn: LossFn, steps: int, compute_dtype: Any
) -> tuple[jax.Array, Any, Grads]:
    """Mean loss and gradients over `steps` equal micro-batches, scanned (not unrolled).

    Equals one step on the whole batch for losses that average over the batch; BatchNorm
    statistics are updated once per micro-batch, as in torch's accumulation loop.
    """
    inputs, targets = batch
    n = jax.tree.leaves(inputs)[0].shape[0]
    if n % steps:
        raise ValueError(f"grad_accum_steps={steps} must divide the batch size, got a batch of {n}")
    split = functools.partial(lambda k, x: x.reshape(k, x.shape[0] // k, *x.shape[1:]), steps)
    micro = jax.tree.map(split, (inputs, targets))
    graphdef, state = nnx.compat.split(model)
    names = [name for name, p in model.named_parameters() if p.requires_grad]

    # Under `jtorch.jit`, global draws (jtorch.randn in the loss) get a fresh key per micro-batch
    base_key = _random.next_key() if _random.in_trace_frame() else None

    def one(carry, xs):
        mb, index = xs
        state, grad_sum, loss_sum = carry
        m = nnx.merge(graphdef, state)
        frame = (
            _random.trace_frame(jax.random.fold_in(base_key, index))
            if base_key is not None
            else contextlib.nullcontext()
        )
        with frame:
            (loss, outputs), grads = value_and_grad(
                lambda mm: _forward_loss(mm, mb, loss_fn, compute_dtype), has_aux=True
            )(m)
        grad_sum = [s + grads[k] for s, k in zip(grad_sum, names)]
        return (nnx.compat.split(m)[1], grad_sum, loss_sum + loss), outputs

    zeros = [jnp.zeros_like(p.value) for _, p in model.named_parameters() if p.requires_grad]
    xs = (micro, jnp.arange(steps, dtype=jnp.uint32))
    (state, grad_sum, loss_sum), outputs = jax.lax.scan(one, (state, zeros, 0.0), xs)
    nnx.update(model, state)
    params = [p for _, p in model.named_parameters() if p.requires_grad]
    grads = Grads([(k, g / steps) for k, g in zip(names, grad_sum)], params)
    outputs = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), outputs)
    return loss_sum / steps, outputs, grads


def train_step_body(
    model: Module,
    optimizer: Any,
    batch: Any,
    *,
    loss_fn: LossFn,
    grad_accum_steps: int = 1,
    clip_grad_norm: float | None = None,
    compute_dtype: Any = None,
    num_classes: int | None = None,
) -> dict[str, jax.Array]:
    """One optimisation step on `batch = (inputs, targets)`; returns on-device metric sums."""
    if grad_accum_steps == 1:
        (loss, outputs), grads = value_and_grad(
            lambda m: _forward_loss(m, batch, loss_fn, compute_dtype), has_aux=True
        )(model)
    else:
        loss, outputs, grads = _accumulated_grads(
            model, batch, loss_fn, grad_accum_steps, compute_dtype
        )
    metrics = batch_metrics(outputs, batch[1], loss, num_classes=num_classes)
    if clip_grad_norm is not None:
        metrics["grad_norm"] = clip_grad_norm_(grads, clip_grad_norm)
    optimizer.step(grads)
    return metrics


def stateful_train_step(
    loss_fn: LossFn,
    *,
    grad_accum_steps: int = 1,
    clip_grad_norm: float | None = None,
    compute_dtype: Any = None,
    num_classes: int | None = None,
    donate: bool = True,
) -> Callable[[Module, Any, Any], dict[str, jax.Array]]:
    """`step(model, optimizer, batch) -> metrics`, compiled with `jtorch.jit` (in place).

    `donate=True` (as in `make_train_step`) lets XLA write the new parameters and optimizer
    state over the old ones instead of allocating fresh buffers each step (a 1.3x faster MLP
    step). As with torch's in-place update, the model then holds only the new values: a raw
    array taken from it before the step (`model.fc.weight.value`) is invalidated, while
    `Parameter` objects, numpy copies/views and `copy.deepcopy(model.state_dict())` stay valid.
    """
    body = functools.partial(
        train_step_body,
        loss_fn=loss_fn,
        grad_accum_steps=grad_accum_steps,
        clip_grad_norm=clip_grad_norm,
        compute_dtype=compute_dtype,
        num_classes=num_classes,
    )
    return jit(body, donate=donate)


_STATE_FILTERS = (Parameter, Buffer, nnx.OptState, ...)


@struct.dataclass
class TrainState:
    """Everything a train step reads and writes, as a pytree.

    `params` (Parameters), `buffers` (BatchNorm statistics, ...), `opt_state` (optimizer
    moments and hyperparameters), `rest` (RNG streams and other arrays), `step` (int32).
    """

    params: nnx.State
    buffers: nnx.State
    opt_state: nnx.State
    rest: nnx.State
    step: jax.Array

    @classmethod
    def create(cls, model: Module, optimizer: Any) -> TrainState:
        """Snapshot the model's and optimizer's arrays (current hyperparameters included)."""
        optimizer._jtorch_before_jit()
        _, *states = nnx.compat.split((model, optimizer._jtorch_state_node()), *_STATE_FILTERS)
        return cls(*states, step=jnp.zeros((), jnp.int32))

    def apply_to(self, model: Module, optimizer: Any) -> None:
        """Write this state's arrays back into the model and optimizer objects."""
        nnx.update(
            (model, optimizer._jtorch_state_node()),
            self.params,
            self.buffers,
            self.opt_state,
            self.rest,
        )


def _graphdef(model: Module, optimizer: Any, training: bool) -> Any:
    was_training = model.training
    model.train(training)
    graphdef = nnx.compat.split((model, optimizer._jtorch_state_node()), *_STATE_FILTERS)[0]
    model.train(was_training)
    return graphdef


def make_train_step(
    model: Module,
    optimizer: Any,
    loss_fn: LossFn,
    *,
    donate: bool = True,
    grad_accum_steps: int = 1,
    clip_grad_norm: float | None = None,
    compute_dtype: Any = None,
    num_classes: int | None = None,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]:
    """A pure, jit-compiled `step(state, batch) -> (state, metrics)` for this model and optimizer.

    Build the first state with `TrainState.create(model, optimizer)`; write a state back with
    `state.apply_to(model, optimizer)`. `donate=True` lets XLA reuse the input state's memory
    (do not use a state after passing it in). `compute_dtype=jnp.bfloat16` runs the forward
    and backward in bfloat16 while parameters and optimizer state stay float32.
    """
    graphdef = _graphdef(model, optimizer, training=True)

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        model_, node = nnx.merge(graphdef, state.params, state.buffers, state.opt_state, state.rest)
        opt = optimizer._jtorch_with_state_node(node)
        metrics = train_step_body(
            model_,
            opt,
            batch,
            loss_fn=loss_fn,
            grad_accum_steps=grad_accum_steps,
            clip_grad_norm=clip_grad_norm,
            compute_dtype=compute_dtype,
            num_classes=num_classes,
        )
        _, *new = nnx.compat.split((model_, node), *_STATE_FILTERS)
        old = (state.params, state.buffers, state.opt_state, state.rest)
        new = jax.tree.map(lambda n, o: n.astype(o.dtype), tuple(new), old)
        return TrainState(*new, step=state.step + 1), metrics

    return jax.jit(step, donate_argnums=(0,) if donate else ())


def make_eval_step(
    model: Module,
    loss_fn: LossFn | None = None,
    *,
    num_classes: int | None = None,
    topk: tuple[int, ...] = (1,),
) -> Callable[[Module, Any], dict[str, jax.Array]]:
    """`eval_step(model, batch) -> metric sums`, compiled, run with the model in eval mode."""

    @jit
    def eval_step(model: Module, batch: Any) -> dict[str, jax.Array]:
        inputs, targets = batch
        outputs = model(inputs)
        loss = loss_fn(outputs, targets) if loss_fn is not None else None
        return batch_metrics(outputs, targets, loss, num_classes=num_classes, topk=topk)

    return eval_step
