"""A DCGAN step with two networks in one compiled function, against the torch original.

torch's step (pytorch/examples dcgan): D on real, G(noise) once, D on fake.detach(), D update,
D on fake, G update through the same G forward. BatchNorm statistics therefore move once per
forward torch runs: G's once per step, D's three times. The jtorch step keeps that count with
`jtorch.func.vjp` (one G forward, its pullback used after the D update) and by passing D as an
argument of the G loss. Compared over 3 steps: losses, parameters and every buffer
(`num_batches_tracked` exactly); rtol 1e-4, atol 1e-5 (float32, conv reductions in another order).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jtorch  # noqa: E402
from jtorch import nn, optim  # noqa: E402

NZ, STEPS, BATCH = 4, 3, 6


def generator(lib):
    return lib.nn.Sequential(
        lib.nn.ConvTranspose2d(NZ, 8, 4, 1, 0, bias=False),  # (N, 8, 4, 4)
        lib.nn.BatchNorm2d(8),
        lib.nn.ReLU(),
        lib.nn.ConvTranspose2d(8, 1, 4, 2, 1, bias=False),  # (N, 1, 8, 8)
        lib.nn.Tanh(),
    )


def discriminator(lib):
    return lib.nn.Sequential(
        lib.nn.Conv2d(1, 8, 4, 2, 1, bias=False),  # (N, 8, 4, 4)
        lib.nn.LeakyReLU(0.2),
        lib.nn.Conv2d(8, 16, 4, 2, 1, bias=False),  # (N, 16, 2, 2)
        lib.nn.BatchNorm2d(16),
        lib.nn.LeakyReLU(0.2),
        lib.nn.Conv2d(16, 1, 2, 1, 0, bias=False),  # (N, 1, 1, 1)
        lib.nn.Sigmoid(),
    )


def data():
    rng = np.random.default_rng(0)
    real = np.tanh(rng.standard_normal((STEPS, BATCH, 1, 8, 8))).astype(np.float32)
    noise = rng.standard_normal((STEPS, BATCH, NZ, 1, 1)).astype(np.float32)
    return real, noise


def torch_run(netG, netD):
    criterion = torch.nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)
    losses = []
    for real, noise in zip(*map(torch.from_numpy, data())):
        netD.zero_grad()
        err_real = criterion(netD(real).view(-1), ones)
        err_real.backward()
        fake = netG(noise)
        err_fake = criterion(netD(fake.detach()).view(-1), zeros)
        err_fake.backward()
        optD.step()
        netG.zero_grad()
        err_g = criterion(netD(fake).view(-1), ones)
        err_g.backward()
        optG.step()
        losses.append([(err_real + err_fake).item(), err_g.item()])
    return np.array(losses)


@jtorch.jit
def gan_step(netG, netD, optG, optD, real, noise):
    criterion = nn.BCELoss()
    ones, zeros = jnp.ones(real.shape[0]), jnp.zeros(real.shape[0])
    fake, pull_g = jtorch.func.vjp(lambda G: G(noise), netG)  # G's one forward

    def d_loss(D):
        err_real = criterion(D(real).reshape(-1), ones)
        return err_real + criterion(D(jax.lax.stop_gradient(fake)).reshape(-1), zeros)

    err_d, grads_d = jtorch.value_and_grad(d_loss)(netD)
    optD.step(grads_d)
    # D is an argument (updated, not differentiated): its statistics move as in torch's D(fake)
    err_g, d_fake = jtorch.value_and_grad(lambda f, D: criterion(D(f).reshape(-1), ones))(
        fake, netD
    )
    (grads_g,) = pull_g(d_fake)
    optG.step(grads_g)
    return err_d, err_g


def test_dcgan_step_matches_torch():
    torch.manual_seed(0)
    tG, tD = generator(torch), discriminator(torch)
    jG, jD = generator(jtorch), discriminator(jtorch)
    jG.load_state_dict(tG.state_dict())
    jD.load_state_dict(tD.state_dict())
    optD = optim.Adam(jD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optG = optim.Adam(jG.parameters(), lr=2e-3, betas=(0.5, 0.999))

    expected = torch_run(tG, tD)
    got = np.array(
        [
            [float(v) for v in gan_step(jG, jD, optG, optD, jnp.asarray(r), jnp.asarray(z))]
            for r, z in zip(*data())
        ]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    for name, tnet, jnet in (("G", tG, jG), ("D", tD, jD)):
        want = tnet.state_dict()
        have = jnet.state_dict()
        assert list(have) == list(want)
        for key, value in want.items():
            if key.endswith("num_batches_tracked"):
                assert int(have[key]) == int(value), f"{name}.{key}"
            else:
                np.testing.assert_allclose(
                    np.asarray(have[key]), value.numpy(), rtol=1e-4, atol=1e-5, err_msg=key
                )
    assert int(jG.state_dict()["1.num_batches_tracked"]) == STEPS
    assert int(jD.state_dict()["3.num_batches_tracked"]) == 3 * STEPS


def test_closure_captured_module_that_changes_names_it():
    """G used inside D's loss without being an argument: an error naming G, not NNX's."""
    jG = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    jD = nn.Linear(3, 1)
    noise = jnp.ones((4, 2))

    def d_loss(D):
        return jnp.sum(D(jG(noise)))

    with pytest.raises(RuntimeError, match=r"`jG` \(Sequential\).*Pass the module as an argument"):
        jtorch.value_and_grad(d_loss)(jD)
    loss, grads = jtorch.value_and_grad(lambda D, G: jnp.sum(D(G(noise))))(jD, jG)
    assert set(grads) == {n for n, _ in jD.named_parameters()}
    assert int(jG.state_dict()["1.num_batches_tracked"]) == 1  # updated, not differentiated
