"""Influence of training examples on a PyTorch network's predictions, by the second-order engine."""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._validation import Correction, CurvatureKind, DataError, ModelError, as_enum, format_labels
from .._warnings import warn
from ..engine.curvature import CURVATURES
from ..engine.curvature.base import DenseEigen, DiagEigen, EigenCurvature, KronEigen
from ..engine.influence import Damping, EngineInfluence, InfluenceEngine
from ..engine.model import Block, ModelView
from ..engine.progress import Progress, ProgressArg
from ..engine.solvers import DirectSolver
from ._data import Data
from ._losses import CallableLoss, make_loss
from ._model import HALF_DTYPES, TorchModel, _local_batches, engine_dtype, rel_tol

__all__ = ["TorchInfluence"]

#: version of the file layout written by TorchInfluence.save
SAVE_FORMAT = 1

#: largest plain (non-Kronecker) block, in parameters, that K-FAC/EK-FAC store as a dense Gauss-Newton block
PLAIN_BLOCK_LIMIT = 4096
#: numbers of per-example layer gradients formed at once while scoring (large blocks: efficient products)
GRADIENT_CHUNK = 1 << 26
#: numbers of query gradients preconditioned at once
PRECONDITION_CHUNK = 1 << 22
#: numbers of query gradients scored per pass over the training examples (bounds scoring memory)
QUERY_CHUNK = 1 << 24
#: numbers of factored training gradients kept from the first query chunk's pass for the next chunks
TRAIN_CACHE = 1 << 26
#: examples whose per-example gradients are checked against autograd's batch gradient at fit()
CHECK_EXAMPLES = 64
#: output dimension above which fit() warns that exact Gauss-Newton factors (one backward pass per output) are costly
EXACT_OUTPUTS_WARN = 64


def _per_token_sides(per_token: bool | str) -> tuple[bool, bool]:
    """``(query, train)``: which sides ``scores(per_token=...)`` splits into tokens."""
    sides = {False: (False, False), True: (True, False), "query": (True, False), "train": (False, True),
             "both": (True, True)}
    key = per_token if isinstance(per_token, (bool, str)) else None
    if key not in sides:
        raise ValueError(f"per_token must be False, True, 'query', 'train' or 'both', not {per_token!r}")
    return sides[key]


def _cast_curvature(engine: InfluenceEngine, dtype: torch.dtype) -> None:
    """The eigen-structured curvature's blocks (eigenbases, eigenvalues, factors) in ``dtype``, the engine's
    scoring dtype, after they were accumulated and decomposed in a wider one."""
    curv = engine.curvature
    for part in getattr(curv, "parts", []):
        for attr in ("QG", "QA", "E", "E_kfac", "M", "Q", "e"):
            v = getattr(part, attr, None)
            if isinstance(v, torch.Tensor):
                setattr(part, attr, v.to(dtype))
        for attr in ("factors", "scale_factors"):
            v = getattr(part, attr, None)
            if isinstance(v, tuple):
                setattr(part, attr, tuple(x.to(dtype) for x in v))
    if isinstance(getattr(curv, "factors", None), dict):  # K-FAC's (G, A) by block
        # an attribute of the Kronecker-factored curvatures only, not of the engine's Curvature
        curv.factors = {k: tuple(x.to(dtype) for x in v) for k, v in curv.factors.items()}  # type: ignore[attr-defined]
    engine.view.like = engine.view.like.to(dtype)


def _digest(theta: torch.Tensor) -> str:
    """SHA-256 of a parameter vector's values (on the host, as stored)."""
    raw = theta.detach().cpu().contiguous().reshape(-1).view(torch.uint8)  # any dtype, bfloat16 included
    return hashlib.sha256(raw.numpy().tobytes()).hexdigest()


