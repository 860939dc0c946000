"""`jtorch ckpt`: inspect, convert, restore and diff checkpoints (Orbax directories, .pth,
.safetensors) from the shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["register"]


def register(groups: Any) -> None:
    """Add the `ckpt` group and its commands to the `jtorch` parser."""
    parser = groups.add_parser("ckpt", help="inspect, convert, restore and diff checkpoints")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    inspect = commands.add_parser("inspect", help="list keys, shapes, dtypes and metadata")
    inspect.add_argument("path")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument(
        "--verify", action="store_true", help="check the CRC-32 of every record of a .pth file"
    )
    inspect.set_defaults(handler=_inspect)

    convert = commands.add_parser("convert", help="convert between Orbax, .pth and .safetensors")
    convert.add_argument("src")
    convert.add_argument("dst")
    convert.set_defaults(handler=_convert)

    restore = commands.add_parser("restore", help="rebuild a full model, print it, run it")
    restore.add_argument("path")
    restore.add_argument("--input", help=".npy file to feed to the model (eval mode)")
    restore.add_argument("--output", help=".npy file to write the model's output to")
    restore.add_argument(
        "--eval", metavar="DATASET", help="report test accuracy on a `jtorch train` dataset"
    )
    restore.add_argument("--root", default="data", help="dataset folder for --eval")
    restore.add_argument(
        "--trust",
        metavar="MODULE",
        action="append",
        default=[],
        help="allow the model's classes from MODULE and import it (repeatable); without it only "
        "jtorch's own classes are rebuilt",
    )
    restore.set_defaults(handler=_restore)

    diff = commands.add_parser("diff", help="compare the arrays of two checkpoints")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(handler=_diff)


# ---------------------------------------------------------------------------------- helpers


def _load(path: str, trusted: list[str] | None = None) -> Any:
    import jtorch

    if not Path(path).exists():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    return jtorch.load(path, map_location="cpu", trusted=trusted)


def _load_unresolved(path: str, verify: bool = False) -> Any:
    """The checkpoint with full models as records: no class or function is looked up."""
    from jtorch.checkpoint import load_unresolved

    if not Path(path).exists():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    return load_unresolved(path, map_location="cpu", verify=verify)


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _is_optimizer_state(value: Any) -> bool:
    return isinstance(value, dict) and "state" in value and "param_groups" in value


def _walk(obj: Any, prefix: str, out: dict[str, Any], meta: dict[str, Any], optim: dict) -> None:
    """Flatten `obj`: arrays into `out`, plain leaves into `meta`, optimizer states into `optim`."""
    from jtorch.checkpoint.full_model import ModuleRecord
    from jtorch.nn.module import Module

    if isinstance(obj, (Module, ModuleRecord)):
        for key, value in obj.state_dict().items():
            out[f"{prefix}.{key}" if prefix else key] = value
        return
    if _is_array(obj):
        out[prefix or "<array>"] = obj
        return
    if _is_optimizer_state(obj):
        optim[prefix or "<optimizer>"] = obj
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        meta[prefix or "<value>"] = obj
        return
    for key, value in items:
        _walk(value, f"{prefix}.{key}" if prefix else str(key), out, meta, optim)


def _flatten(obj: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    arrays: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    optim: dict[str, Any] = {}
    _walk(obj, "", arrays, meta, optim)
    return arrays, meta, optim


def _optimizer_summary(state: dict[str, Any]) -> dict[str, Any]:
    keys = sorted({k for entry in state["state"].values() for k in entry})
    groups = [
        {k: v for k, v in group.items() if k != "params"} | {"num_params": len(group["params"])}
        for group in state["param_groups"]
    ]
    return {"param_states": len(state["state"]), "state_keys": keys, "param_groups": groups}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


# ---------------------------------------------------------------------------------- commands


def _inspect(args: argparse.Namespace) -> int:
    from jtorch.checkpoint import detect_format
    from jtorch.checkpoint.full_model import ModuleRecord

    obj = _load_unresolved(args.path, verify=args.verify)
    arrays, meta, optim = _flatten(obj)
    optim_prefixes = tuple(f"{p}." for p in optim)
    rows = [
        {
            "key": key,
            "shape": list(value.shape),
            "dtype": str(value.dtype),
            "size": int(np.prod(value.shape)) if value.shape else 1,
        }
        for key, value in arrays.items()
    ]
    report = {
        "path": args.path,
        "format": detect_format(args.path),
        "content": (
            f"full model ({obj.class_path.rpartition(':')[2]})"
            if isinstance(obj, ModuleRecord)
            else type(obj).__name__
        ),
        "arrays": rows,
        "total_parameters": sum(r["size"] for r in rows if not r["key"].startswith(optim_prefixes)),
        "total_elements": sum(r["size"] for r in rows),
        "metadata": {k: _plain(v) for k, v in meta.items() if not k.startswith(optim_prefixes)},
        "optimizers": {k: _plain(_optimizer_summary(v)) for k, v in optim.items()},
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"path:    {report['path']}")
    print(f"format:  {report['format']}")
    print(f"content: {report['content']}")
    width = max([len(r["key"]) for r in rows] + [3])
    print(f"\n{'key':<{width}}  {'shape':<20} {'dtype':<10} {'size':>12}")
    for r in rows:
        shape = "(" + ", ".join(map(str, r["shape"])) + ("," if len(r["shape"]) == 1 else "") + ")"
        print(f"{r['key']:<{width}}  {shape:<20} {r['dtype']:<10} {r['size']:>12,}")
    print(f"\ntotal parameters: {report['total_parameters']:,}")
    if report["total_elements"] != report["total_parameters"]:
        print(f"total elements (with optimizer state): {report['total_elements']:,}")
    if report["metadata"]:
        print("\nmetadata:")
        for key, value in report["metadata"].items():
            print(f"  {key}: {value!r}")
    for key, summary in report["optimizers"].items():
        print(f"\noptimizer state `{key}`: {summary['param_states']} parameter states", end="")
        print(f" with {', '.join(summary['state_keys']) or 'no arrays'}")
        for i, group in enumerate(summary["param_groups"]):
            print(f"  group {i}: " + ", ".join(f"{k}={v!r}" for k, v in group.items()))
    return 0


def _convert(args: argparse.Namespace) -> int:
    import jtorch
    from jtorch.checkpoint import detect_format

    obj = _load(args.src)
    if Path(args.dst).resolve() == Path(args.src).resolve():
        raise ValueError("source and destination are the same path")
    jtorch.save(obj, args.dst)
    print(f"wrote {args.dst} ({detect_format(args.dst)})")
    return 0


def _restore(args: argparse.Namespace) -> int:
    import jax.numpy as jnp

    from jtorch.checkpoint import CheckpointError
    from jtorch.nn.module import Module

    try:
        model = _load(args.path, trusted=args.trust)
    except CheckpointError as err:
        if "not available" not in str(err):
            raise
        raise CheckpointError(f"{err}. From the shell: jtorch ckpt restore --trust MODULE") from err
    if not isinstance(model, Module):
        raise TypeError(
            f"{args.path} holds a {type(model).__name__}, not a full model (save it with "
            "jtorch.save(model, path) to restore it here)"
        )
    print(model)
    if args.output and not args.input:
        raise ValueError("--output needs --input")
    if args.input:
        x = np.load(args.input, allow_pickle=False)
        model.eval()
        y = np.asarray(model(jnp.asarray(x)))
        if args.output:
            np.save(args.output, y)
            print(f"output {tuple(y.shape)} {y.dtype} written to {args.output}")
        else:
            print(f"output {tuple(y.shape)} {y.dtype}:\n{y}")
    if args.eval:
        from jtorch.cli.train import evaluate_model, print_result

        print_result(evaluate_model(model, args.eval, args.root))
    return 0


def _diff(args: argparse.Namespace) -> int:
    a, _, _ = _flatten(_load_unresolved(args.a))
    b, _, _ = _flatten(_load_unresolved(args.b))
    missing = [k for k in a if k not in b]
    unexpected = [k for k in b if k not in a]
    shapes = {
        k: [list(a[k].shape), list(b[k].shape)]
        for k in a
        if k in b and tuple(a[k].shape) != tuple(b[k].shape)
    }
    deltas = {}
    for key in a:
        if key in b and key not in shapes:
            x = np.asarray(a[key]).astype(np.float64)
            y = np.asarray(b[key]).astype(np.float64)
            deltas[key] = float(np.max(np.abs(x - y))) if x.size else 0.0
    report = {
        "missing_keys": missing,
        "unexpected_keys": unexpected,
        "shape_changes": shapes,
        "max_abs_diff": deltas,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"missing keys (in {args.a} only): {missing}")
    print(f"unexpected keys (in {args.b} only): {unexpected}")
    for key, (sa, sb) in shapes.items():
        print(f"shape changed: {key}: {tuple(sa)} -> {tuple(sb)}")
    width = max([len(k) for k in deltas] + [3])
    print(f"\n{'key':<{width}}  max |Δ|")
    for key, delta in deltas.items():
        print(f"{key:<{width}}  {delta:.6g}")
    same = not (missing or unexpected or shapes or any(deltas.values()))
    print("\nidentical" if same else "\ndifferent")
    return 0
