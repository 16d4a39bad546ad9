"""Hugging Face models as they come (tiny models built from configs, offline): dict batches with attention masks and
labels, ModelOutput objects, token losses, GPT-2's Conv1D and tied embeddings, BERT with SDPA attention (which
torch.func.vmap cannot run), peft LoRA adapters; against brute-force Gauss-Newton references (hf_reference.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from transformers.pytorch_utils import Conv1D  # noqa: E402

import regdiag.torch._model as model_module  # noqa: E402
from regdiag._validation import DataError, InfluenceWarning, ModelError  # noqa: E402
from regdiag.torch import TorchInfluence  # noqa: E402

from . import hf_reference as ref  # noqa: E402

V, T = 12, 6


def gpt2(seed=0, dtype=torch.float64, **kw):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=8, n_embd=8, n_layer=1, n_head=2, bos_token_id=0,
                                  eos_token_id=0, **kw)
    return transformers.GPT2LMHeadModel(cfg).to(dtype).eval()


def bert(seed=0):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=V, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=16, max_position_embeddings=8, num_labels=2)
    return transformers.BertForSequenceClassification(cfg).double().eval()


def tokens(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (n, T), generator=g)
    mask = torch.ones_like(ids)
    mask[: n // 3, T - 2 :] = 0  # right padding of a third of the sequences
    return ids, mask


def lm_loss(f, y):
    """Summed next-token cross-entropy of one sequence, as torch computes it (-100: no loss)."""
    logits = f.reshape(-1, V)
    return F.cross_entropy(logits[:-1], y[1:], ignore_index=-100, reduction="sum")


def examples(ids, mask, labels):
    return [({"input_ids": ids[i : i + 1], "attention_mask": mask[i : i + 1]}, labels[i]) for i in range(len(ids))]


def test_gpt2_dict_batches_with_padding_match_the_exact_gauss_newton_reference():
    model = gpt2()
    ids, mask = tokens(9)
    labels = ids.masked_fill(mask == 0, -100)
    q_ids, q_mask = tokens(2, seed=5)
    q_labels = q_ids.masked_fill(q_mask == 0, -100)
    want, _ = ref.scores(model, examples(ids, mask, labels), examples(q_ids, q_mask, q_labels), lm_loss, 0.1)
    # labels implied by input_ids and the mask, or given (with -100): the same
    for train in ({"input_ids": ids, "attention_mask": mask},
                  {"input_ids": ids, "attention_mask": mask, "labels": labels}):
        ti = TorchInfluence(model, "lm", train, curvature="gauss_newton", sampling="exact", damping=0.1,
                            check_optimum=False, batch_size=4).fit()
        got = ti.scores({"input_ids": q_ids, "attention_mask": q_mask})
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9 * np.abs(want).max())
    # GPT-2's Conv1D layers and the untied position/tied token embeddings are where the rules say
    kinds = {b.name: b.kron for b in ti.model.blocks}
    assert kinds["transformer.h.0.attn.c_attn"] and kinds["transformer.h.0.mlp.c_proj"]
    assert kinds["transformer.wpe"]  # called on positions shared by the batch: expanded to the batch
    # tied with lm_head: one Kronecker block whose per-example gradients sum the two uses (no vmap needed)
    assert kinds["transformer.wte.weight"]
    assert [u.name for u in ti.model.tied["transformer.wte.weight"]] == ["transformer.wte", "lm_head"]
    assert ti.model._vmap_fails is None


def _reference_index(model, names):
    """Position of each engine parameter name (``param[i,j]``) in the reference's concatenated parameters."""
    offsets, pos = {}, 0
    for nm, p in model.named_parameters():
        offsets[nm] = (pos, tuple(p.shape))
        pos += p.numel()
    out = []
    for full in names:
        base, _, rest = full.partition("[")
        start, shape = offsets[base]
        idx = tuple(int(i) for i in rest.rstrip("]").split(",")) if rest else ()
        out.append(start + (int(np.ravel_multi_index(idx, shape)) if idx else 0))
    return np.array(out)


def test_gpt2_ekfac_eigenvalues_are_the_exact_gauss_newton_in_its_eigenbasis():
    """EK-FAC's corrected eigenvalues are diag(Q' GGN Q) of each Kronecker block (Conv1D layers, transposed, with
    biases; the token embedding tied to the output layer, its two uses summed): checks the per-example layer factors,
    masking, Conv1D orientation and the tied block's exchanged sides against the dense reference."""
    model = gpt2(seed=3)
    ids, mask = tokens(8, seed=4)
    labels = ids.masked_fill(mask == 0, -100)
    G, _, _ = ref.ggn_and_gradients(model, examples(ids, mask, labels), lm_loss)
    ti = TorchInfluence(model, "lm", {"input_ids": ids, "attention_mask": mask}, curvature="ekfac",
                        sampling="exact", damping=0.1, check_optimum=False).fit()
    where = _reference_index(model, ti.param_names)
    Gn = G.numpy()
    checked = 0
    for part in ti.engine.curvature.parts:
        if not hasattr(part, "QG"):
            continue
        blk = part.block
        QA = np.eye(blk.shape[1]) if part.QA is None else part.QA.numpy()  # None: a diagonal input factor
        Q = np.kron(part.QG.numpy(), QA)
        idx = where[blk.start : blk.stop]
        want = np.einsum("pi,pq,qi->i", Q, Gn[np.ix_(idx, idx)], Q)
        np.testing.assert_allclose(part.E.numpy().reshape(-1), want, rtol=1e-8, atol=1e-10 * np.abs(want).max())
        checked += 1
    assert checked == 6  # the Conv1D layers, the position embedding and the tied token embedding (both uses)


