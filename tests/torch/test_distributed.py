"""Two CPU processes on the gloo backend give the single-process factors and scores."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.multiprocessing as mp  # noqa: E402

from tests.torch import dist_worker  # noqa: E402


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")
def test_two_gloo_processes_reduce_factors_and_scores(tmp_path):
    mp.spawn(dist_worker.worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True)
    single = dist_worker.results(distributed=False)
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)]
    # each process visited its own share of the rows
    assert ranks[0]["rows"].tolist() == [0, 18] and ranks[1]["rows"].tolist() == [18, 37]
    for key, ref in single.items():
        if key == "rows":
            continue
        for r in ranks:
            np.testing.assert_allclose(r[key], ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max(), err_msg=key)
