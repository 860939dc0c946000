"""Smoke runs of every script in examples/ (`main(["--smoke", "--out", tmp])`), checking what each
computes: accuracy above chance after smoke training, the seed's printed shapes, loss values and
gradients equal to torch's (computed here, rtol 1e-4), and save/load round trips."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    """Import examples/<name>.py as module `examples_<name>` (registered, so saved full models
    can find their classes again)."""
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _run(name: str, tmp_path: Path, *extra: str):
    return _load(name).main(["--smoke", "--out", str(tmp_path), *extra])


def test_custom_layers_prints_the_seed_values_and_shapes(tmp_path):
    r = _run("custom_layers", tmp_path)
    np.testing.assert_array_equal(r["my_layer"], [-2.0, -1.0, 0.0, 1.0, 2.0])
    assert "(3): Parameter containing: [torch.float32 of size 4x1]" in r["list_repr"]
    assert "(linear3): Parameter containing: [torch.FloatTensor of size 4x2]" in r["dict_repr"]
    assert r["list_out"].shape == (1, 1) and r["dict_out"].shape == (1, 2)
    # the seed's printed results
    assert [tuple(s) for s in r["comp_conv2d_shapes"]] == [(8, 8), (8, 8), (2, 2)]
    np.testing.assert_array_equal(r["pool_max"], [[4.0, 5.0], [7.0, 8.0]])
    np.testing.assert_array_equal(r["pool_avg"], [[2.0, 3.0], [5.0, 6.0]])
    np.testing.assert_array_equal(r["corr2d"], [[19.0, 25.0], [37.0, 43.0]])
    assert r["conv2d_layer"].shape == (6, 7)


def test_custom_layers_match_torch(tmp_path):
    torch = pytest.importorskip("torch")
    r = _run("custom_layers", tmp_path)
    x = torch.rand(8, 8).view(1, 1, 8, 8)
    torch_shapes = [
        tuple(torch.nn.Conv2d(1, 1, **kw)(x).shape[2:])
        for kw in (
            dict(kernel_size=3, padding=1),
            dict(kernel_size=(5, 3), padding=(2, 1)),
            dict(kernel_size=(3, 5), padding=(0, 1), stride=(3, 4)),
        )
    ]
    assert [tuple(s) for s in r["comp_conv2d_shapes"]] == torch_shapes
    X = torch.arange(9.0).view(1, 1, 3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    np.testing.assert_allclose(r["corr2d"], torch.nn.functional.conv2d(X, K)[0, 0].numpy())
    pool_max = torch.nn.functional.max_pool2d(X, 2, stride=1)[0, 0].numpy()
    pool_avg = torch.nn.functional.avg_pool2d(X, 2, stride=1)[0, 0].numpy()
    np.testing.assert_allclose(r["pool_max"], pool_max)
    np.testing.assert_allclose(r["pool_avg"], pool_avg)


def test_weight_init_applies_initialize_weights(tmp_path):
    r = _run("weight_init", tmp_path)
    assert r["isinstance"] == (True, False)
    assert not np.all(r["hidden_before"] == 0)
    np.testing.assert_array_equal(r["hidden_after"], np.zeros((1, 1, 3, 3)))
    np.testing.assert_allclose(r["hidden_bias_after"], [0.3], rtol=1e-6)
    np.testing.assert_array_equal(r["output_bias_after"], [0.0])
    assert r["output_weight_after"].shape == (1, 10)
    np.testing.assert_allclose(r["linear_constant"], np.full((1, 10), 0.3), rtol=1e-6)
    bound = 1 / np.sqrt(9)  # default init: kaiming_uniform(a=√5) gives U(-1/√fan_in, 1/√fan_in)
    assert np.all(np.abs(r["conv_default"]) <= bound)
    assert not np.array_equal(r["conv_default"], r["conv_kaiming"])


def test_loss_gallery_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    r = _run("loss_gallery", tmp_path)
    assert len(r) == 16
    # the seed's printed values for its fixed inputs
    for title, expected in [
        ("KLDivLoss", -0.3335),
        ("MultiLabelMarginLoss", 0.45),
        ("SoftMarginLoss", 0.6764),
        ("MultiMarginLoss", 0.6),
        ("HingEmbeddingLoss", 0.7667),
        ("CosineEmbeddingLoss", 0.5),
    ]:
        assert r[title]["output"] == pytest.approx(expected, abs=1e-4), title
    for title, case in r.items():
        inputs = [torch.from_numpy(np.array(v)) for v in case["inputs"]]
        inputs = [t.long() if t.dtype == torch.int32 else t for t in inputs]
        for i in case["grad_idx"]:
            inputs[i].requires_grad_(True)
        first = torch.sigmoid(inputs[0]) if case["wrap"] == "sigmoid" else inputs[0]
        loss = getattr(torch.nn, case["loss"])(**case["options"])
        with pytest.warns(UserWarning) if case["loss"] == "KLDivLoss" else _nullcontext():
            out = loss(first, *inputs[1:])
        np.testing.assert_allclose(case["output"], out.item(), rtol=1e-4, err_msg=title)
        if case["grad_idx"] and np.isfinite(out.item()):
            out.backward()
            for i, g in zip(case["grad_idx"], case["grads"]):
                np.testing.assert_allclose(
                    g, inputs[i].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=title
                )


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_optimizer_state_follows_the_seed_and_torch(tmp_path):
    r = _run("optimizer_state", tmp_path)
    # the seed's arithmetic: one step of -0.1, then 50 steps with zero gradient decaying momentum
    np.testing.assert_allclose(r["weight_after_one"], r["weight_before"] - 0.1, rtol=1e-5)
    buf = r["state_after"]["state"][0]["momentum_buffer"]
    np.testing.assert_allclose(buf, np.full((2, 2), 0.9**50), rtol=1e-4)
    assert r["same_object"]
    np.testing.assert_array_equal(r["weight2_after"], r["weight2_before"])
    assert r["groups_after_add"][1]["lr"] == 0.0001 and r["groups_after_add"][1]["nesterov"]
    assert r["layer_lrs"] == [1e-5, 1e-2] and r["layer_counts"] == [2, 2]
    np.testing.assert_allclose(r["reloaded"]["state"][0]["momentum_buffer"], buf, rtol=1e-6)

    torch = pytest.importorskip("torch")
    weight = torch.tensor(r["weight_before"], requires_grad=True)
    weight.grad = torch.ones(2, 2)
    opt = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    opt.step()
    np.testing.assert_allclose(r["weight_after_one"], weight.detach().numpy(), rtol=1e-5)
    weight.grad = torch.zeros(2, 2)
    weight2 = torch.tensor(r["weight2_before"], requires_grad=True)
    opt.add_param_group({"params": weight2, "lr": 0.0001, "nesterov": True})
    before = opt.state_dict()
    assert before["param_groups"] == r["state_before"]["param_groups"]
    for _ in range(50):
        opt.step()
    np.testing.assert_allclose(r["weight_after_fifty"], weight.detach().numpy(), rtol=1e-5)
    torch_state = opt.state_dict()
    np.testing.assert_allclose(buf, torch_state["state"][0]["momentum_buffer"].numpy(), rtol=1e-5)
    assert torch_state["param_groups"] == r["state_after"]["param_groups"]
    assert dict(opt.defaults) == r["defaults"]


def test_mlp_digits_learns(tmp_path):
    r = _run("mlp_digits", tmp_path)
    assert "(hidden): Linear(in_features=64, out_features=256, bias=True)" in r["model_repr"]
    assert len(r["history"]) == 2
    assert r["history"][1][0] < r["history"][0][0]  # training loss falls
    assert r["test_accuracy"] > 0.5  # chance is 0.1


def test_lenet_digits_fit_and_report(tmp_path):
    r = _run("lenet_alexnet_digits", tmp_path)
    assert r["eval"]["accuracy"] > 0.3  # chance is 0.1
    assert r["history"]["train_loss"][-1] < r["history"]["train_loss"][0]
    assert "weighted avg" in r["eval"]["report"] and "precision" in r["eval"]["report"]
    assert r["eval"]["confusion"].sum() == 359
    assert Path(r["plot"]).is_file() and Path(r["plot"]).parent == tmp_path


def test_gpu_device_runs_on_the_selected_device(tmp_path):
    import jax

    r = _run("gpu_device", tmp_path)
    expected = "cuda:0" if any(d.platform == "gpu" for d in jax.devices()) else "cpu"
    assert r["device"] == expected
    platform = "gpu" if expected.startswith("cuda") else "cpu"
    assert r["param_platforms"] == {platform} and r["predict_platform"] == platform
    assert r["final_loss"] < r["first_loss"]
    assert Path(r["plot"]).is_file()


def test_dataset_dataloader_batches(tmp_path):
    r = _run("dataset_dataloader", tmp_path)
    assert r["batch_shape"] == (16, 1, 28, 28)
    image, label = r["first_item"]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    csv_image, csv_label = r["csv_first_item"]
    np.testing.assert_array_equal(np.asarray(csv_image), np.asarray(image))
    assert csv_label == label
    assert r["folder_first_item"][0].shape == (1, 8, 8)
    # drop_last: 40 images in batches of 16 give 2 full batches; the val loader keeps the rest
    assert r["train_batch_count"] == 2 and len(r["train_labels_seen"]) == 32
    assert r["val_batch_sizes"] == [16, 16, 8]
    assert Path(r["plot"]).is_file()


def test_save_load_round_trips(tmp_path):
    r = _run("save_load", tmp_path)
    assert r["state_dict_roundtrip"]
    np.testing.assert_array_equal(r["state_dict_output"], r["reference_output"])
    assert r["full_model_type"] == "TheModelClass"
    assert r["full_model_repr"][0] == r["full_model_repr"][1]
    np.testing.assert_array_equal(r["full_model_output"], r["reference_output"])
    assert r["resume_equal"] and r["resume_changed"]
    assert r["resume_epoch_loss"][0] == 1
    assert r["multi_equal"] and r["multi_optimizer_equal"]
    assert r["warm_missing"] == ["head.weight", "head.bias"]
    assert r["warm_unexpected"] == ["fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    assert r["warm_conv1_equal"]
    assert r["map_location_platforms"] == {"cpu"}
    assert r["pth_roundtrip"]
    assert r["surgery_repr"][0] == r["surgery_repr"][1]
    assert "(6): Linear(in_features=64, out_features=10, bias=True)" in r["surgery_repr"][1]
    assert r["surgery_true_keys"][-2:] == ["add_linear.weight", "add_linear.bias"]
    assert "classifier.add_linear.weight" in r["surgery_true_keys"]
    np.testing.assert_array_equal(*r["surgery_output"])
    assert r["surgery_state_equal"]
    assert all(p.is_relative_to(tmp_path) for p in tmp_path.rglob("*"))

    torch = pytest.importorskip("torch")
    loaded = torch.load(r["pth_path"], weights_only=True)
    assert list(loaded) == list(r["state_dict"])
    for key, value in r["state_dict"].items():
        np.testing.assert_array_equal(loaded[key].numpy(), value)
