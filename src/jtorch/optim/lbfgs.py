"""L-BFGS with torch's algorithm, inner loop and strong-Wolfe line search (torch.optim.LBFGS)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch import _structure
from jtorch._backend import internals
from jtorch.optim._closure import closure_inputs
from jtorch.optim._common import _check_nonneg, _scalar_dtype
from jtorch.optim.optimizer import Optimizer, _assign, _ParamState, _values

__all__ = ["LBFGS", "LBFGSState", "lbfgs_step"]

_PROGRAMS_KEPT = 8  # compiled eager steps an LBFGS keeps (one per closure code and shapes)


class LBFGSState(NamedTuple):
    """torch's LBFGS state (kept on the first parameter in torch): `func_evals`, `n_iter`, the
    last direction `d` and step `t`, the curvature history `old_dirs` (y), `old_stps` (s) and
    `ro` (1/yᵀs) as fixed (history_size, n) buffers filled to `num_old`, `H_diag`,
    `prev_flat_grad`, `prev_loss`."""

    func_evals: jax.Array
    n_iter: jax.Array
    d: jax.Array
    t: jax.Array
    old_dirs: jax.Array
    old_stps: jax.Array
    ro: jax.Array
    num_old: jax.Array
    H_diag: jax.Array
    prev_flat_grad: jax.Array
    prev_loss: jax.Array


def _init_state(n: int, history_size: int, dtype: Any = jnp.float32) -> LBFGSState:
    zeros = jnp.zeros(n, dtype)
    scalar = jnp.zeros([], dtype)
    return LBFGSState(
        func_evals=jnp.zeros([], jnp.int32),
        n_iter=jnp.zeros([], jnp.int32),
        d=zeros,
        t=scalar,
        old_dirs=jnp.zeros((history_size, n), dtype),
        old_stps=jnp.zeros((history_size, n), dtype),
        ro=jnp.zeros(history_size, dtype),
        num_old=jnp.zeros([], jnp.int32),
        H_diag=jnp.ones([], dtype),
        prev_flat_grad=zeros,
        prev_loss=scalar,
    )


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clipped to `bounds` (torch's
    polyinterp port); the bounds' midpoint when the cubic has no real minimiser."""
    if bounds is None:
        lo, hi = jnp.minimum(x1, x2), jnp.maximum(x1, x2)
    else:
        lo, hi = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    d2 = jnp.sqrt(jnp.maximum(d2_square, 0.0))
    min_pos = jnp.where(
        x1 <= x2,
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
    )
    return jnp.where(d2_square >= 0, jnp.minimum(jnp.maximum(min_pos, lo), hi), (lo + hi) / 2.0)