class OneConv1D(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = Conv1D(3, 4)  # transformers' (d_in=4, d_out=3) weight

    def forward(self, x):
        return self.c(x)


class OneEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = nn.Embedding(5, 3)

    def forward(self, ids):
        return self.e(ids)  # (b, 1, 3): one token


@pytest.mark.parametrize("kind", ["conv1d", "embedding"])
def test_kfac_is_the_exact_gauss_newton_for_one_conv1d_or_embedding_layer_with_squared_loss(kind):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    if kind == "conv1d":
        net, X = OneConv1D().double(), torch.randn(15, 4, generator=g, dtype=torch.float64)
        Y = torch.randn(15, 3, generator=g, dtype=torch.float64)
        key = "x"
    else:
        net, X = OneEmbedding().double(), torch.randint(0, 5, (15, 1), generator=g)
        Y = torch.randn(15, 1, 3, generator=g, dtype=torch.float64)
        key = "ids"
    ti = TorchInfluence(net, "mse", (X, Y), curvature="kfac", damping=0.01, check_optimum=False).fit()
    assert [b.kron for b in ti.model.blocks] == [True]

    def mse(f, y):
        return ((f - y.reshape(-1)) ** 2).mean()

    train = [({key: X[i : i + 1]}, Y[i]) for i in range(15)]
    want, _ = ref.scores(net, train, train[:3], mse, 0.01)
    np.testing.assert_allclose(ti.scores((X[:3], Y[:3])), want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


class TwoHeads(nn.Module):
    """One weight used by two linear heads, each on its own input, their outputs side by side."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3, bias=False)
        self.b = nn.Linear(4, 3, bias=False)
        self.b.weight = self.a.weight

    def forward(self, x):
        return torch.cat([self.a(x[:, :4]), self.b(x[:, 4:])], dim=1)


def test_kfac_of_a_tied_weight_sums_its_uses_and_is_the_exact_gauss_newton_for_one_token_one_layer():
    """The shared block's factors sum the uses' statistics: for one linear layer used twice on one token each
    (squared loss), that is the exact Gauss-Newton block, ``(2/k) I (x) mean_i (x1 x1' + x2 x2') / 2`` summed."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4)
    net = TwoHeads().double()
    X = torch.randn(15, 8, generator=g, dtype=torch.float64)
    Y = torch.randn(15, 6, generator=g, dtype=torch.float64)
    ti = TorchInfluence(net, "mse", (X, Y), curvature="kfac", damping=0.01, check_optimum=False).fit()
    assert [(b.name, b.kron) for b in ti.model.blocks] == [("a.weight", True)]
    assert [u.name for u in ti.model.tied["a.weight"]] == ["a", "b"]

    def mse(f, y):
        return ((f - y.reshape(-1)) ** 2).mean()

    train = [({"x": X[i : i + 1]}, Y[i]) for i in range(15)]
    want, G = ref.scores(net, train, train[:3], mse, 0.01)
    np.testing.assert_allclose(ti.scores((X[:3], Y[:3])), want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    part = ti.engine.curvature.parts[0]
    C = np.kron(*(f.numpy() for f in part.factors))
    np.testing.assert_allclose(C, G.numpy(), rtol=1e-10, atol=1e-12 * np.abs(C).max())


class Tempered(nn.Module):
    """BERT's logits times a learned per-class scale: a parameter without Kronecker structure."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.scale = nn.Parameter(torch.tensor([1.3, 0.7], dtype=torch.float64))

    def forward(self, **kw):
        return self.inner(**kw).logits * self.scale


def test_bert_with_sdpa_attention_and_padding_falls_back_from_vmap_and_matches_the_reference():
    model = Tempered(bert())
    ids, mask = tokens(8, seed=6)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    train = {"input_ids": ids, "attention_mask": mask, "labels": y}

    def ce(f, t):
        return F.cross_entropy(f[None], t[None])

    want, _ = ref.scores(model, examples(ids, mask, y), examples(ids[:2], mask[:2], y[:2]), ce, 0.05)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ti = TorchInfluence(model, "cross_entropy", train, curvature="gauss_newton", damping=0.05,
                            check_optimum=False).fit()
    notes = [str(w.message) for w in caught if issubclass(w.category, InfluenceWarning)]
    assert any("vmap cannot run the model" in m for m in notes), notes
    got = ti.scores({"input_ids": ids[:2], "attention_mask": mask[:2], "labels": y[:2]})
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9 * np.abs(want).max())
    # LayerNorms get their per-example gradients from hooks; the word embeddings are a Kronecker block
    kinds = {b.name: b.kron for b in ti.model.blocks}
    assert kinds["inner.bert.embeddings.word_embeddings"] and kinds["inner.bert.embeddings.position_embeddings"]
    assert not kinds["inner.bert.embeddings.LayerNorm.weight"] and not kinds["scale"]
    assert [n.name for n in ti.model.norms][:1] == ["inner.bert.embeddings.LayerNorm"]


def test_peft_lora_on_gpt2_scores_the_adapters_only():
    peft = pytest.importorskip("peft")
    base = gpt2(seed=7)
    cfg = peft.LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn"], fan_in_fan_out=True, lora_dropout=0.0)
    model = peft.get_peft_model(base, cfg).double().eval()
    for nm, p in model.named_parameters():  # LoRA's B starts at zero: give the adapters a trained-looking value
        if "lora_" in nm:
            with torch.no_grad():
                p.copy_(0.3 * torch.randn_like(p))
    ids, mask = tokens(6, seed=8)
    labels = ids.masked_fill(mask == 0, -100)
    params = [p for p in model.parameters() if p.requires_grad]
    want, _ = ref.scores(model, examples(ids, mask, labels), examples(ids[:2], mask[:2], labels[:2]), lm_loss, 0.1,
                         params=params)
    ti = TorchInfluence(model, "lm", {"input_ids": ids, "attention_mask": mask}, curvature="gauss_newton",
                        sampling="exact", damping=0.1, check_optimum=False).fit()
    assert all(b.kron for b in ti.model.blocks) and len(ti.model.blocks) == 2
    np.testing.assert_allclose(ti.scores({"input_ids": ids[:2], "attention_mask": mask[:2]}), want, rtol=1e-7,
                               atol=1e-9 * np.abs(want).max())
    ek = TorchInfluence(model, "lm", {"input_ids": ids, "attention_mask": mask}, damping=0.1,
                        check_optimum=False).fit()
    assert np.isfinite(ek.scores({"input_ids": ids[:2], "attention_mask": mask[:2]})).all()


def test_token_logits_with_cross_entropy_and_dicts_without_labels_are_named():
    model = gpt2()
    ids, mask = tokens(4)
    with pytest.raises(ModelError, match="use loss='lm' for causal language modelling"):
        TorchInfluence(model, "cross_entropy", {"input_ids": ids, "labels": ids}, check_optimum=False).fit()
    with pytest.raises(DataError, match=r"no target: add labels"):
        TorchInfluence(model, "token_cross_entropy", {"input_ids": ids, "attention_mask": mask})
    with pytest.raises(DataError, match=r"token ids in 0..11 or -100"):
        TorchInfluence(model, "lm", {"input_ids": ids, "labels": ids + 20}, check_optimum=False).fit()


@pytest.mark.parametrize("curvature", ["kfac", "ekfac", "diagonal"])
def test_float32_gpt2_runs_clean_and_agrees_with_float64(curvature):
    """No symmetry/PSD complaint at float32 rounding, no warning at all, and the float64 scores to float32
    accuracy (same model and data)."""
    m64 = gpt2(seed=11)
    m32 = gpt2(seed=11, dtype=torch.float32)
    ids, mask = tokens(12, seed=12)
    train, query = {"input_ids": ids, "attention_mask": mask}, {"input_ids": ids[:3], "attention_mask": mask[:3]}
    kw = dict(curvature=curvature, damping=0.1, check_optimum=False, sampling="mc" if curvature != "diagonal" else None)
    want = TorchInfluence(m64, "lm", train, **kw).fit().scores(query)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=r".*Monte Carlo vectors")  # 12 sequences, a 96-entry tied block
        got = TorchInfluence(m32, "lm", train, **kw).fit().scores(query)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-4 * np.abs(want).max())


def test_a_dense_block_estimated_from_too_few_monte_carlo_vectors_is_named(monkeypatch):
    model, (ids, mask) = gpt2(), tokens(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the tied embedding is a Kronecker block: no dense block to warn about
        TorchInfluence(model, "lm", {"input_ids": ids, "attention_mask": mask}, damping=0.1, check_optimum=False).fit()
    monkeypatch.setattr(model_module, "TIED_KRON_LIMIT", 8)  # a tied weight larger than that: one dense block
    with pytest.warns(InfluenceWarning, match=r"'transformer.wte.weight' \(dense block without Kronecker structure\) "
                                              r"is estimated from 10 Monte Carlo vectors"):
        TorchInfluence(model, "lm", {"input_ids": ids, "attention_mask": mask}, damping=0.1, check_optimum=False).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TorchInfluence(model, "lm", {"input_ids": ids, "attention_mask": mask}, damping=0.1, check_optimum=False,
                       exclude=["transformer.wte.*"]).fit()
