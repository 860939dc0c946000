"""Full-model checkpoints as an attacker writes them: the class and function names, attribute
names and values in the file are all untrusted. Each crafted file is built here by editing the
JSON description of a real save; each test asserts that nothing was imported or called (module
absent from sys.modules, marker file absent) and that the error is a CheckpointError naming the
file. Also: what the caller may allow explicitly, and dropout streams surviving a reload."""

import json
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import jtorch
from jtorch import nn
from jtorch.checkpoint import CheckpointError
from jtorch.cli import main

PAYLOAD = """
import pathlib
pathlib.Path({marker!r}).write_text("ran")
from jtorch import nn
class Net(nn.Module):
    def forward(self, x):
        return x
"""


def _edit_meta(path, edit):
    """Apply `edit(tree)` to the stored skeleton of checkpoint `path` (in place)."""
    meta_file = path / "meta" / "metadata"
    meta = json.loads(meta_file.read_text())
    edit(meta["tree"])
    meta_file.write_text(json.dumps(meta))


def _saved_linear(tmp_path, name="m"):
    jtorch.save(nn.Linear(2, 2), tmp_path / name)
    return tmp_path / name


def _set_class(path):
    def edit(tree):
        tree[1]["class"] = path

    return edit


def _add_entry(entry):
    def edit(tree):
        tree[1]["entries"].insert(0, entry)

    return edit