def _strong_wolfe(fg, x, t, d, f, g, gtd, max_ls, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """torch's strong-Wolfe line search along `d` from `x`; returns (f, g, t, evaluations)."""
    d_norm = jnp.max(jnp.abs(d))
    f_new, g_new = fg(x + t * d)
    gtd_new = g_new @ d
    zero = jnp.zeros_like(t)

    # Bracketing: bt/bf/bg/bgtd hold [previous, current]; stop: 0 go on, 1 bracket, 2 done.
    def bracket_cond(c):
        return (c["ls_iter"] < max_ls) & (c["stop"] == 0)

    def bracket_body(c):
        armijo_fail = (c["f_new"] > f + c1 * c["t"] * gtd) | (
            (c["ls_iter"] > 1) & (c["f_new"] >= c["f_prev"])
        )
        wolfe = jnp.abs(c["gtd_new"]) <= -c2 * gtd
        stop = jnp.where(armijo_fail, 1, jnp.where(wolfe, 2, jnp.where(c["gtd_new"] >= 0, 1, 0)))
        stop = stop.astype(jnp.int32)  # int64 from Python ints under x64

        def advance(c):
            t_next = _cubic_interpolate(
                c["t_prev"],
                c["f_prev"],
                c["gtd_prev"],
                c["t"],
                c["f_new"],
                c["gtd_new"],
                bounds=(c["t"] + 0.01 * (c["t"] - c["t_prev"]), c["t"] * 10),
            )
            f_next, g_next = fg(x + t_next * d)
            return dict(
                c,
                t_prev=c["t"],
                f_prev=c["f_new"],
                g_prev=c["g_new"],
                gtd_prev=c["gtd_new"],
                t=t_next,
                f_new=f_next,
                g_new=g_next,
                gtd_new=g_next @ d,
                evals=c["evals"] + 1,
                ls_iter=c["ls_iter"] + 1,
            )

        return jax.lax.cond(stop == 0, advance, lambda c: dict(c, stop=stop), c)

    c = dict(
        t_prev=zero,
        f_prev=f,
        g_prev=g,
        gtd_prev=gtd,
        t=t,
        f_new=f_new,
        g_new=g_new,
        gtd_new=gtd_new,
        evals=jnp.int32(1),
        ls_iter=jnp.int32(0),
        stop=jnp.int32(0),
    )
    c = jax.lax.while_loop(bracket_cond, bracket_body, c)
    done = c["stop"] == 2
    exhausted = c["stop"] == 0  # ran out of evaluations: bracket [0, t]
    bt = jnp.where(exhausted, jnp.stack([zero, c["t"]]), jnp.stack([c["t_prev"], c["t"]]))
    bf = jnp.where(exhausted, jnp.stack([f, c["f_new"]]), jnp.stack([c["f_prev"], c["f_new"]]))
    bg = jnp.where(exhausted, jnp.stack([g, c["g_new"]]), jnp.stack([c["g_prev"], c["g_new"]]))
    bgtd = jnp.stack([c["gtd_prev"], c["gtd_new"]])
    # Wolfe met at once: a one-point bracket, stored as [t, t].
    bt, bf = jnp.where(done, bt[1], bt), jnp.where(done, bf[1], bf)
    bg, bgtd = jnp.where(done, bg[1], bg), jnp.where(done, bgtd[1], bgtd)
    low = jnp.where(bf[0] <= bf[1], 0, 1).astype(jnp.int32)

    def zoom_cond(z):
        return ~z["done"] & (z["ls_iter"] < max_ls) & ~z["small"]

    def zoom_body(z):
        bt, bf, bg, bgtd, low = z["bt"], z["bf"], z["bg"], z["bgtd"], z["low"]
        high = 1 - low
        small = jnp.abs(bt[1] - bt[0]) * d_norm < tolerance_change

        def trial(z):
            t = _cubic_interpolate(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1])
            b_max, b_min = jnp.max(bt), jnp.min(bt)
            eps = 0.1 * (b_max - b_min)
            near = jnp.minimum(b_max - t, t - b_min) < eps
            move = near & (z["insuf"] | (t >= b_max) | (t <= b_min))
            moved = jnp.where(jnp.abs(t - b_max) < jnp.abs(t - b_min), b_max - eps, b_min + eps)
            t = jnp.where(move, moved, t)
            insuf = near & ~move
            f_new, g_new = fg(x + t * d)
            gtd_new = g_new @ d
            worse = (f_new > f + c1 * t * gtd) | (f_new >= bf[low])
            wolfe = ~worse & (jnp.abs(gtd_new) <= -c2 * gtd)
            flip = ~worse & ~wolfe & (gtd_new * (bt[high] - bt[low]) >= 0)
            # worse: the new point replaces high; else old low may become high, new point low.
            slot = jnp.where(worse, high, low)

            def put(arr, new):
                arr = jnp.where(flip, arr.at[high].set(arr[low]), arr)
                return arr.at[slot].set(new)

            nbt, nbf = put(bt, t), put(bf, f_new)
            nbg, nbgtd = put(bg, g_new), put(bgtd, gtd_new)
            new_low = jnp.where(worse, jnp.where(nbf[0] <= nbf[1], 0, 1), low).astype(jnp.int32)
            return dict(
                z,
                bt=nbt,
                bf=nbf,
                bg=nbg,
                bgtd=nbgtd,
                low=new_low,
                insuf=insuf,
                done=wolfe,
                evals=z["evals"] + 1,
                ls_iter=z["ls_iter"] + 1,
            )

        return jax.lax.cond(small, lambda z: dict(z, small=True), trial, z)

    z = dict(
        bt=bt,
        bf=bf,
        bg=bg,
        bgtd=bgtd,
        low=low,
        insuf=jnp.bool_(False),
        done=done,
        small=jnp.bool_(False),
        evals=c["evals"],
        ls_iter=c["ls_iter"],
    )
    z = jax.lax.while_loop(zoom_cond, zoom_body, z)
    low = z["low"]
    return z["bf"][low], z["bg"][low], z["bt"][low], z["evals"]


