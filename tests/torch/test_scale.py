"""Influence at scale on a tiny GPT-2: factors saved and loaded bit for bit, per-token scores, self-influence through
the preconditioner, queries in chunks, low-rank queries with their error, iterative solvers that report the residual
they reached, a picklable fitted object."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch import nn  # noqa: E402

import regdiag.torch.influence as influence_module  # noqa: E402
from regdiag._validation import ConvergenceError, InfluenceWarning, ModelError  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402

V, T = 12, 6


def gpt2(seed=0):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=8, n_embd=8, n_layer=1, n_head=2, bos_token_id=0,
                                  eos_token_id=0)
    return transformers.GPT2LMHeadModel(cfg).double().eval()


def batch(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (n, T), generator=g)
    mask = torch.ones_like(ids)
    mask[: n // 3, T - 2 :] = 0
    return {"input_ids": ids, "attention_mask": mask}


KW = dict(damping=0.1, check_optimum=False, sampling="mc", mc_samples=2)


@pytest.mark.parametrize("curvature", ["ekfac", "kfac", "diagonal"])
def test_saved_factors_load_bit_for_bit_and_only_onto_the_same_model(curvature, tmp_path):
    model, train = gpt2(), batch(10)
    kw = dict(KW) if curvature != "diagonal" else dict(damping=0.1, check_optimum=False)
    ti = TorchInfluence(model, "lm", train, curvature=curvature, **kw).fit()
    query = batch(3, seed=9)
    want, own = ti.scores(query), ti.self_influence()
    path = tmp_path / "factors.pt"
    ti.save(path)
    back = TorchInfluence.load(path, model, train)
    assert np.array_equal(back.scores(query), want) and np.array_equal(back.self_influence(), own)
    assert back.engine.damping == ti.engine.damping and back.curvature == ti.curvature
    other = gpt2(seed=1)  # same architecture, other weights
    with pytest.raises(ModelError, match="parameter values differ from those the factors were fitted to"):
        TorchInfluence.load(path, other, train)
    model.transformer.wpe.weight.requires_grad_(False)
    try:
        with pytest.raises(ModelError, match="are not those the factors were fitted to"):
            TorchInfluence.load(path, model, train)
    finally:
        model.transformer.wpe.weight.requires_grad_(True)
    with pytest.raises(ModelError, match="fitted to 10 training examples; train has 9"):
        TorchInfluence.load(path, model, {k: v[:9] for k, v in train.items()})


def test_a_file_naming_a_curvature_save_does_not_write_is_refused(tmp_path):
    model, train = gpt2(), batch(6)
    ti = TorchInfluence(model, "lm", train, curvature="diagonal", damping=0.1, check_optimum=False).fit()
    path = tmp_path / "factors.pt"
    ti.save(path)
    state = torch.load(path, weights_only=True)
    state["curvature"] = "gauss_newton"  # dense: save() refuses it, so no such file is written
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"holds a gauss_newton curvature; TorchInfluence.save writes only"):
        TorchInfluence.load(path, model, train)


def test_per_token_scores_sum_to_the_sequence_score_and_ignored_positions_score_zero():
    model, train = gpt2(seed=2), batch(9)
    ti = TorchInfluence(model, "lm", train, **KW).fit()
    query = batch(4, seed=3)
    per = ti.scores(query, per_token=True)
    assert per.shape == (4, T, 9)
    whole = ti.scores(query)
    np.testing.assert_allclose(per.sum(axis=1), whole, rtol=1e-10, atol=1e-12 * np.abs(whole).max())
    assert np.all(per[:, -1] == 0)  # the last position predicts no token
    assert np.all(per[0, T - 3 :] == 0)  # masked tokens (positions 4, 5) are not predicted: positions 3, 4, 5 score 0
    assert np.abs(per[0, : T - 3]).min() > 0
    with pytest.raises(ValueError, match="per_token=True needs a token loss"):
        ti.scores(query, measurement=lambda f, y: f[:, 0, 0], per_token=True)


@pytest.mark.parametrize("curvature", ["ekfac", "kfac", "diagonal"])
def test_self_influence_is_the_diagonal_of_the_scores_of_the_training_examples(curvature):
    model, train = gpt2(seed=4), batch(8, seed=5)
    kw = dict(KW) if curvature != "diagonal" else dict(damping=0.1, check_optimum=False)
    ti = TorchInfluence(model, "lm", train, curvature=curvature, batch_size=3, **kw).fit()
    own = ti.self_influence()
    S = ti.scores(train)
    np.testing.assert_allclose(own, np.diag(S), rtol=1e-9, atol=1e-12 * np.abs(own).max())
    # and the engine's general route (full per-example gradients through the solver) gives the same numbers
    eng = ti.engine
    with torch.no_grad():
        general = torch.cat([(lambda D, G: (G * D).sum(1))(*eng.delta(r)[:2]) for r in
                             [slice(0, 3), slice(3, 6), slice(6, 8)]])
    np.testing.assert_allclose(own, general.numpy(), rtol=1e-9, atol=1e-12 * np.abs(own).max())


def test_queries_in_chunks_and_low_rank_queries(monkeypatch):
    model, train = gpt2(seed=6), batch(8, seed=7)
    ti = TorchInfluence(model, "lm", train, **KW).fit()
    query = batch(5, seed=8)
    want = ti.scores(query)
    monkeypatch.setattr(influence_module, "QUERY_CHUNK", 2 * ti.model.n_params)  # two queries per chunk
    np.testing.assert_allclose(ti.scores(query), want, rtol=1e-12, atol=1e-14 * np.abs(want).max())
    per = ti.scores(query, per_token=True)  # one query (6 positions) per chunk
    np.testing.assert_allclose(per.sum(axis=1), want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    full = ti.scores(query, query_rank=64)
    assert ti.query_rank_error == 0.0
    np.testing.assert_allclose(full, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    low = ti.scores(query, query_rank=1)
    assert 0 < ti.query_rank_error < 1
    assert np.corrcoef(low.ravel(), want.ravel())[0, 1] > 0.5


def test_iterative_solvers_return_with_the_residual_reached():
    model, train = gpt2(seed=9), batch(8, seed=10)
    query = batch(2, seed=11)
    ti = TorchInfluence(model, "lm", train, curvature="gauss_newton", solver="cg", solver_options={"max_iter": 3},
                        **KW).fit()
    with pytest.warns(InfluenceWarning, match=r"CG did not converge .* relative residual [0-9.e-]+.*solution reached"):
        S = ti.scores(query)
    assert np.isfinite(S).all() and ti.engine.solver.info["max_rel_residual"] > 1e-10
    strict = TorchInfluence(model, "lm", train, curvature="gauss_newton", solver="cg",
                            solver_options={"max_iter": 3, "on_failure": "raise"}, **KW).fit()
    with pytest.raises(ConvergenceError, match="CG did not converge"):
        strict.scores(query)


def test_a_fitted_object_with_progress_bars_pickles():
    pytest.importorskip("tqdm")
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    X = torch.randn(20, 3, dtype=torch.float64)
    y = (X[:, 0] > 0).long()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm's notebook detection
        ti = TorchInfluence(net, "cross_entropy", (X, y), damping=0.1, check_optimum=False, progress=True).fit()
        want = ti.scores((X[:2], y[:2]))
        back = pickle.loads(pickle.dumps(ti))
        assert np.array_equal(back.scores((X[:2], y[:2])), want)


def test_per_train_token_scores_sum_to_the_sequence_score_and_masked_tokens_score_zero():
    model, train = gpt2(seed=2), batch(9)
    ti = TorchInfluence(model, "lm", train, batch_size=4, **KW).fit()
    query = batch(4, seed=3)
    whole = ti.scores(query)
    per = ti.scores(query, per_token="train")
    assert per.shape == (4, 9, T)
    np.testing.assert_allclose(per.sum(axis=2), whole, rtol=1e-10, atol=1e-12 * np.abs(whole).max())
    assert np.all(per[:, :, -1] == 0)  # the last position predicts no token
    assert np.all(per[:, 0, T - 3 :] == 0)  # training row 0 is masked at positions 4, 5
    assert np.abs(per[:, 3, :-1]).min() > 0
    both = ti.scores(query, per_token="both")
    assert both.shape == (4, T, 9, T)
    np.testing.assert_allclose(both.sum(axis=1), per, rtol=1e-10, atol=1e-12 * np.abs(per).max())
    np.testing.assert_allclose(both.sum(axis=3), ti.scores(query, per_token=True), rtol=1e-10,
                               atol=1e-12 * np.abs(per).max())
    np.testing.assert_allclose(ti.scores(query, per_token="train", query_rank=64), per, rtol=1e-9,
                               atol=1e-12 * np.abs(per).max())
    with pytest.raises(ValueError, match="per_token must be False, True, 'query', 'train' or 'both'"):
        ti.scores(query, per_token="tokens")
    X = torch.randn(6, 3, dtype=torch.float64)
    net = nn.Linear(3, 2).double()
    plain = TorchInfluence(net, "cross_entropy", (X, (X[:, 0] > 0).long()), damping=0.1, check_optimum=False).fit()
    with pytest.raises(ValueError, match=r"per_token='train' needs a token loss"):
        plain.scores((X[:2], torch.tensor([0, 1])), per_token="train")


def test_scoring_reads_the_training_data_once_whatever_the_number_of_query_chunks(monkeypatch):
    model, train = gpt2(seed=6), batch(8, seed=7)
    ti = TorchInfluence(model, "lm", train, batch_size=3, **KW).fit()
    query = batch(5, seed=8)
    want = ti.scores(query)
    reads = []
    data = ti.model.data
    get = data.get
    monkeypatch.setattr(data, "get", lambda rows: reads.append(rows) or get(rows))
    monkeypatch.setattr(influence_module, "QUERY_CHUNK", 2 * ti.model.n_params)  # three chunks of queries
    np.testing.assert_allclose(ti.scores(query), want, rtol=1e-12, atol=1e-14 * np.abs(want).max())
    assert len(reads) == 3  # the three training batches, once
    reads.clear()
    monkeypatch.setattr(influence_module, "TRAIN_CACHE", 0)  # nothing kept: one pass per chunk
    np.testing.assert_allclose(ti.scores(query), want, rtol=1e-12, atol=1e-14 * np.abs(want).max())
    assert len(reads) == 9
