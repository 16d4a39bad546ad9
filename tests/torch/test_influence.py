"""TorchInfluence against regdiag's closed-form GLM, the engine, and invariances (batch size, data order)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import regdiag  # noqa: E402
from regdiag import engine  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402


@pytest.fixture(scope="module")
def logistic():
    rng = np.random.default_rng(11)
    n = 80
    X = rng.standard_normal((n, 3))
    eta = 0.3 + X @ np.array([1.0, -0.7, 0.4])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    df = pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(y=y)
    fit = regdiag.glm("y ~ x1 + x2 + x3", data=df, family="binomial")
    net = nn.Linear(3, 1).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor(fit.coef[1:])[None])
        net.bias.copy_(torch.tensor(fit.coef[:1]))
    Xt, yt = torch.tensor(X), torch.tensor(y)[:, None]
    return fit, net, (Xt, yt), df


# the engine's parameters are [w1, w2, w3, bias]; the GLM's [Intercept, x1, x2, x3]
ORDER = [1, 2, 3, 0]


@pytest.mark.parametrize("curvature", ["exact", "gauss_newton"])
def test_logistic_regression_reproduces_the_glm_one_step_influence(logistic, curvature):
    fit, net, train, _ = logistic
    ti = TorchInfluence(net, "bce_with_logits", train, curvature=curvature, correction="leverage").fit()
    assert ti.gradient_norm < 1e-10
    got = ti.influence()
    glm = fit.influence()  # one-step, Pearson residual: the Fisher-scoring step without observation i
    np.testing.assert_allclose(got.param_influence, -glm.dfbeta[:, ORDER], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.leverage, glm.leverage, rtol=1e-6, atol=1e-12)


def test_logistic_scores_match_the_engine_on_the_glm(logistic):
    fit, net, (X, y), df = logistic
    q = slice(0, 7)
    ti = TorchInfluence(net, "bce_with_logits", (X, y), curvature="exact").fit()
    Gq = engine.query_gradients(fit, (df.iloc[q], df["y"].to_numpy()[q]))
    ref = engine.influence(fit, curvature="exact").scores(Gq)
    np.testing.assert_allclose(ti.scores((X[q], y[q])), ref, rtol=1e-6, atol=1e-10)
    for curvature in ("kfac", "ekfac"):  # one output: K-FAC/EK-FAC differ from the exact curvature, but run
        s = TorchInfluence(net, "bce_with_logits", (X, y), curvature=curvature).fit().scores((X[q], y[q]))
        assert np.corrcoef(s.ravel(), ref.ravel())[0, 1] > 0.9


def _mlp_problem(seed=0, n=48):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    X = torch.randn(n, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (n,))
    return net, X, y


@pytest.mark.parametrize("curvature,correction", [("ekfac", "none"), ("kfac", "leverage"), ("gauss_newton", "none")])
def test_scores_do_not_depend_on_batch_size_or_training_order(curvature, correction):
    net, X, y = _mlp_problem(1)
    kw = dict(curvature=curvature, correction=correction, damping=1e-2, check_optimum=False)
    q = (X[:5] + 0.1, y[:5])
    base = TorchInfluence(net, "cross_entropy", (X, y), batch_size=48, **kw).fit()
    s0, self0 = base.scores(q), base.self_influence()
    s1 = TorchInfluence(net, "cross_entropy", (X, y), batch_size=7, **kw).fit().scores(q)
    np.testing.assert_allclose(s1, s0, rtol=1e-10, atol=1e-14)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(3))
    shuffled = TorchInfluence(net, "cross_entropy", (X[perm], y[perm]), batch_size=10, **kw).fit()
    np.testing.assert_allclose(shuffled.scores(q), s0[:, perm.numpy()], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(shuffled.self_influence(), self0[perm.numpy()], rtol=1e-10, atol=1e-14)


def test_dataset_dataloader_and_tuple_agree():
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    net, X, y = _mlp_problem(2)

    class Pairs(Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i], y[i]

    kw = dict(damping=1e-2, check_optimum=False)
    q = (X[:3], y[:3])
    ref = TorchInfluence(net, "cross_entropy", (X, y), **kw).fit().scores(q)
    for train in (Pairs(), TensorDataset(X, y), DataLoader(Pairs(), batch_size=9, shuffle=True)):
        np.testing.assert_allclose(TorchInfluence(net, "cross_entropy", train, **kw).fit().scores(q), ref,
                                   rtol=1e-10, atol=1e-14)


def test_scores_are_the_engine_formula_and_self_influence_its_diagonal():
    net, X, y = _mlp_problem(3, n=30)
    ti = TorchInfluence(net, "cross_entropy", (X, y), curvature="ekfac", damping=1e-2, check_optimum=False).fit()
    infl = ti.influence()
    Gq = ti.query_gradients((X[:4], y[:4])).numpy()
    np.testing.assert_allclose(ti.scores((X[:4], y[:4])), Gq @ infl.param_influence.T, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(ti.self_influence(), infl.self_influence, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.diag(ti.scores((X, y))), infl.self_influence, rtol=1e-9, atol=1e-13)


def test_cg_preconditioned_by_ekfac_recovers_the_direct_gauss_newton_scores():
    net, X, y = _mlp_problem(4, n=40)
    kw = dict(damping=1e-3, check_optimum=False)
    q = (X[:4], y[:4])
    direct = TorchInfluence(net, "cross_entropy", (X, y), curvature="gauss_newton", **kw).fit().scores(q)
    cg = TorchInfluence(net, "cross_entropy", (X, y), curvature="gauss_newton", solver="cg",
                        solver_options={"preconditioner": "ekfac", "rtol": 1e-12}, **kw).fit()
    np.testing.assert_allclose(cg.scores(q), direct, rtol=1e-8, atol=1e-12)
    assert cg.engine.solver.info["preconditioner"] == "ekfac"


def test_low_rank_query_compression():
    net, X, y = _mlp_problem(5, n=30)
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False).fit()
    q = (X[:6], y[:6])
    full = ti.scores(q)
    # layers (6, 4 + 1) and (3, 6 + 1): rank 5 is full
    np.testing.assert_allclose(ti.scores(q, query_rank=5), full, rtol=1e-10, atol=1e-13)
    r1 = ti.scores(q, query_rank=1)
    assert 0 < np.abs(r1 - full).max() < np.abs(full).max()
    assert np.corrcoef(r1.ravel(), full.ravel())[0, 1] > 0.8


def test_callable_loss_and_measurement():
    net, X, y = _mlp_problem(6, n=30)
    kw = dict(damping=1e-2, check_optimum=False)
    q = (X[:4], y[:4])
    ref = TorchInfluence(net, "cross_entropy", (X, y), **kw).fit()
    mine = TorchInfluence(net, torch.nn.functional.cross_entropy, (X, y), reduction="mean", **kw).fit()
    np.testing.assert_allclose(mine.scores(q), ref.scores(q), rtol=1e-10, atol=1e-14)

    def summed(out, t):
        return torch.nn.functional.cross_entropy(out, t, reduction="sum")

    np.testing.assert_allclose(
        TorchInfluence(net, summed, (X, y), reduction="sum", **kw).fit().scores(q), ref.scores(q),
        rtol=1e-10, atol=1e-14
    )
    loss_as_measurement = ref.scores(q, lambda out, t: torch.nn.functional.cross_entropy(out, t))
    np.testing.assert_allclose(loss_as_measurement, ref.scores(q), rtol=1e-10, atol=1e-14)
    logit = ref.scores(q, lambda out, t: out[:, 0])
    assert logit.shape == (4, 30) and not np.allclose(logit, ref.scores(q))


def test_top_lists_proponents_and_opponents():
    net, X, y = _mlp_problem(7, n=25)
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False,
                        index=[f"ex{i}" for i in range(25)]).fit()
    q = (X[:2], y[:2])
    S = ti.scores(q)
    top = ti.top(q, k=3)
    assert list(top.columns) == ["query", "kind", "rank", "train", "score"] and len(top) == 12
    for qi in range(2):
        pro = top[(top["query"] == qi) & (top["kind"] == "proponent")]
        opp = top[(top["query"] == qi) & (top["kind"] == "opponent")]
        np.testing.assert_allclose(pro["score"], np.sort(S[qi])[::-1][:3])
        np.testing.assert_allclose(opp["score"], np.sort(S[qi])[:3])
        assert pro["train"].iloc[0] == f"ex{int(np.argmax(S[qi]))}"


def test_float32_agrees_with_float64():
    net, X, y = _mlp_problem(8, n=30)
    kw = dict(damping=1e-1, check_optimum=False)
    s64 = TorchInfluence(net, "cross_entropy", (X, y), **kw).fit().scores((X[:3], y[:3]))
    net32 = net.float()
    s32 = TorchInfluence(net32, "cross_entropy", (X.float(), y), **kw).fit().scores((X[:3].float(), y[:3]))
    np.testing.assert_allclose(s32, s64, rtol=1e-3, atol=1e-5 * np.abs(s64).max())


def test_progress_is_reported():
    net, X, y = _mlp_problem(9, n=20)
    seen = []
    TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False, batch_size=5,
                   progress=lambda stage, done, total: seen.append((stage, done, total))).fit()
    stages = {s for s, _, _ in seen}
    assert "ekfac: factors" in stages and "ekfac: eigenvalue correction" in stages
    assert ("ekfac: factors", 4, 4) in seen


def test_mode_is_restored_and_model_untouched():
    net, X, y = _mlp_problem(10, n=20)
    net.train()
    before = [p.detach().clone() for p in net.parameters()]
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False).fit()
    ti.scores((X[:2], y[:2]))
    assert net.training
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert all(p.grad is None for p in net.parameters())


def test_leverage_corrected_exact_influence_is_the_newton_step_without_the_example():
    from tests.torch import reference as ref

    torch.manual_seed(12)
    n, lam = 30, 0.05
    X, y = torch.randn(n, 3, dtype=torch.float64), torch.randint(0, 3, (n,))
    net = nn.Linear(3, 3).double()
    opt = torch.optim.LBFGS(net.parameters(), max_iter=200, tolerance_grad=1e-14, tolerance_change=0,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(X), y) + 0.5 * lam * sum((p**2).sum() for p in net.parameters())
        loss.backward()
        return loss

    opt.step(closure)
    ti = TorchInfluence(net, "cross_entropy", (X, y), curvature="exact", l2=lam, correction="leverage").fit()
    assert ti.gradient_norm < 1e-8
    D = ti.influence().param_influence
    theta = ref.flatten(net, {k: v.detach() for k, v in net.named_parameters()})
    H = ref.hessian(net, "cross_entropy", X, y) + lam * torch.eye(len(theta), dtype=torch.float64)

    def loss_i(t, i):
        return nn.functional.cross_entropy(torch.func.functional_call(net, ref.unflatten(net, t), (X[i : i + 1],)),
                                           y[i : i + 1])

    for i in range(0, n, 6):
        Hi = torch.func.hessian(loss_i)(theta, i)
        g = torch.func.grad(loss_i)(theta, i)
        expected = torch.linalg.solve(H - Hi / n, g / n)  # one Newton step of the objective without example i
        np.testing.assert_allclose(D[i], expected.numpy(), rtol=1e-8, atol=1e-12)


def test_scores_formed_a_few_examples_at_a_time_are_the_same(monkeypatch):
    import regdiag.torch.influence as ti_mod

    net, X, y = _mlp_problem(13, n=30)
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False).fit()
    q = (X[:4], y[:4])
    whole = ti.scores(q)
    monkeypatch.setattr(ti_mod, "GRADIENT_CHUNK", 50)  # a layer of 30 parameters: one example at a time
    np.testing.assert_allclose(ti.scores(q), whole, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("solver,options,tol", [("lowrank", {"rank": 51}, 1e-8), ("lissa", {"rtol": 1e-10}, 1e-7)])
def test_other_engine_solvers_on_torch_tensors(solver, options, tol):
    net, X, y = _mlp_problem(14, n=30)  # 51 parameters
    kw = dict(curvature="gauss_newton", damping=1e-1, check_optimum=False)
    q = (X[:3], y[:3])
    direct = TorchInfluence(net, "cross_entropy", (X, y), **kw).fit().scores(q)
    got = TorchInfluence(net, "cross_entropy", (X, y), solver=solver, solver_options=options, **kw).fit().scores(q)
    np.testing.assert_allclose(got, direct, rtol=tol, atol=tol * np.abs(direct).max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none in CI)")
def test_cuda_matches_cpu():  # pragma: no cover - runs only where a GPU is present
    net, X, y = _mlp_problem(15, n=40)
    kw = dict(damping=1e-2, check_optimum=False)
    cpu = TorchInfluence(net, "cross_entropy", (X, y), **kw).fit().scores((X[:3], y[:3]))
    gpu = TorchInfluence(net.cuda(), "cross_entropy", (X, y), device="cuda", **kw).fit()  # data moved per batch
    np.testing.assert_allclose(gpu.scores((X[:3], y[:3])), cpu, rtol=1e-8, atol=1e-12)
    assert gpu.engine.curvature.parts[0].QG.is_cuda


def test_scoring_reports_progress_through_the_callback():
    net, X, y = _mlp_problem(16, n=20)
    seen = []
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False, batch_size=5,
                        progress=lambda stage, done, total: seen.append((stage, done, total))).fit()
    seen.clear()
    ti.scores((X[:7], y[:7]))  # 2 query batches of 5, 5 training batches
    assert seen[0] == ("scores: query gradients", 0, 2) and ("scores: query gradients", 2, 2) in seen
    assert ("scores: preconditioned queries", 1, 1) in seen
    assert ("scores: training examples", 0, 4) in seen and seen[-1] == ("scores: training examples", 4, 4)
    for name, call in (("self-influence", ti.self_influence), ("leverage", ti.max_leverage)):
        seen.clear()
        call()
        assert seen[0] == (name, 0, 4) and seen[-1] == (name, 4, 4)
    seen.clear()
    ti.top((X[:2], y[:2]), k=2)
    assert {s for s, _, _ in seen} == {"scores: query gradients", "scores: preconditioned queries",
                                       "scores: training examples"}
    lev = TorchInfluence(net, "cross_entropy", (X, y), curvature="gauss_newton", damping=1e-2, check_optimum=False,
                         batch_size=5, correction="leverage", progress=lambda *a: seen.append(a)).fit()
    seen.clear()
    lev.scores((X[:2], y[:2]))
    assert ("scores: training examples", 4, 4) in seen


def test_progress_true_draws_tqdm_bars_or_the_text_bar_without_tqdm(monkeypatch, capsys):
    import sys
    import types

    net, X, y = _mlp_problem(17, n=20)
    bars = []

    class FakeBar:
        def __init__(self, total, desc, leave):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeBar
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False, batch_size=5,
                        progress=True).fit()
    bars.clear()
    ti.scores((X[:2], y[:2]))
    done = {b.desc: (b.n, b.total, b.closed) for b in bars}
    assert done["scores: training examples"] == (4, 4, True) and done["scores: query gradients"] == (1, 1, True)

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # not installed: the engine's text bar on stderr
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False, batch_size=5,
                        progress=True).fit()
    capsys.readouterr()
    ti.self_influence()
    err = capsys.readouterr().err
    assert err.startswith("\rself-influence [") and err.endswith("] 4/4\n")


def test_tqdm_is_declared_in_the_torch_extra():
    import configparser
    import pathlib

    cfg = configparser.ConfigParser()
    cfg.read(pathlib.Path(__file__).parents[2] / "setup.cfg")
    torch_extra = cfg["options.extras_require"]["torch"].split()
    assert any(req.startswith("tqdm") for req in torch_extra)


@pytest.mark.parametrize("curvature", ["gauss_newton", "kfac", "ekfac"])
@pytest.mark.parametrize("callable_loss", [False, True])
def test_monte_carlo_scores_do_not_depend_on_batch_size(curvature, callable_loss):
    net, X, y = _mlp_problem(18, n=40)
    loss = torch.nn.functional.cross_entropy if callable_loss else "cross_entropy"
    kw = dict(curvature=curvature, damping=1e-2, check_optimum=False, sampling="mc", mc_samples=1,
              reduction="mean" if callable_loss else None)
    q = (X[:4] + 0.1, y[:4])
    base = TorchInfluence(net, loss, (X, y), batch_size=40, **kw).fit()
    s0, self0 = base.scores(q), base.self_influence()
    for b in (8, 7, 1):
        ti = TorchInfluence(net, loss, (X, y), batch_size=b, **kw).fit()
        np.testing.assert_allclose(ti.scores(q), s0, rtol=1e-10, atol=1e-14 * np.abs(s0).max())
        np.testing.assert_allclose(ti.self_influence(), self0, rtol=1e-10, atol=1e-14 * np.abs(self0).max())
    # a shuffling DataLoader: the dataset's order, as with exact factors
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True)
    np.testing.assert_allclose(TorchInfluence(net, loss, loader, **kw).fit().scores(q), s0, rtol=1e-10,
                               atol=1e-14 * np.abs(s0).max())
    # the draws matter: another seed, or exact factors, give other scores
    other = TorchInfluence(net, loss, (X, y), batch_size=40, seed=1, **kw).fit().scores(q)
    exact = TorchInfluence(net, loss, (X, y), **{**kw, "sampling": "exact", "mc_samples": None}).fit().scores(q)
    assert np.abs(other - s0).max() > 1e-3 * np.abs(s0).max() and np.abs(exact - s0).max() > 1e-3 * np.abs(s0).max()


def test_row_random_draws_depend_on_the_seed_and_the_row_only():
    from regdiag.engine.curvature.base import RowRandom

    whole = RowRandom(3, slice(0, 40)).standard_normal((40, 2, 5))
    # another batch size, or the share of rows 20..39 handled by a second process
    np.testing.assert_array_equal(np.concatenate([RowRandom(3, slice(s, s + 8)).standard_normal((8, 2, 5))
                                                  for s in range(0, 40, 8)]), whole)
    np.testing.assert_array_equal(RowRandom(3, slice(20, 40)).standard_normal((20, 2, 5)), whole[20:])
    assert not np.allclose(RowRandom(4, slice(0, 40)).standard_normal((40, 2, 5)), whole)
    u = RowRandom(3, slice(5, 7)).uniform(size=(2, 3, 1))
    assert u.shape == (2, 3, 1) and ((0 <= u) & (u < 1)).all()
    with pytest.raises(ValueError, match="first axis of 2"):
        RowRandom(3, slice(5, 7)).standard_normal((3, 1))


def test_many_outputs_with_exact_factors_warn_once_about_the_cost():
    import warnings

    from regdiag import InfluenceWarning

    g = torch.Generator().manual_seed(19)
    X = torch.randn(12, 3, generator=g, dtype=torch.float64)
    for k, curvature in ((65, "ekfac"), (65, "gauss_newton"), (65, "kfac")):
        torch.manual_seed(k)
        y = torch.randint(0, k, (12,), generator=g)
        net = nn.Linear(3, k).double()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            TorchInfluence(net, "cross_entropy", (X, y), curvature=curvature, damping=1e-2, check_optimum=False).fit()
        msgs = [str(w.message) for w in caught if issubclass(w.category, InfluenceWarning)]
        assert len(msgs) == 1, msgs
        assert "65 outputs" in msgs[0] and "one backward pass per output" in msgs[0] and "mc_samples=k" in msgs[0]
    quiet = [(64, dict()), (65, dict(sampling="mc", mc_samples=4)), (65, dict(curvature="exact")),
             (65, dict(curvature="diagonal"))]
    for k, kw in quiet:
        y = torch.randint(0, k, (12,), generator=g)
        with warnings.catch_warnings():
            warnings.simplefilter("error", InfluenceWarning)
            TorchInfluence(nn.Linear(3, k).double(), "cross_entropy", (X, y), damping=1e-2, check_optimum=False,
                           **kw).fit()


def test_top_passes_query_rank_through():
    net, X, y = _mlp_problem(20, n=30)
    ti = TorchInfluence(net, "cross_entropy", (X, y), damping=1e-2, check_optimum=False).fit()
    q = (X[:3], y[:3])
    S1 = ti.scores(q, query_rank=1)
    assert np.abs(S1 - ti.scores(q)).max() > 0
    top = ti.top(q, k=2, query_rank=1)
    for qi in range(3):
        pro = top[(top["query"] == qi) & (top["kind"] == "proponent")]
        np.testing.assert_allclose(pro["score"], np.sort(S1[qi])[::-1][:2], rtol=1e-12)
    np.testing.assert_allclose(ti.top(q, k=2, query_rank=5)["score"], ti.top(q, k=2)["score"], rtol=1e-10,
                               atol=1e-14)


def test_docstring_examples_of_regdiag_torch_run():
    import doctest
    import warnings

    import regdiag.torch
    import regdiag.torch._data
    import regdiag.torch._losses
    import regdiag.torch._model
    import regdiag.torch.influence

    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    attempted = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the example is at an optimum: no warning
        for mod in (regdiag.torch, regdiag.torch._data, regdiag.torch._losses, regdiag.torch._model,
                    regdiag.torch.influence):
            for test in finder.find(mod, mod.__name__, globs={}):
                res = runner.run(test)
                assert res.failed == 0, test.name
                attempted += res.attempted
    assert attempted >= 10