def lbfgs_step(
    fg: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    x: jax.Array,
    state: LBFGSState,
    lr: Any = 1.0,
    tolerance_grad: Any = 1e-7,
    tolerance_change: Any = 1e-9,
    *,
    max_iter: int = 20,
    max_eval: int | None = None,
    line_search_fn: str | None = None,
) -> tuple[jax.Array, jax.Array, LBFGSState]:
    """One `torch.optim.LBFGS.step`: up to `max_iter` L-BFGS iterations on a flat vector.

    `fg(x) -> (loss, grad)`; returns `(initial loss, new x, new state)`. Pure and jit-compatible
    (`lax.while_loop`); the history size is the state's buffer length.
    """
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    if line_search_fn not in (None, "strong_wolfe"):
        raise RuntimeError("only 'strong_wolfe' is supported")
    history_size = state.ro.shape[0]
    dtype = x.dtype
    loss, g = fg(x)
    state = state._replace(func_evals=state.func_evals + 1)
    opt_cond = jnp.max(jnp.abs(g)) <= tolerance_grad

    def direction(c):
        s, g = c["state"], c["g"]
        first = s.n_iter == 1
        y = g - s.prev_flat_grad
        step = s.d * s.t
        ys = y @ step
        remember = ~first & (ys > 1e-10)
        full = s.num_old == history_size
        dirs = jnp.where(full, jnp.roll(s.old_dirs, -1, axis=0), s.old_dirs)
        stps = jnp.where(full, jnp.roll(s.old_stps, -1, axis=0), s.old_stps)
        ro = jnp.where(full, jnp.roll(s.ro, -1), s.ro)
        slot = jnp.minimum(s.num_old, history_size - 1)
        dirs = jnp.where(remember, dirs.at[slot].set(y), s.old_dirs)
        stps = jnp.where(remember, stps.at[slot].set(step), s.old_stps)
        ro = jnp.where(remember, ro.at[slot].set(1.0 / ys), s.ro)
        num_old = jnp.where(remember, jnp.minimum(s.num_old + 1, history_size), s.num_old)
        h_diag = jnp.where(remember, ys / (y @ y), s.H_diag)
        num_old = jnp.where(first, 0, num_old)
        h_diag = jnp.where(first, jnp.ones([], dtype), h_diag)

        def back(j, carry):  # i = num_old-1 ... 0
            q, al = carry
            i = history_size - 1 - j
            use = i < num_old
            a = jnp.where(use, (stps[i] @ q) * ro[i], 0.0)
            return jnp.where(use, q - a * dirs[i], q), al.at[i].set(a)

        q, al = jax.lax.fori_loop(0, history_size, back, (-g, jnp.zeros(history_size, dtype)))
        r = q * h_diag

        def forward(i, r):
            be = (dirs[i] @ r) * ro[i]
            return jnp.where(i < num_old, r + (al[i] - be) * stps[i], r)

        r = jax.lax.fori_loop(0, history_size, forward, r)
        d = jnp.where(first, -g, r)
        return s._replace(d=d, old_dirs=dirs, old_stps=stps, ro=ro, num_old=num_old, H_diag=h_diag)

    def body(c):
        s = c["state"]
        s = s._replace(n_iter=s.n_iter + 1)
        c = dict(c, n_iter=c["n_iter"] + 1, state=s)
        s = direction(c)
        g, loss = c["g"], c["loss"]
        first = s.n_iter == 1
        t = jnp.where(first, jnp.minimum(1.0, 1.0 / jnp.sum(jnp.abs(g))) * lr, lr).astype(dtype)
        s = s._replace(prev_flat_grad=g, prev_loss=loss, t=t)
        gtd = g @ s.d
        flat = gtd > -tolerance_change

        def move(c):
            x = c["x"]
            if line_search_fn == "strong_wolfe":
                loss_new, g_new, t_new, evals = _strong_wolfe(
                    fg, x, t, s.d, loss, g, gtd, max_ls=max_eval - c["evals"]
                )
                x_new = x + t_new * s.d
            else:
                t_new = t
                x_new = x + t * s.d
                last = c["n_iter"] == max_iter
                loss_new, g_new = jax.lax.cond(last, lambda: (loss, g), lambda: fg(x_new))
                evals = jnp.where(last, 0, 1).astype(jnp.int32)
            opt = jnp.where(evals > 0, jnp.max(jnp.abs(g_new)) <= tolerance_grad, c["opt_cond"])
            evals_total = c["evals"] + evals
            ns = s._replace(t=t_new.astype(dtype), func_evals=s.func_evals + evals)
            done = (
                (c["n_iter"] == max_iter)
                | (evals_total >= max_eval)
                | opt
                | (jnp.max(jnp.abs(ns.d * ns.t)) <= tolerance_change)
                | (jnp.abs(loss_new - loss) < tolerance_change)
            )
            return dict(
                c,
                x=x_new,
                loss=loss_new,
                g=g_new,
                state=ns,
                evals=evals_total,
                opt_cond=opt,
                done=done,
            )

        return jax.lax.cond(flat, lambda c: dict(c, state=s, done=True), move, c)

    c = dict(
        x=x,
        loss=loss,
        g=g,
        state=state,
        evals=jnp.int32(1),
        n_iter=jnp.int32(0),
        opt_cond=opt_cond,
        done=opt_cond,
    )
    c = jax.lax.while_loop(lambda c: ~c["done"], body, c)
    return loss, c["x"], c["state"]