@pytest.fixture
def payload_dir(tmp_path, monkeypatch):
    """A checkpoint directory shipping `payload.py` (as a download might), on sys.path."""
    ckdir = tmp_path / "ckdir"
    ckdir.mkdir()
    (ckdir / "__init__.py").write_text("")
    marker = tmp_path / "marker"
    (ckdir / "payload.py").write_text(PAYLOAD.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, marker
    for name in ("ckdir", "ckdir.payload"):
        sys.modules.pop(name, None)


# (edit of the skeleton, module that must stay unimported, text the error must contain)
ATTACKS = [
    ("class of a module never imported", _set_class("this:Linear"), "this", "is not imported"),
    ("class shipped next to the file", _set_class("ckdir.payload:Net"), "ckdir", "trusted="),
    (
        "jtorch module that runs code",
        _set_class("jtorch.__main__:Net"),
        "jtorch.__main__",
        "not imp",
    ),
    ("class path through attributes", _set_class("jtorch.nn:modules.Linear"), None, "module-level"),
    ("re-exported name", _set_class("jtorch.nn:Linear"), None, "refers to"),
    ("not a Module", _set_class("subprocess:Popen"), None, "not a jtorch.nn.Module"),
    (
        "function through a module attribute",
        _add_entry(["act", "V", ["g", "jtorch.checkpoint.orbax_io", "os.system"]]),
        None,
        "module-level",
    ),
    (
        "function of an imported module",
        _add_entry(["act", "V", ["g", "os", "system"]]),
        None,
        "only activation-like",
    ),
    (
        "function of a module never imported",
        _add_entry(["act", "V", ["g", "antigravity", "geohash"]]),
        "antigravity",
        "is not imported",
    ),
    (
        "allowed function shadowing a method",
        _add_entry(["extra_repr", "V", ["g", "jtorch.nn.functional.activation", "relu"]]),
        None,
        "may not shadow",
    ),
    ("data shadowing forward", _add_entry(["forward", "V", 1]), None, "may not shadow"),
    ("parameter shadowing a method", _add_entry(["state_dict", "P", [0, True]]), None, "shadow"),
    ("internal attribute", _add_entry(["_jt_params", "V", ["t", []]]), None, "internal"),
    ("dunder attribute", _add_entry(["__class__", "V", 1]), None, "internal"),
    ("array reference out of range", _add_entry(["w", "V", ["a", 99]]), None, "out of range"),
    ("malformed entry", _add_entry(["w"]), None, "malformed"),
]


@pytest.mark.parametrize("what,edit,module,message", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_crafted_full_model_is_refused_without_importing_or_calling(
    payload_dir, what, edit, module, message
):
    tmp_path, marker = payload_dir
    path = _saved_linear(tmp_path)
    _edit_meta(path, edit)
    with pytest.raises(CheckpointError, match=message) as err:
        jtorch.load(path)
    assert str(path) in str(err.value)
    assert module is None or module not in sys.modules
    assert not marker.exists()


def test_missing_class_error_says_how_to_allow_it(payload_dir):
    tmp_path, marker = payload_dir
    path = _saved_linear(tmp_path)
    _edit_meta(path, _set_class("ckdir.payload:Net"))
    with pytest.raises(CheckpointError) as err:
        jtorch.load(path)
    text = str(err.value)
    assert "`Net`" in text and "`ckdir.payload`" in text
    assert "trusted=[Net]" in text and "add_safe_globals" in text
    assert not marker.exists()
    # the caller trusts the module: now (and only now) it is imported
    model = jtorch.load(path, trusted=["ckdir.payload"])
    assert type(model).__name__ == "Net" and marker.exists()


@pytest.mark.parametrize("how", ["trusted", "add_safe_globals", "imported"])
def test_explicitly_allowed_classes_and_functions_load(tmp_path, payload_dir, how):
    import ckdir.payload  # the program has the class (its import runs the payload, on purpose)

    model = ckdir.payload.Net()
    model.fc = nn.Linear(2, 3)
    model.scale = jnp.tanh  # an allowed function
    path = tmp_path / "net"
    jtorch.save(model, path)
    try:
        if how == "trusted":
            loaded = jtorch.load(path, trusted=[ckdir.payload.Net])
        elif how == "add_safe_globals":
            jtorch.serialization.add_safe_globals([ckdir.payload.Net])
            assert ckdir.payload.Net in jtorch.serialization.get_safe_globals()
            loaded = jtorch.load(path)
        else:
            loaded = jtorch.load(path)
    finally:
        jtorch.serialization.clear_safe_globals()
    assert type(loaded) is ckdir.payload.Net and loaded.scale is jnp.tanh
    np.testing.assert_array_equal(np.asarray(loaded.fc.weight), np.asarray(model.fc.weight))


def test_functions_off_the_short_list_are_refused_on_save_unless_allowed(tmp_path):
    model = nn.Linear(2, 2)
    model.hook = json.dumps
    with pytest.raises(TypeError, match="add_safe_globals"):
        jtorch.save(model, tmp_path / "m")
    jtorch.checkpoint.add_safe_globals([json.dumps])
    try:
        jtorch.save(model, tmp_path / "m")
        assert jtorch.load(tmp_path / "m").hook is json.dumps
    finally:
        jtorch.checkpoint.clear_safe_globals()
    with pytest.raises(CheckpointError, match="json.dumps"):
        jtorch.load(tmp_path / "m")


def test_cli_inspect_resolves_nothing_and_restore_needs_trust(payload_dir, capsys):
    tmp_path, marker = payload_dir
    path = _saved_linear(tmp_path)
    _edit_meta(path, _set_class("ckdir.payload:Net"))
    assert main(["ckpt", "inspect", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["content"] == "full model (Net)"
    assert [r["key"] for r in report["arrays"]] == ["weight", "bias"]
    assert "ckdir.payload" not in sys.modules and not marker.exists()
    assert main(["ckpt", "restore", str(path)]) == 1
    err = capsys.readouterr().err
    assert "`Net`" in err and "--trust" in err and not marker.exists()
    assert main(["ckpt", "restore", str(path), "--trust", "ckdir.payload"]) == 0
    assert "Net(" in capsys.readouterr().out and marker.exists()


def test_reloaded_dropout_continues_the_saved_stream(tmp_path):
    """The reloaded model draws the masks the saved one draws next (not a re-fork of the global
    RNG); exact equality."""
    jtorch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = jnp.ones((3, 4))
    model(x)  # advance the stream before saving
    jtorch.save(model, tmp_path / "m")
    expected = [np.asarray(model(x)) for _ in range(2)]
    jtorch.manual_seed(3)  # the global RNG must not matter
    loaded = jtorch.load(tmp_path / "m")
    got = [np.asarray(loaded(x)) for _ in range(2)]
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    assert not np.array_equal(expected[0], expected[1])


def test_records_without_saved_streams_still_load(tmp_path):
    """Full models written before streams were saved (entry `[name, "R"]`) get a fresh one."""
    jtorch.save(nn.Dropout(0.5), tmp_path / "m")

    def edit(tree):
        for entry in tree[1]["entries"]:
            if entry[1] == "R":
                del entry[2:]

    _edit_meta(tmp_path / "m", edit)
    loaded = jtorch.load(tmp_path / "m")
    assert loaded(jnp.ones((2, 8))).shape == (2, 8)
