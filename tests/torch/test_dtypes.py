"""Numerics of float32 and 16-bit networks: factors summed in float64 over the training data, bfloat16 models
scored in float32 against the float64 computation on the same (bfloat16-rounded) weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch import nn  # noqa: E402

from regdiag._validation import ModelError  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402

EPS32 = float(np.finfo(np.float32).eps)


def linear_data(n=2048, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = 1.0 + torch.randn(n, 5, generator=g)  # inputs off zero: every entry of the input factor is a long sum
    y = torch.randn(n, 3, generator=g)
    return X, y


@pytest.mark.parametrize("factor_dtype", [torch.float64, torch.float32])
def test_float32_factors_are_float64_sums_of_the_float32_inputs(factor_dtype):
    """K-FAC's input factor of a float32 layer over 2,048 examples in batches of 16: accumulated in float64 it is
    the exact sum of the float32 inputs' products, rounded once (within 2 units of float32 rounding); accumulated in
    float32 (``factor_dtype=torch.float32``), 128 batch sums in a row lose more."""
    X, y = linear_data()
    net = nn.Linear(5, 3)
    ti = TorchInfluence(net, "mse", (X, y), curvature="kfac", damping=1e-3, batch_size=16, check_optimum=False,
                        factor_dtype=factor_dtype).fit()
    G, A = ti.engine.curvature.factors[ti.model.blocks[0].name]
    assert A.dtype == torch.float32 and G.dtype == torch.float32  # kept in the scoring dtype
    X1 = torch.cat([X, torch.ones(len(X), 1)], dim=1).double()
    want = (X1.T @ X1 / len(X)).numpy()
    err = np.abs(A.double().numpy() - want).max() / np.abs(want).max()
    if factor_dtype == torch.float64:
        assert err <= 2 * EPS32
    else:
        assert err > 2 * EPS32


V, T = 12, 6


def gpt2(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=8, n_embd=8, n_layer=1, n_head=2, bos_token_id=0,
                                  eos_token_id=0)
    return transformers.GPT2LMHeadModel(cfg).to(dtype).eval()


def tokens(n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (n, T), generator=g)
    mask = torch.ones_like(ids)
    mask[: n // 3, T - 2 :] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("curvature", ["ekfac", "kfac", "diagonal"])
def test_bfloat16_gpt2_is_scored_in_float32_to_bfloat16_accuracy(curvature, tmp_path):
    """A bfloat16 GPT-2 (its forward and backward passes in bfloat16, 8-bit mantissas) against the same weights in
    float64: scores within 2% of the largest (bfloat16 rounding of activations and gradients, about 0.4% each), and
    ranked the same; returned as float64."""
    m16 = gpt2(seed=11, dtype=torch.bfloat16)
    m64 = gpt2(seed=11)
    m64.load_state_dict({k: v.double() for k, v in m16.state_dict().items()})  # the bfloat16 values, exactly
    train, query = tokens(12, seed=12), tokens(3, seed=13)
    kw = dict(curvature=curvature, damping=0.1, check_optimum=False, sampling="mc" if curvature != "diagonal" else None)
    want = TorchInfluence(m64, "lm", train, **kw).fit().scores(query)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ti = TorchInfluence(m16, "lm", train, **kw).fit()
        got = ti.scores(query)
    assert got.dtype == np.float64 and ti.model.dtype == torch.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-2 * np.abs(want).max())
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.999
    own = ti.self_influence()
    np.testing.assert_allclose(own, np.diag(ti.scores(train)), rtol=1e-5, atol=1e-6 * np.abs(own).max())
    if curvature == "ekfac":  # factors of a bfloat16 model on disk: the same scores after loading
        path = tmp_path / "factors.pt"
        ti.save(path)
        assert np.array_equal(TorchInfluence.load(path, m16, train).scores(query), got)


def test_bfloat16_with_the_exact_curvature_is_refused():
    with pytest.raises(ModelError, match="exact curvature differentiates the network twice in its own dtype"):
        TorchInfluence(gpt2(dtype=torch.bfloat16), "lm", tokens(4, seed=1), curvature="exact")
    with pytest.raises(ValueError, match=r"factor_dtype must be torch.float32 or torch.float64"):
        TorchInfluence(gpt2(), "lm", tokens(4, seed=1), factor_dtype=torch.bfloat16)
