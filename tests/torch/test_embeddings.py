"""Embeddings as Kronecker blocks with a diagonal input factor (one-hot tokens: the token frequencies), stored as a
vector with the identity as its eigenvectors: the same influence as the dense vocab x vocab factor, and a real
vocabulary size."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch import nn  # noqa: E402

from regdiag.engine.curvature.base import KronEigen  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402
from regdiag.torch._model import TorchModel  # noqa: E402

V, T = 12, 5  # 60 outputs per sequence: exact Gauss-Newton factors without a warning


def gpt2_untied(seed=0):
    """A tiny GPT-2 whose token embedding is not tied to the output layer: ``wte`` and ``wpe`` are nn.Embedding
    blocks."""
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=8, n_embd=8, n_layer=1, n_head=2, bos_token_id=0,
                                  eos_token_id=0, tie_word_embeddings=False)
    return transformers.GPT2LMHeadModel(cfg).double().eval()


def dense_inputs(monkeypatch):
    """Every Kronecker block with a dense input factor (the vocab x vocab matrix for embeddings)."""
    monkeypatch.setattr(TorchModel, "diagonal_inputs", property(lambda self: frozenset(), lambda self, v: None),
                        raising=False)


@pytest.mark.parametrize("curvature", ["kfac", "ekfac"])
def test_the_diagonal_input_factor_gives_the_dense_factors_influence_on_a_tiny_gpt2(curvature, monkeypatch):
    model = gpt2_untied()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, V, (10, T), generator=g)
    mask = torch.ones_like(ids)
    mask[:3, T - 2:] = 0
    q = {"input_ids": torch.randint(0, V, (3, T), generator=g), "attention_mask": torch.ones(3, T, dtype=torch.long)}
    kw = dict(curvature=curvature, damping=0.05, check_optimum=False, sampling="exact", batch_size=4)
    train = {"input_ids": ids, "attention_mask": mask}
    diag = TorchInfluence(model, "lm", train, **kw).fit()
    assert diag.model.diagonal_inputs == {"transformer.wte", "transformer.wpe"}
    for blk, part in zip(diag.model.blocks, diag.engine.curvature.parts):
        if blk.name in ("transformer.wte", "transformer.wpe"):
            assert isinstance(part, KronEigen) and part.QA is None
            assert tuple(part.scale_factors[1].shape) == (blk.shape[1],)  # a vector, not (vocab, vocab)
    got_s, got_self = diag.scores(q), diag.self_influence()
    with monkeypatch.context() as mp:
        dense_inputs(mp)
        ref = TorchInfluence(model, "lm", train, **kw).fit()
        parts = dict(zip([b.name for b in ref.model.blocks], ref.engine.curvature.parts))
        assert tuple(parts["transformer.wte"].scale_factors[1].shape) == (V, V)
        want_s, want_self = ref.scores(q), ref.self_influence()
    np.testing.assert_allclose(got_s, want_s, rtol=1e-10, atol=1e-10 * np.abs(want_s).max())
    np.testing.assert_allclose(got_self, want_self, rtol=1e-10, atol=1e-10 * np.abs(want_self).max())


class BagOfTokens(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, 3)

    def forward(self, idx):
        return self.out(self.emb(idx).mean(dim=1))


@pytest.mark.parametrize("curvature", ["kfac", "ekfac"])
def test_a_60000_token_vocabulary_is_one_kronecker_block_with_a_vector_input_factor(curvature):
    vocab, dim, n = 60_000, 16, 24
    torch.manual_seed(0)
    net = BagOfTokens(vocab, dim).double()
    g = torch.Generator().manual_seed(3)
    idx, y = torch.randint(0, vocab, (n, 4), generator=g), torch.randint(0, 3, (n,), generator=g)
    ti = TorchInfluence(net, "cross_entropy", (idx, y), curvature=curvature, damping=1e-2, check_optimum=False).fit()
    part = ti.engine.curvature.parts[0]
    assert ti.model.blocks[0].shape == (dim, vocab) and isinstance(part, KronEigen) and part.QA is None
    G, A = part.scale_factors
    assert tuple(G.shape) == (dim, dim) and tuple(A.shape) == (vocab,) and tuple(part.E.shape) == (dim, vocab)
    # the token frequencies: each of the n * 4 tokens counts 1 / (n * 4)
    counts = np.bincount(idx.reshape(-1).numpy(), minlength=vocab) / idx.numel()
    np.testing.assert_allclose(A.numpy(), counts, rtol=1e-12, atol=0)
    S = ti.scores((idx[:5], y[:5]))
    assert S.shape == (5, n) and np.all(np.isfinite(S))
    # self-influence (blockwise, in the eigenbasis) against the diagonal of the scores (solves of full gradients)
    np.testing.assert_allclose(ti.self_influence()[:5], np.diag(S[:, :5]), rtol=1e-9)