class _TqdmProgress:
    """A tqdm bar per stage; picklable (open bars are not kept in a pickle)."""

    def __init__(self) -> None:
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        bar = self.bars.get(stage)
        if bar is None or bar.total != total or done < bar.n:
            if bar is not None:
                bar.close()
            bar = self.bars[stage] = tqdm(total=total, desc=stage, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            self.bars.pop(stage, None)

    def __getstate__(self) -> dict[str, Any]:
        return {"bars": {}}


def _tqdm_progress() -> ProgressArg:
    """A tqdm bar per stage when tqdm is installed, else the engine's text bar."""
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return True
    return _TqdmProgress()


class TorchInfluence:
    """Influence of each training example of a trained ``nn.Module`` on its losses (or a measurement) at queries.

    ``scores(query)[q, i]`` is the predicted change of query ``q``'s loss when training example ``i`` is removed
    and the model retrained: ``g_q' (C + lambda I)^{-1} g_i / n`` (``correction="none"``), with ``g`` loss
    gradients, ``C`` the chosen curvature of the training objective ``(1/n) sum_i l_i + (l2/2) ||theta||^2`` and
    ``n`` the number of training examples. Positive: removing ``i`` increases the query's loss (``i`` helps it).
    Curvatures and solvers are the engine's (:mod:`regdiag.engine`): this class only adapts the network
    (:class:`~regdiag.torch.TorchModel`).

    Parameters
    ----------
    model : nn.Module
        Trained to an optimum of the objective above (a warning gives the gradient norm otherwise). Evaluated in
        eval mode (its mode is restored afterwards). Frozen parameters (``requires_grad=False``) are constants
        (a peft model: its adapters alone). It may return a tensor, a Hugging Face ``ModelOutput`` (its
        ``logits`` are used) or a tuple (its first element).
    loss : {"mse", "cross_entropy", "bce_with_logits", "token_cross_entropy", "lm"} or callable
        Per-example loss of the outputs, normalized like torch's ``reduction="mean"`` (see
        :mod:`regdiag.torch._losses`); a callable ``loss(output, target)`` needs ``reduction``. The token losses
        take outputs ``(batch, tokens, vocab)`` and sum each sequence's token cross-entropies (``"lm"``: shifted,
        causal language modelling), ignoring targets ``-100`` and positions an ``attention_mask`` masks.
    train : tuple of tensors, dict of tensors, Dataset or DataLoader
        Training examples ``(x, y)`` or ``(x1, ..., xm, y)``, or Hugging Face batches: dicts of keyword inputs
        (``input_ids``, ``attention_mask``, ...) with the target in ``labels`` (``loss="lm"``: ``input_ids``
        when there are no labels); a DataLoader's dataset in its own order, with its collate function (which may
        pad each batch to its own length).
    curvature : {"ekfac", "kfac", "gauss_newton", "exact", "diagonal", "identity"}
        K-FAC and EK-FAC are Kronecker-factored for ``nn.Linear``, ``nn.Conv2d``, transformers' ``Conv1D`` (GPT-2)
        and ``nn.Embedding`` (one-hot inputs: a diagonal input factor, stored as a vector) layers called through
        their modules on the batch's examples. A weight shared by several such layers (a token embedding tied to
        the output layer; sides up to 4,096) is one Kronecker block of the weight as stored whose factors sum the
        uses (``TiedWeight``). Any other trainable tensor (LayerNorm weights and biases)
        gets its dense Gauss-Newton block (up to ``PLAIN_BLOCK_LIMIT`` parameters; larger ones must be excluded
        with ``exclude`` or frozen), including the parameters of a Linear or Conv2d used without calling it
        (``nn.MultiheadAttention``'s ``out_proj``, ``F.linear(x, layer.weight)``) or also outside its calls.
    solver : {"direct", "cg", "lissa", "lowrank"}
    damping : float or Damping
        Added to the curvature (``Damping.relative(r)``: ``r`` times its mean eigenvalue).
    l2 : float
        L2 penalty of the training objective (part of the curvature, exactly).
    correction : {"none", "leverage"}
        "leverage": the Newton step with the example's own curvature term removed.
    batch_size : int, optional
        Examples per batch (default: the DataLoader's, else 256). Memory is about ``batch_size x n_params``.
    device : str or torch.device, optional
        Where to compute; the model must already be there (default: where its parameters are). Data batches are
        moved there.
    reduction : {"mean", "sum", "none"}, optional
        How a callable ``loss`` reduces a batch.
    sampling : {"exact", "mc", "empirical_fisher"}, optional
        Default: "mc" for the token losses (one label drawn per token, all tokens of a batch in one backward pass,
        as kronfluence does), "exact" otherwise. Output vectors of the Gauss-Newton-type curvatures: exact (one
        backward pass per output, for each batch
        and pass over the data: ``fit()`` warns when the model has more than ``EXACT_OUTPUTS_WARN = 64`` outputs),
        Monte Carlo draws from the model's predictive distribution (``mc_samples`` per example: that many backward
        passes), or the observed gradients: the *empirical Fisher*, an average of gradient outer products, which is
        not a curvature of the objective (it is available for comparison with other tools).
    mc_samples : int, optional
        Draws per example with ``sampling="mc"`` (default 1).
    seed : int
        Seed of the Monte Carlo draws. Example ``i``'s draws depend only on ``(seed, i)``, ``i`` its position in the
        training data (a DataLoader's shuffling is ignored, as everywhere): results do not depend on the batch size
        or the number of processes.
    exclude : sequence of str
        ``fnmatch`` patterns of parameter names held fixed.
    index : sequence, optional
        Labels of the training examples.
    progress : bool or callable(stage, done, total)
        Progress of fitting (factors, eigenvalue corrections) and scoring (query gradients, solves, the pass over the
        training examples in ``scores``, ``top``, ``self_influence``, ``max_leverage``). True: tqdm bars (tqdm comes
        with the ``regdiag[torch]`` extra), or the engine's text bar on stderr when tqdm is not installed.
    solver_options : mapping, optional
        Passed to the engine's solver (``rtol``, ``max_iter``, ``preconditioner``, ``rank``, ``on_failure``). CG and
        LiSSA that do not reach ``rtol`` in ``max_iter`` iterations return the solution reached with an
        :class:`~regdiag.InfluenceWarning` stating its relative residual (``engine.solver.info["max_rel_residual"]``);
        ``on_failure="raise"`` raises :class:`~regdiag.ConvergenceError` instead.
    check_optimum : bool
        Warn when the gradient norm of the objective is above ``optimum_tol`` times the typical (root mean square)
        per-example gradient norm.
    optimum_tol : float, optional
        Default ``1 / sqrt(n_train)``: the spread of a mean of ``n_train`` per-example gradients, which a network
        trained to convergence on its data reaches (an L-BFGS-polished MLP on 20,000 examples: 0.0034, below
        ``1 / sqrt(20000) = 0.0071``).
    distributed : bool or None
        With ``torch.distributed`` initialized (None: whenever it is), each process handles a contiguous share of
        the training rows; factor statistics and scores are summed across processes (one eigendecomposition, same
        result in every process).
    factor_dtype : torch.float64 or torch.float32
        Dtype in which K-FAC/EK-FAC factors, EK-FAC's eigenvalue corrections and the diagonal are accumulated over
        the training data and eigendecomposed (never narrower than the model's own): float64 by default, so that
        sums over many examples and tokens of a float32 or 16-bit model lose no accuracy beyond that of its
        per-example quantities. The fitted blocks are then kept in the scoring dtype.

    Notes
    -----
    Removal convention of the engine: ``theta_(-i) - theta ~ (C + lambda I)^{-1} g_i / n``; the score is the
    first-order change of the query loss ``g_q' (theta_(-i) - theta)``.

    Dtypes: the network runs in its own dtype (float64, float32, bfloat16 or float16). Per-example gradients,
    factors' eigenbases and scores are computed in the *scoring dtype*: the model's for float64 and float32,
    float32 for 16-bit models (their outputs and back-propagated vectors are cast up before any sum). Results are
    returned as float64 NumPy arrays. A 16-bit model's scores are as accurate as its own forward and backward
    passes (bfloat16 keeps 8 bits: about 1% per gradient entry); the exact curvature needs float32 or float64.

    Examples
    --------
    A network trained to the optimum of its penalized loss (weight decay ``l2``), then the influence of each training
    example on the loss of two queries:

    >>> import torch
    >>> from regdiag.torch import TorchInfluence
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(50, 3, generator=g, dtype=torch.float64)
    >>> y = (X[:, 0] + torch.randn(50, generator=g, dtype=torch.float64) > 0).long()
    >>> net = torch.nn.Linear(3, 2).double()
    >>> opt = torch.optim.LBFGS(net.parameters(), max_iter=200, tolerance_grad=1e-12, tolerance_change=0,
    ...                         line_search_fn="strong_wolfe")
    >>> def objective():
    ...     opt.zero_grad()
    ...     penalty = 0.01 / 2 * sum((p ** 2).sum() for p in net.parameters())
    ...     loss = torch.nn.functional.cross_entropy(net(X), y) + penalty
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(objective)
    >>> ti = TorchInfluence(net, "cross_entropy", (X, y), l2=0.01, damping=1e-3).fit()
    >>> ti.gradient_norm < 1e-8  # at the optimum (fit() warns otherwise)
    True
    >>> S = ti.scores((X[:2], y[:2]))
    >>> S.shape
    (2, 50)
    >>> bool(S[0, 0] > 0)  # removing a query's own training example increases its loss
    True
    >>> list(ti.top((X[:1], y[:1]), k=2).columns)
    ['query', 'kind', 'rank', 'train', 'score']
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        train: Any,
        curvature: str = "ekfac",
        solver: str = "direct",
        damping: float | Damping = 0.0,
        l2: float = 0.0,
        correction: str = "none",
        batch_size: int | None = None,
        device: Any = None,
        *,
        reduction: str | None = None,
        sampling: str | None = None,
        mc_samples: int | None = None,
        seed: int = 0,
        exclude: Sequence[str] = (),
        index: Any = None,
        progress: ProgressArg = None,
        solver_options: Mapping[str, Any] | None = None,
        check_optimum: bool = True,
        optimum_tol: float | None = None,
        distributed: bool | None = None,
        factor_dtype: torch.dtype = torch.float64,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        self.module = model
        self.curvature = as_enum(CurvatureKind, curvature, "curvature")
        self.correction = as_enum(Correction, correction, "correction")
        self.solver = solver
        self.damping = damping
        self.l2 = float(l2)
        if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.loss = make_loss(loss, reduction, ())
        if sampling is None:  # token losses: one label drawn per token, all tokens in one backward pass
            gn_type = self.curvature in (CurvatureKind.GAUSS_NEWTON, CurvatureKind.KFAC, CurvatureKind.EKFAC)
            sampling = "mc" if getattr(self.loss, "per_token", False) and gn_type else "exact"
        if sampling not in ("exact", "mc", "empirical_fisher"):
            raise ValueError(f"sampling={sampling!r} is not one of 'exact', 'mc', 'empirical_fisher'")
        if sampling != "mc" and mc_samples is not None:
            raise ValueError("mc_samples applies to sampling='mc' only")
        self.sampling = sampling
        self.mc_samples = None if sampling == "exact" else (1 if sampling == "empirical_fisher" else mc_samples or 1)
        self.seed = int(seed)
        self.exclude = tuple(exclude)
        self.index = index
        self.progress = _tqdm_progress() if progress is True else progress
        self.solver_options = dict(solver_options or {})
        if str(solver).lower() in ("cg", "lissa"):  # ML-scale tolerances: the residual reached, with a warning
            self.solver_options.setdefault("on_failure", "warn")
        self.check_optimum = bool(check_optimum)
        self.optimum_tol = None if optimum_tol is None else float(optimum_tol)
        self.device, self.dtype = self._check_module(model, device)
        if factor_dtype not in (torch.float32, torch.float64):
            raise ValueError(f"factor_dtype must be torch.float32 or torch.float64, not {factor_dtype!r}")
        self.factor_dtype = factor_dtype
        if self.dtype in HALF_DTYPES and self.curvature is CurvatureKind.EXACT:
            raise ModelError(f"the exact curvature differentiates the network twice in its own dtype, {self.dtype}, "
                             "which is too coarse for second derivatives: convert the model (model.float()) or use "
                             "curvature='gauss_newton', 'ekfac', 'kfac' or 'diagonal'")
        self.data = Data(train, what="train", device=self.device, dtype=self.dtype,
                         targets_from_inputs=getattr(self.loss, "shift", False))
        self.data.batch = int(batch_size or self.data.loader_batch or 256)
        self._distributed = distributed
        self.model: TorchModel | None = None
        self.engine: InfluenceEngine | None = None
        self.gradient_norm: float | None = None
        #: relative error of the rank-truncated query gradients of the last scores(query_rank=r)
        self.query_rank_error: float | None = None
        #: positions of each training sequence, while per-token training scores are computed
        self._n_train_tokens = 1

    # ---- checks ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_module(model: nn.Module, device: Any) -> tuple[torch.device, torch.dtype]:
        params = [(nm, p) for nm, p in model.named_parameters() if p.requires_grad]
        if not params:
            raise ModelError("the model has no trainable parameters (requires_grad=True)")
        devices = sorted({str(p.device) for _, p in params})
        if len(devices) > 1:
            where = {d: [nm for nm, p in params if str(p.device) == d][:3] for d in devices}
            raise ModelError(f"the model's parameters are on several devices {where}; move the model to one device")
        dtypes = sorted({str(p.dtype) for _, p in params})
        if len(dtypes) > 1:
            raise ModelError(f"the model's parameters have several dtypes {dtypes}; convert the model to one "
                             "(model.double() or model.float())")
        dtype = params[0][1].dtype
        if dtype not in (torch.float64, torch.float32, *HALF_DTYPES):
            raise ModelError(f"the model's parameters are {dtype}; influence needs float64, float32, bfloat16 or "
                             "float16 parameters (model.float() or model.double())")
        here = params[0][1].device
        if device is not None:
            want = torch.device(device)
            if want.type != here.type or (want.index is not None and want.index != here.index):
                raise ModelError(f"device={str(want)!r} but the model's parameters are on {str(here)!r}; move the "
                                 f"model (model.to({str(want)!r})) or pass device={str(here)!r}")
        return here, dtype

    @contextlib.contextmanager
    def _eval(self) -> Iterator[None]:
        was = self.module.training
        self.module.eval()
        try:
            yield
        finally:
            self.module.train(was)

    def _dist(self) -> tuple[slice | None, Any]:
        if self._distributed is False or not torch.distributed.is_available():
            return None, None
        if not torch.distributed.is_initialized():
            if self._distributed:
                raise RuntimeError("distributed=True but torch.distributed is not initialized")
            return None, None
        world, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()
        if world == 1:
            return None, None
        n = self.data.n
        if n < world:
            raise ModelError(f"{n} training examples cannot be shared by {world} processes")
        bounds = np.linspace(0, n, world + 1).round().astype(int)
        return slice(int(bounds[rank]), int(bounds[rank + 1])), None

    # ---- fitting --------------------------------------------------------------------------------------------------
    def _build_model(self) -> TorchModel:
        """The engine's view of the network on this process's rows (layers probed, blocks laid out)."""
        local, group = self._dist()
        m = TorchModel(self.module, self.loss, self.data, l2=self.l2, exclude=self.exclude, sampling=self.sampling,
                       seed=self.seed, index=self.index, local_rows=local, group=group)
        if isinstance(self.loss, CallableLoss):
            self.loss.out_shape = m.out_shape
        return m

    def fit(self) -> TorchInfluence:
        """Build the curvature (factors, eigenbases, eigenvalue corrections) and the solver.

        Returns
        -------
        TorchInfluence
            ``self``, fitted.
        """
        with self._eval():
            m = self._build_model()
            if self.curvature in (CurvatureKind.KFAC, CurvatureKind.EKFAC):
                big = [b.name for b in m.blocks if not b.kron and b.size > PLAIN_BLOCK_LIMIT]
                if big:
                    linear = {nm for nm in big if nm.rsplit(".", 1)[0] in m.uncalled + m.shared}
                    why = "belong to other layers"
                    if linear:
                        why = (f"are not Kronecker-factored (of them, {format_labels(sorted(linear), 5)} belong to "
                               "nn.Linear/nn.Conv2d layers whose weights are used without calling the layer, e.g. "
                               "nn.MultiheadAttention's out_proj or F.linear(x, layer.weight), or also outside its "
                               "call, e.g. tied weights with a side above 4,096)")
                    raise ModelError(
                        f"{self.curvature.value} factors nn.Linear and nn.Conv2d (groups=1) layers called through "
                        f"their modules; the parameters {format_labels(big, 5)} {why} and are too large for a dense "
                        f"Gauss-Newton block (over {PLAIN_BLOCK_LIMIT} entries): pass exclude=[...] to hold them "
                        "fixed, freeze them, or use curvature='gauss_newton' (with solver='cg') or 'diagonal'"
                    )
            m.progress = self.progress
            self.model = m
            self._check_gradients()
            gn_type = (CurvatureKind.GAUSS_NEWTON, CurvatureKind.KFAC, CurvatureKind.EKFAC)
            n_out = m.n_outputs or int(m.forward(slice(0, 1))["f"].shape[1])
            if self.curvature in gn_type and self.sampling == "exact" and n_out > EXACT_OUTPUTS_WARN:
                warn(
                    f"the model has {n_out} outputs: the exact Gauss-Newton factors of the {self.curvature.value} "
                    f"curvature take one backward pass per output, {n_out} per batch in each pass over the "
                    f"training data ({n_out} times the cost of the gradients). Pass sampling='mc', mc_samples=k "
                    "for k backward passes per batch (an unbiased Monte Carlo estimate of the same curvature; exact "
                    f"factors are the default, without this warning, up to {EXACT_OUTPUTS_WARN} outputs)")
            options: dict[str, Any] = {}
            if self.curvature in (CurvatureKind.GAUSS_NEWTON, CurvatureKind.KFAC, CurvatureKind.EKFAC):
                options = {"mc_samples": self.mc_samples, "seed": self.seed}
            elif self.mc_samples is not None:
                raise ValueError(f"sampling={self.sampling!r} applies to the gauss_newton, kfac and ekfac curvatures")
            factored = self.curvature in (CurvatureKind.KFAC, CurvatureKind.EKFAC, CurvatureKind.DIAGONAL)
            if factored:  # factor statistics accumulated and decomposed in factor_dtype
                m.dtype = max(self.factor_dtype, m.dtype, key=lambda t: torch.finfo(t).bits)
            try:
                self.engine = InfluenceEngine(m, self.curvature.value, self.solver, self.damping,
                                              self.correction.value, batch_size=self.data.batch,
                                              progress=self.progress, curvature_options=options,
                                              solver_options=self.solver_options)
            finally:
                m.dtype = engine_dtype(self.dtype)
                m._cache, m._kron_cache = {}, None
            if factored:
                _cast_curvature(self.engine, m.dtype)
            if self.sampling in ("mc", "empirical_fisher") and self.curvature in gn_type:
                vectors = m.n_obs * int(self.mc_samples or 1)
                thin = [b.name for b in m.blocks if (not b.kron or self.curvature is CurvatureKind.GAUSS_NEWTON)
                        and b.size > vectors]
                if self.curvature is CurvatureKind.GAUSS_NEWTON:
                    thin = ["the Gauss-Newton matrix"] if m.n_params > vectors else []
                if thin:
                    warn(
                        f"{format_labels(thin, 5)} ({'dense block' if len(thin) == 1 else 'dense blocks'} without "
                        f"Kronecker structure) {'is' if len(thin) == 1 else 'are'} estimated from {vectors} Monte "
                        f"Carlo vectors ({m.n_obs} examples x {self.mc_samples or 1}), fewer than "
                        f"{'its' if len(thin) == 1 else 'their'} parameters: in the other directions the curvature is "
                        "only l2 + damping, and scores there are amplified by 1 / (l2 + damping). Raise mc_samples, "
                        "pass damping, use sampling='exact', or exclude them (exclude=[...])")
            if m._vmap_fails:
                plain = [nm for nm, _ in m.plain if all(n.weight_name != nm and n.bias_name != nm for n in m.norms)]
                warn(
                    f"torch.func.vmap cannot run the model ({m._vmap_fails}); per-example gradients of "
                    f"{format_labels(plain, 5)} (no Kronecker structure) take one backward pass per example instead: "
                    "correct, slower. Exclude or freeze them (exclude=[...]) to avoid it")
        return self

    def _check_gradients(self) -> None:
        """Per-example gradients must add up to the batch gradient (catches parameters used outside their layer's
        call, and layers that mix examples); the objective's gradient norm should be small at an optimum."""
        m = self.model
        assert m is not None
        trainable = [(nm, p) for nm, p in m.named]

        def batch_gradient(rows: slice) -> torch.Tensor:
            st = m.forward(rows)
            with torch.enable_grad():
                grads = torch.autograd.grad(m.loss.values(st["f"].to(m.dtype), st["y"]).sum(),
                                            [p for _, p in trainable], allow_unused=True, retain_graph=True)
            return m.flat_params({nm: (gr if gr is not None else torch.zeros_like(p))
                                  for (nm, p), gr in zip(trainable, grads)})

        batches = _local_batches(m)
        # per-example gradients of a few examples against autograd's gradient of their summed loss
        few = slice(batches[0].start, min(batches[0].stop, batches[0].start + CHECK_EXAMPLES))
        per = m.loss_gradients(few)
        g = batch_gradient(few)
        diff = (per.sum(0) - g).abs()
        tol = rel_tol(self.dtype) * (per.abs().sum(0) + 1e-30).max()
        if bool((diff > tol).any()):
            bad = {m.blocks[int(np.searchsorted([b.stop for b in m.blocks], j, side="right"))].name
                   for j in torch.nonzero(diff > tol)[:, 0].tolist()}
            raise ModelError(
                f"per-example gradients of {format_labels(sorted(bad), 5)} do not add up to the batch gradient: "
                "the network mixes examples (batch statistics), or a layer's parameters are used outside its call "
                "on these examples but not on the first ones. Exclude or freeze such parameters"
            )
        scale = math.sqrt(float((per * per).sum()) / per.shape[0])
        del per
        total = torch.zeros(m.n_params, dtype=m.dtype, device=self.device)
        for rows in batches:
            total += batch_gradient(rows)
        if hasattr(m, "all_reduce"):
            total = m.all_reduce(total)
        grad = total / m.n_obs + self.l2 * m.params
        self.gradient_norm = float(torch.linalg.vector_norm(grad))
        # default: the gradient of the mean loss should be below the spread of a mean of n per-example gradients
        # (scale / sqrt(n)), which a network trained to convergence on these data reaches; the drift it causes is
        # common to every removal, so rankings and LDS are unaffected by a gradient below it
        opt_tol = self.optimum_tol if self.optimum_tol is not None else 1.0 / math.sqrt(m.n_obs)
        if self.check_optimum and self.gradient_norm > opt_tol * max(scale, 1e-300):
            warn(
                f"the model is not at an optimum of mean loss + (l2/2)||theta||^2 (l2={self.l2:g}): the gradient norm "
                f"is {self.gradient_norm:.3g}, {self.gradient_norm / max(scale, 1e-300):.3g} times the typical "
                f"per-example gradient norm {scale:.3g}. Influence estimates assume a minimum: train further, or pass "
                "the l2 (weight decay) used in training")

    def _require(self) -> tuple[TorchModel, InfluenceEngine]:
        if self.model is None or self.engine is None:
            raise RuntimeError("call fit() first")
        return self.model, self.engine

    def _query(self, query: Any) -> Data:
        q = Data(query, what="query", device=self.device, dtype=self.dtype,
                 targets_from_inputs=getattr(self.loss, "shift", False))
        q.batch = self.data.batch
        self.data.check_like(q)
        return q

    def _gather(self, out: torch.Tensor) -> np.ndarray:
        m, _ = self._require()
        if hasattr(m, "all_reduce"):
            out = m.all_reduce(out)
        return out.detach().to("cpu", torch.float64).numpy()

    # ---- results ---------------------------------------------------------------------------------------------------
    def query_gradients(self, query: Any, measurement: Any = "loss") -> torch.Tensor:
        """Gradients of each query's loss (or measurement) in the engine's parameter order.

        Parameters
        ----------
        query : tuple of tensors, dict of tensors, Dataset or DataLoader
            Query examples shaped like the training examples.
        measurement : "loss" or callable
            ``measurement(output, target)`` returning one number per example (a function of the outputs).

        Returns
        -------
        torch.Tensor of shape (n_query, n_params)
            In the scoring dtype, on the computing device; columns named by :attr:`param_names`.
        """
        _, eng = self._require()
        with self._eval():
            return eng.view.query_gradients(self._query(query), measurement)

    def scores(self, query: Any, measurement: Any = "loss", *, query_rank: int | None = None,
               per_token: bool | str = False) -> np.ndarray:
        """Predicted change of each query's loss (or measurement) when each training example is removed.

        Parameters
        ----------
        query : tuple of tensors, dict of tensors, Dataset or DataLoader
            Query examples shaped like the training examples.
        measurement : "loss" or callable
            ``measurement(output, target)`` returning one number per example (a function of the outputs).
        query_rank : int, optional
            Low-rank query compression: each Kronecker layer's preconditioned query gradient (a ``d_out x d_in``
            matrix) is truncated to its ``query_rank`` largest singular values, and scores are computed from the
            training examples' factored gradients. Exact when ``query_rank >= min(d_out, d_in)``; the relative
            error of the truncated query gradients is in ``query_rank_error`` afterwards (largest over queries).
        per_token : {False, True, "query", "train", "both"}
            Token losses: scores of single tokens' losses instead of whole sequences'. ``"query"`` (or True): the
            score of each query position's token loss; ``"train"``: the influence of each training position's
            token loss (removing that one token's loss from the training objective) on the query's loss;
            ``"both"``: query position by training position. ``"lm"``: position ``t`` predicts token ``t + 1``;
            positions that predict nothing (the last, masked or ``-100`` targets) score 0. Summed over positions
            they give the sequences' scores. ``"train"`` and ``"both"`` take one backward pass per training
            position, and need training sequences of one length.

        Returns
        -------
        ndarray of shape (n_query, n_train)
            Positive: removing the training example increases the query's loss (it helps the query). With
            ``per_token``: ``(n_query, query_tokens, n_train)`` ("query"), ``(n_query, n_train, train_tokens)``
            ("train") or ``(n_query, query_tokens, n_train, train_tokens)`` ("both").

        Notes
        -----
        Memory is bounded whatever the number of queries. Queries are taken ``QUERY_CHUNK // n_params`` at a time
        (about 2**24 numbers of query gradients, each query position counting with ``per_token``); a chunk's
        gradients and their preconditioned copy are held (2 x 2**24 numbers), and multiplied with the training
        examples' gradients, which are formed batch by batch from the layers' factored gradients (inputs and
        back-propagated output gradients, ``batch x tokens x (d_in + d_out)`` numbers per layer) at most
        ``GRADIENT_CHUNK = 2**26`` numbers at a time. The training data are read once: with several query chunks,
        the factored training gradients of the first pass are kept for the others when they take at most
        ``TRAIN_CACHE = 2**26`` numbers, and the training data are read again for each chunk otherwise.
        """
        m, eng = self._require()
        on_query, on_train = _per_token_sides(per_token)
        if on_train and not m.per_token:
            raise ValueError(f"per_token={per_token!r} needs a token loss ('lm' or 'token_cross_entropy')")
        if on_train and self.correction is Correction.LEVERAGE:
            raise ValueError("per-token training scores apply to correction='none'")
        with self._eval():
            q = self._query(query)
            tokens = 1
            if on_query:
                tokens = int(m.query_gradients(q, measurement, rows=slice(0, 1), per_token=True).shape[1])
            step = max(1, QUERY_CHUNK // (m.n_params * tokens))
            train_tokens = self._n_train_tokens = self._train_tokens() if on_train else 1
            out = torch.zeros(q.n * tokens, m.n_obs * train_tokens, dtype=m.dtype, device=self.device)
            self.query_rank_error = 0.0 if query_rank is not None else None
            cache: dict[str, Any] = {"batches": [] if q.n > step else None, "numbers": 0}
            for c in range(0, q.n, step):
                rows = slice(c, min(c + step, q.n))
                Gq = m.query_gradients(q, measurement, rows=rows, per_token=on_query)
                Gq = Gq.reshape(-1, m.n_params)
                eng.view._check(Gq, (None, m.n_params), "query_gradients", None)
                self._score_chunk(Gq, query_rank, out[rows.start * tokens : rows.stop * tokens], on_train, cache)
            res = self._gather(out)
        if self.correction is Correction.LEVERAGE:
            self._check_leverage()
        shape = (q.n,) + ((tokens,) if on_query else ()) + (m.n_obs,) + ((train_tokens,) if on_train else ())
        return res.reshape(shape)

    def _train_tokens(self) -> int:
        """The number of positions of the first batch of training sequences (per-token training scores need every
        batch to have as many: :meth:`_train_factors` checks)."""
        m, _ = self._require()
        rows = _local_batches(m)[0]
        return int(m.forward(rows)["f"].shape[1]) // int(m.out_shape[1])

    def _score_chunk(self, Gq: torch.Tensor, query_rank: int | None, out: torch.Tensor, per_token: bool = False,
                     cache: dict[str, Any] | None = None) -> None:
        """``out[q, i]``: the scores of the query gradients ``Gq`` (one pass over the training examples, or over
        the factored training gradients in ``cache``)."""
        m, eng = self._require()
        if self.correction is Correction.LEVERAGE:
            if query_rank is not None:
                raise ValueError("low-rank query compression applies to correction='none'")
            batches = _local_batches(m)
            pr = Progress(self.progress, "scores: training examples", len(batches))
            for rows in batches:
                out[:, rows] = Gq @ eng.delta(rows)[0].T
                pr.advance()
            return
        # preconditioned a few queries at a time (bounded temporary memory), stored block by block (contiguous
        # operands for the products with training gradients)
        Q = {b.name: Gq.new_empty(Gq.shape[0], b.size) for b in m.blocks}
        step = max(1, PRECONDITION_CHUNK // m.n_params)
        chunks = range(0, Gq.shape[0], step)
        pr = Progress(self.progress, "scores: preconditioned queries", len(chunks))
        for c in chunks:
            X = eng.solver.solve(Gq[c : c + step]) * (1.0 / m.n_obs)
            for b in m.blocks:
                Q[b.name][c : c + step] = X[:, b.slice]
            pr.advance()
        del X
        self._dot_train_gradients(Q, query_rank, out, per_token, cache)

    def _train_factors(self, rows: slice, per_token: bool) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]],
                                                                     torch.Tensor | None]:
        """The training examples' gradients of ``rows`` in factored form: per Kronecker block the layer inputs
        ``a (b, T, d_in)`` and back-propagated loss gradients ``d (b, C, T, d_out)``; the gradients of the other
        blocks ``(b, C, n_plain)`` (None without such blocks). ``C = 1``, or one per position (``per_token``: each
        token loss's gradient)."""
        m, _ = self._require()
        st = m.forward(rows)  # the model's own checks: finite inputs and losses
        f = m._outputs(st)
        # per_token needs a token loss (checked by scores()), whose token_grads Loss does not declare
        V = m.loss.token_grads(f, st["y"]) if per_token else m.loss.grad(f, st["y"])[:, None, :]  # type: ignore[attr-defined]
        if per_token and V.shape[1] != self._n_train_tokens:
            raise DataError(f"per-token training scores need training sequences of one length; rows {rows.start}.."
                            f"{rows.stop - 1} have {V.shape[1]} tokens, the first have {self._n_train_tokens}: pad "
                            "them to one length")
        got = m._backprop(rows, V)
        kron = {b.name: got[b.name] for b in m.blocks if b.kron}
        plain = torch.cat(m._plain_vjp(rows, V), dim=2) if any(not b.kron for b in m.blocks) else None
        return kron, plain

    def _dot_train_gradients(self, Q: dict[str, torch.Tensor], rank: int | None, out: torch.Tensor,
                             per_token: bool = False, cache: dict[str, Any] | None = None) -> None:
        """``out[:, i] = Q g_i`` for the training gradients ``g_i`` (with ``per_token``: ``out[:, i * T + t]`` for
        the gradient of position ``t``'s token loss), layer by layer from their Kronecker factors (no
        ``n_train x n_params`` array; with ``rank``, each layer's rows of ``Q`` truncated to that rank). ``Q`` holds
        the columns of each block. ``cache``: ``{"batches": list or None, "numbers": int}``, the factored training
        gradients kept from the first call (up to ``TRAIN_CACHE`` numbers) for the next ones."""
        m, _ = self._require()
        if rank is not None and (int(rank) != rank or rank < 1):
            raise ValueError(f"query_rank must be a positive integer, got {rank!r}")
        low: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for b in m.blocks:
            if b.shape is not None and rank is not None:  # a Kronecker block
                U, S, Vh = torch.linalg.svd(Q[b.name].reshape(-1, *b.shape), full_matrices=False)
                r = min(int(rank), S.shape[1])
                low[b.name] = (U[:, :, :r] * S[:, None, :r], Vh[:, :r, :])
                lost = (S[:, r:] ** 2).sum(dim=1) / (S**2).sum(dim=1).clamp_min(1e-300)
                worst = float(lost.max().sqrt()) if lost.numel() else 0.0
                self.query_rank_error = max(self.query_rank_error or 0.0, worst)
        plain = [b for b in m.blocks if not b.kron]
        Qp = torch.cat([Q[b.name] for b in plain], dim=1) if plain else None
        nq = out.shape[0]
        out = out.reshape(nq, m.n_obs, -1)
        batches = _local_batches(m)
        kept = cache["batches"] if cache is not None else None
        reuse = kept is not None and len(kept) == len(batches) > 0
        pr = Progress(self.progress, "scores: training examples", len(batches))
        for k, rows in enumerate(batches):
            if reuse and kept is not None:  # reuse: kept holds every batch
                kron, G_plain = kept[k]
            else:
                kron, G_plain = self._train_factors(rows, per_token)
                if kept is not None and cache is not None:
                    size = sum(a.numel() + d.numel() for a, d in kron.values())
                    size += 0 if G_plain is None else G_plain.numel()
                    cache["numbers"] += size
                    if cache["numbers"] <= TRAIN_CACHE:
                        kept.append((kron, G_plain))
                    else:  # too large to keep: the next query chunks read the training data again
                        cache["batches"] = kept = None
            b_n = rows.stop - rows.start
            s = out.new_zeros(nq, b_n, out.shape[2])
            for b in m.blocks:
                if not b.kron:
                    continue
                a, d = kron[b.name]
                if b.name in low:
                    US, Vh = low[b.name]
                    s += torch.einsum("bcto,qor,btj,qrj->qbc", d, US, a, Vh)
                else:  # per-example gradients of the layer, a few at a time (about 2**26 numbers)
                    step = max(1, GRADIENT_CHUNK // (b.size * d.shape[1]))
                    for c in range(0, a.shape[0], step):
                        ac, dc = a[c : c + step], d[c : c + step]
                        G = (torch.einsum("bcto,btj->bcoj", dc, ac) if a.shape[1] > 1
                             else dc[:, :, 0, :, None] * ac[:, None, 0, None, :])
                        s[:, c : c + step] += (Q[b.name] @ G.reshape(-1, b.size).T).reshape(nq, -1, s.shape[2])
            if Qp is not None and G_plain is not None:
                s += (Qp @ G_plain.reshape(-1, Qp.shape[1]).T).reshape(nq, b_n, s.shape[2])
            out[:, rows] = s
            pr.advance()

    def self_influence(self) -> np.ndarray:
        """The predicted change of each training example's own loss when it is removed, ``g_i' delta_i``.

        Returns
        -------
        ndarray of shape (n_train,)
            Float64; with the leverage correction, a warning names the examples whose generalized leverage exceeds 1.
        """
        m, eng = self._require()

        def own(rows: slice) -> torch.Tensor:
            D, G, _, _ = eng.delta(rows)
            return (G * D).sum(dim=1)

        fast = (self.correction is Correction.NONE and isinstance(eng.curvature, EigenCurvature)
                and isinstance(eng.solver, DirectSolver)
                and [p.block for p in eng.curvature.parts] == list(m.blocks))  # K-FAC / EK-FAC: the model's blocks
        with self._eval():
            out = self._per_example("self-influence", self._own_blockwise if fast else own)
            if self.correction is Correction.LEVERAGE:
                self._check_leverage()
        return self._gather(out)

    def _own_blockwise(self, rows: slice) -> torch.Tensor:
        """``g_i' (C + lambda I)^{-1} g_i / n`` block by block for an eigen-structured curvature: each Kronecker
        block's layer factors are rotated into its eigenbasis and the per-example gradient formed there,
        ``sum (Q_G' G_i Q_A)^2 / (E + lambda)`` with ``Q_G' G_i Q_A = sum_t (Q_G' d_it)(Q_A' a_it)'`` (for one position
        a rank-one matrix that is never formed), without the ``(b, n_params)`` gradients of the batch."""
        m, eng = self._require()
        st = m.forward(rows)
        V = m.loss.grad(m._outputs(st), st["y"])[:, None, :]
        kron = m._backprop(rows, V)
        plain = dict(zip([b.name for b in m.blocks if not b.kron], m._plain_vjp(rows, V)))
        curv = eng.curvature
        assert isinstance(curv, EigenCurvature)  # self_influence takes this path for eigen-structured ones only
        shift = eng.solver.shift + curv.l2
        total = V.new_zeros(V.shape[0])
        for part in curv.parts:
            blk = part.block
            if blk.kron:
                a, d = kron[blk.name]
                if isinstance(part, KronEigen):  # rotate the factors, then form: Q_G' (sum_t d_t a_t') Q_A
                    dt, at = d[:, 0] @ part.QG, (a if part.QA is None else a @ part.QA)
                    inv = 1.0 / (part.E + shift)
                    if at.shape[1] == 1:  # one position: a rank-one gradient, squares of a product
                        total += torch.einsum("bo,oj,bj->b", dt[:, 0] ** 2, inv, at[:, 0] ** 2)
                    else:
                        R = torch.einsum("bto,btj->boj", dt, at)
                        total += torch.einsum("boj,oj->b", R * R, inv)
                    continue
                G = torch.einsum("bto,bti->boi", d[:, 0], a)
                g = G.reshape(G.shape[0], -1)
            else:
                g = plain[blk.name][:, 0]
            total += (g * part.solve(g, shift)).sum(dim=1)
        return total * (1.0 / m.n_obs)

    def max_leverage(self) -> np.ndarray:
        """The largest eigenvalue of each example's generalized leverage matrix.

        The matrix is ``K_i = U_i (C + lambda I)^{-1} U_i' / n``, ``U_i`` the example's Gauss-Newton factors
        (``U_i' U_i = J_i' Lambda_i J_i``). With one output it is the leverage ``h_i``. It is at most 1 for the
        Gauss-Newton curvature (which contains ``U_i' U_i / n``); above 1, the curvature is smaller than the
        example's own term in some direction, and the leverage correction ``(I - K_i)^{-1}`` changes sign there.

        Returns
        -------
        ndarray of shape (n_train,)
            Float64, one value per training example.
        """
        m, eng = self._require()

        def largest(rows: slice) -> torch.Tensor:
            return torch.as_tensor(eng.max_leverage(rows, gauss_newton=True), dtype=m.dtype, device=self.device)

        with self._eval():
            out = self._per_example("leverage", largest)
        return self._gather(out)

    def _per_example(self, stage: str, value: Callable[[slice], torch.Tensor]) -> torch.Tensor:
        """``(n_train,)``: ``value(rows)`` for each of this process's batches of training rows (the other rows 0),
        reporting progress as ``stage``."""
        m, _ = self._require()
        out = torch.zeros(m.n_obs, dtype=m.dtype, device=self.device)
        batches = _local_batches(m)
        pr = Progress(self.progress, stage, len(batches))
        for rows in batches:
            out[rows] = value(rows)
            pr.advance()
        return out

    def _check_leverage(self) -> None:
        """Warn when an approximate curvature gives examples a generalized leverage above 1."""
        if self.curvature not in (CurvatureKind.KFAC, CurvatureKind.EKFAC, CurvatureKind.DIAGONAL,
                                  CurvatureKind.IDENTITY):
            return
        lev = self.max_leverage()
        rows = np.flatnonzero(lev > 1.0)
        if rows.size == 0:
            return
        m, _ = self._require()
        warn(
            f"the {self.curvature.value} curvature gives {rows.size} training example(s) a generalized leverage above "
            f"1 (largest {lev.max():.3g}; rows {format_labels(m.index[rows], 5)}): it is smaller than the "
            "example's own Gauss-Newton term in some direction, so the leverage correction changes sign there. Use "
            "correction='none', or the Gauss-Newton curvature, with which leverages are at most 1")

    def influence(self) -> EngineInfluence:
        """The engine's per-example results, for a model small enough to hold ``n_train x n_params`` numbers.

        Runs in one process (not distributed).

        Returns
        -------
        EngineInfluence
            Parameter influence ``(n_train, n_params)``, self-influence, Cook's distance and leverage of each
            training example. Its coefficient variances (for ``dfbetas``) are not formed: ask for them with
            ``result.with_standard_errors(self.engine)`` (one solve per parameter).
        """
        m, eng = self._require()
        if hasattr(m, "all_reduce"):
            raise RuntimeError("influence() runs in one process; use scores() and self_influence() when distributed")
        with self._eval():
            return eng.run(standard_errors=False)

    def top(self, query: Any, k: int = 10, measurement: Any = "loss", *, query_rank: int | None = None) -> pd.DataFrame:
        """The ``k`` strongest proponents and opponents of each query.

        Proponents have the largest positive scores (removing them increases the query's loss), opponents the most
        negative.

        Parameters
        ----------
        query : tuple of tensors, dict of tensors, Dataset or DataLoader
            Query examples shaped like the training examples.
        k : int
            Proponents and opponents kept per query (at most ``n_train``).
        measurement : "loss" or callable
            As in :meth:`scores`.
        query_rank : int, optional
            Low-rank query compression, as in :meth:`scores`.

        Returns
        -------
        pandas.DataFrame
            One row per query, kind and rank: columns ``query`` (position of the query), ``kind`` ("proponent" or
            "opponent"), ``rank`` (1 the strongest), ``train`` (label of the training example) and ``score``.
        """
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        S = self.scores(query, measurement, query_rank=query_rank)
        k = min(int(k), S.shape[1])
        labels = self._require()[0].index
        order = np.argsort(-S, axis=1, kind="stable")
        frames = []
        for kind, idx in (("proponent", order[:, :k]), ("opponent", order[:, ::-1][:, :k])):
            q = np.repeat(np.arange(S.shape[0]), k)
            i = idx.reshape(-1)
            frames.append(pd.DataFrame({"query": q, "kind": kind, "rank": np.tile(np.arange(1, k + 1), S.shape[0]),
                                        "train": labels[i], "score": S[q, i]}))
        out = pd.concat(frames, ignore_index=True).sort_values(["query", "kind", "rank"], ascending=[True, False, True])
        return out.reset_index(drop=True)

    @property
    def param_names(self) -> Sequence[str]:
        """Names of the entries of the engine's parameter vector."""
        return self._require()[0].param_names

    # ---- factors on disk ---------------------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the fitted curvature (factors, eigenbases, eigenvalues), the damping and the settings to a file.

        The file (``torch.save`` of tensors and plain values) holds the parameter names and a SHA-256 of the
        parameter values, so that :meth:`load` can check that it is given the same model. Eigen-structured
        curvatures (``ekfac``, ``kfac``, ``diagonal``, ``identity``) with the direct solver.

        Parameters
        ----------
        path : str, os.PathLike or file object
            Where to write, as ``torch.save`` takes it.
        """
        m, eng = self._require()
        curv = eng.curvature
        if not isinstance(curv, EigenCurvature) or not isinstance(eng.solver, DirectSolver):
            raise ValueError(f"save() keeps eigen-structured curvatures (ekfac, kfac, diagonal, identity) with the "
                             f"direct solver; this one is {self.curvature.value} with {eng.solver.name}")
        parts: list[dict[str, Any]] = []
        for part in curv.parts:
            entry: dict[str, Any] = {"block": part.block.name}
            if isinstance(part, KronEigen):
                entry.update(kind="kron", QG=part.QG, QA=part.QA, E=part.E,
                             factors=None if part.factors is None else list(part.factors),
                             scale_factors=None if part.scale_factors is None else list(part.scale_factors),
                             E_kfac=getattr(part, "E_kfac", None))
            elif isinstance(part, DenseEigen):
                entry.update(kind="dense", M=part.M, Q=part.Q, e=part.e)
            else:
                entry.update(kind="diag", e=part.e)
            parts.append(entry)
        state = {
            "format": SAVE_FORMAT, "curvature": self.curvature.value, "correction": self.correction.value,
            "damping": float(eng.damping), "l2": self.l2, "loss": None if isinstance(self.loss, CallableLoss)
            else self.loss.name, "sampling": self.sampling, "mc_samples": self.mc_samples, "seed": self.seed,
            "exclude": list(self.exclude), "param_names": list(m.param_names), "params_sha256": _digest(m.params),
            "dtype": str(self.dtype), "n_train": m.n_obs, "of": getattr(curv, "of", None),
            "gradient_norm": self.gradient_norm, "parts": parts,
        }
        torch.save(state, path)

    @classmethod
    def load(cls, path: Any, model: nn.Module, train: Any, *, loss: Any = None, reduction: str | None = None,
             batch_size: int | None = None, device: Any = None, index: Any = None, progress: ProgressArg = None,
             solver_options: Mapping[str, Any] | None = None) -> TorchInfluence:
        """A fitted :class:`TorchInfluence` from :meth:`save`'s file, for ``model`` and its training data.

        Raises :class:`~regdiag.ModelError` unless ``model`` has the same trainable parameters (names, dtype and
        values, by SHA-256) as the model the file was written from, and ``train`` as many examples. A callable loss
        is not saved: pass it again as ``loss`` (with ``reduction``).

        Parameters
        ----------
        path : str, os.PathLike or file object
            A file written by :meth:`save`.
        model : nn.Module
            The trained model the factors were fitted to.
        train : tuple of tensors, dict of tensors, Dataset or DataLoader
            Its training examples, as many as at fitting.
        loss : str or callable, optional
            Default: the saved loss; required when a callable loss was used.
        reduction : {"mean", "sum", "none"}, optional
            How a callable ``loss`` reduces a batch.
        batch_size : int, optional
            Examples per batch (as in the constructor).
        device : str or torch.device, optional
            Where to compute (as in the constructor).
        index : sequence, optional
            Labels of the training examples.
        progress : bool or callable(stage, done, total)
            Progress of scoring (as in the constructor).
        solver_options : mapping, optional
            Passed to the engine's solver.

        Returns
        -------
        TorchInfluence
            Fitted, with the saved curvature, damping, correction and settings.
        """
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != SAVE_FORMAT:
            raise ValueError(f"{path!s} is not a file written by TorchInfluence.save (format {SAVE_FORMAT})")
        if state["loss"] is None and loss is None:
            raise ValueError("the factors were fitted with a callable loss, which is not saved: pass loss=...")
        ti = cls(model, loss if loss is not None else state["loss"], train, curvature=state["curvature"],
                 damping=state["damping"], l2=state["l2"], correction=state["correction"], batch_size=batch_size,
                 device=device, reduction=reduction, sampling=state["sampling"],
                 mc_samples=state["mc_samples"] if state["sampling"] == "mc" else None, seed=state["seed"],
                 exclude=state["exclude"], index=index, progress=progress, solver_options=solver_options)
        if str(ti.dtype) != state["dtype"]:
            raise ModelError(f"the model's parameters are {ti.dtype} but the factors were fitted to a {state['dtype']} "
                             "model")
        with ti._eval():
            m = ti._build_model()
            if list(m.param_names) != list(state["param_names"]):
                raise ModelError(f"the model's parameters ({m.n_params}, {format_labels(m.param_names, 3)}) are not "
                                 f"those the factors were fitted to ({len(state['param_names'])}, "
                                 f"{format_labels(state['param_names'], 3)})")
            if _digest(m.params) != state["params_sha256"]:
                raise ModelError("the model's parameter values differ from those the factors were fitted to: load "
                                 "the same trained weights, or fit() again")
            if m.n_obs != state["n_train"]:
                raise ModelError(f"the factors were fitted to {state['n_train']} training examples; train has "
                                 f"{m.n_obs}")
            m.progress = ti.progress
            ti.model = m
            ti.gradient_norm = state["gradient_norm"]
            view = ModelView(m)
            kind = CurvatureKind(state["curvature"])
            curv_cls = CURVATURES[kind]
            if not issubclass(curv_cls, EigenCurvature):
                raise ValueError(f"{path!s} holds a {kind.value} curvature; TorchInfluence.save writes only "
                                 "eigen-structured ones (ekfac, kfac, diagonal, identity)")
            curv = curv_cls.__new__(curv_cls)
            EigenCurvature.__init__(curv, view, batch_size=ti.data.batch, progress=ti.progress)
            if state["of"] is not None:
                curv.of = state["of"]  # type: ignore[attr-defined]  # the diagonal curvature's own option
            blocks = {b.name: b for b in m.blocks}
            blocks["params"] = Block("params", 0, m.n_params)
            dev = ti.device
            for entry in state["parts"]:
                blk = blocks[entry["block"]]
                t = {k: (v.to(dev) if isinstance(v, torch.Tensor) else
                         [x.to(dev) for x in v] if isinstance(v, list) and v and isinstance(v[0], torch.Tensor) else v)
                     for k, v in entry.items()}
                if t["kind"] == "kron":
                    part: Any = KronEigen(view.backend, blk, t["QG"], t["QA"], t["E"],
                                          factors=None if t["factors"] is None else tuple(t["factors"]))
                    part.scale_factors = None if t["scale_factors"] is None else tuple(t["scale_factors"])
                    if t["E_kfac"] is not None:
                        part.E_kfac = t["E_kfac"]
                elif t["kind"] == "dense":
                    part = DenseEigen.__new__(DenseEigen)
                    part.bk, part.block, part.M, part.Q, part.e, part.factors = (view.backend, blk, t["M"], t["Q"],
                                                                                 t["e"], True)
                else:
                    part = DiagEigen(view.backend, blk, t["e"])
                curv.parts.append(part)
            ti.engine = InfluenceEngine(m, curv, "direct", state["damping"], ti.correction.value,
                                        batch_size=ti.data.batch, progress=ti.progress,
                                        solver_options=ti.solver_options)
        return ti

    def __repr__(self) -> str:
        state = "fitted" if self.engine is not None else "not fitted"
        return (f"<TorchInfluence {self.curvature.value}/{self.solver} damping={self.damping} "
                f"correction={self.correction.value} n_train={self.data.n} ({state})>")