def _no_per_parameter_state(
    lr: Any = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: Any = 1e-7,
    tolerance_change: Any = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
) -> optax.GradientTransformation:
    """The facade's per-parameter transformation: none (LBFGS keeps one global state)."""
    return optax.identity()


class LBFGS(Optimizer):
    """torch.optim.LBFGS: `LBFGS(model.parameters(), lr=1, max_iter=20, line_search_fn=None)`.

    `step(closure, model=None)` runs torch's algorithm, compiled as one XLA program
    (`lax.while_loop`), and returns the loss before the step. The closure computes the loss from
    the model, `optimizer.step(lambda m: criterion(m(x), y), model)`, or, as in torch, from the
    model it closes over, `optimizer.step(lambda: criterion(model(x), y))`; gradients come from
    JAX (no `backward()` in the closure). Inside `jtorch.jit` the step compiles with the rest of
    the function. Outside it, each program is compiled once and reused for every closure with the
    same code (torch scripts define the closure afresh at each step): the arrays the closure
    reads through its free variables, defaults and the globals of its module, and the model's
    Variables, are the program's inputs (`jtorch/optim/_closure.py`). It recompiles when the
    closure's code, the shapes or dtypes it reads, the model's structure (`train()`/`eval()`),
    a Python number it reads, an object it reads by identity (recreated each step), or
    `max_iter`/`max_eval`/`line_search_fn` change; arrays reached through other objects or
    methods are compiled in as constants (a new array assigned to an attribute, `self.x`,
    recompiles). The last 8 programs are kept.

    Differs from torch: the closure returns the loss without calling backward, and must be
    side-effect free (it is traced; BatchNorm statistics updated inside it are discarded).
    """

    _transform_factory = staticmethod(_no_per_parameter_state)
    _hyperparams = ("lr", "tolerance_grad", "tolerance_change")

    def __init__(
        self,
        params: Any,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        _check_nonneg(lr=lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        values = [p.get_value() for p in self.param_groups[0]["params"]]
        n = sum(v.size for v in values)
        # the flat vector's dtype: float64 state for float64 parameters (`model.double()`)
        self._node.lbfgs = _ParamState(_init_state(n, history_size, jnp.result_type(*values)))
        # compiled eager steps by closure key (see `step`), least recently used first
        self._compiled: dict[Any, tuple[Any, list[Any]]] = {}

    def _jtorch_before_jit(self) -> None:
        """Also recast the state when the parameters were cast since (`model.double()` after
        the optimizer was built): torch creates LBFGS's state at the first step, in the
        parameters' dtype."""
        super()._jtorch_before_jit()
        dtype = jnp.result_type(*(p.get_value() for p in self._node.params[0]))
        state = _values(self._node.lbfgs.tree)
        if state.d.dtype != dtype:
            floating = lambda s: jnp.issubdtype(s.dtype, jnp.floating)  # noqa: E731
            state = jax.tree.map(lambda s: s.astype(dtype) if floating(s) else s, state)
            self._node.lbfgs = _ParamState(state)
            _structure.changed(self._node)  # new state: compiled steps re-read the structure

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def step(self, closure: Callable, model: Any = None) -> jax.Array:  # type: ignore[override]
        """One torch LBFGS step (up to max_iter iterations); returns the initial loss."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step needs a closure computing the loss")
        params = list(self._node.params[0])
        first = params[0].get_value()
        traced = isinstance(first, jax.core.Tracer)
        if not traced:
            self._jtorch_before_jit()
        group = self.param_groups[0]
        shapes = [p.get_value().shape for p in params]
        sizes = [p.get_value().size for p in params]
        takes_model = _arity(closure) > 0
        if takes_model and model is None:
            raise TypeError(
                "LBFGS.step: the closure takes the model; pass it: "
                "optimizer.step(lambda m: loss_fn(m), model)"
            )

        def loss_of(flat):
            values = [v.reshape(s) for v, s in zip(jnp.split(flat, _offsets(sizes)), shapes)]
            old = internals.swap_arrays(params, values)
            try:
                loss = closure(model) if takes_model else closure()
            finally:
                internals.swap_arrays(params, old)
            return jnp.asarray(loss, flat.dtype).reshape(())

        fg = jax.value_and_grad(loss_of)
        x = jnp.concatenate([p.get_value().reshape(-1) for p in params])
        dtype = _scalar_dtype(x)
        hp = {k: v.get_value().astype(dtype) for k, v in self._node.hparams[0].items()}
        static = dict(
            max_iter=group["max_iter"],
            max_eval=group["max_eval"],
            line_search_fn=group["line_search_fn"],
        )

        state = _values(self._node.lbfgs.tree)
        if traced:  # inside jtorch.jit: part of the enclosing program
            loss, x, state = lbfgs_step(fg, x, state, **hp, **static)
        else:
            inputs = closure_inputs(
                closure, (model,) if takes_model else (), skip={id(p) for p in params}
            )
            key = (inputs.key, takes_model, tuple(static.items()), _avals((x, state, hp)))
            compiled = self._compiled.pop(key, None)
            if compiled is None:

                def run(x, state, hp, arrays):
                    with inputs.substitute(arrays):
                        return lbfgs_step(fg, x, state, **hp, **static)

                compiled = (jax.jit(run).lower(x, state, hp, inputs.arrays).compile(), inputs.refs)
                if len(self._compiled) >= _PROGRAMS_KEPT:
                    self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled  # most recently used last
            loss, x, state = compiled[0](x, state, hp, inputs.arrays)
        for p, v, s in zip(params, jnp.split(x, _offsets(sizes)), shapes):
            p.set_value(v.reshape(s))
        _assign(self._node.lbfgs.tree, state)
        return loss

    @property
    def _lbfgs_state(self) -> LBFGSState:
        """The global LBFGS state (arrays)."""
        return _values(self._node.lbfgs.tree)

    def _state_to_torch(self, state: Any, group: dict[str, Any]) -> dict[str, Any] | None:
        return None  # torch's LBFGS state holds Python lists; not converted


def _avals(tree: Any) -> tuple[Any, ...]:
    """The structure, shapes and dtypes of `tree`'s arrays, for a compiled program's key."""
    leaves, treedef = jax.tree.flatten(tree)
    return (treedef, *((x.shape, x.dtype, x.weak_type) for x in leaves))


def _offsets(sizes: list[int]) -> list[int]:
    out, total = [], 0
    for s in sizes[:-1]:
        total += s
        out.append(total)
    return out


def _arity(fn: Callable) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0
    return sum(
        1
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    )
