"""Out-of-core and distributed influence diagnostics on Dask (the extra ``regdiag[dask]``).

``regdiag.ols`` and ``regdiag.glm`` hand Dask arrays, DataFrames and formulas over Dask DataFrames to this package;
it is also usable directly. The fit reads the data once (a tall-skinny QR reduced by a tree; one reduction per IRLS
iteration for GLMs; least squares refines its coefficients in extended precision, one more pass per step, where the
in-memory path does); the influence measures are lazy Dask collections computed block by block from the fit's
small R factor, and :meth:`DaskInfluence.summary` gives flag counts and the most influential rows in one more pass.
On data that fit in memory the numbers are those of the in-memory path (see ``tests/dask``).

This is the only part of regdiag that imports dask.
"""

from __future__ import annotations

from .glm import DaskGLMFit, glm
from .influence import DaskInfluence, InfluenceSummary
from .ols import DaskOLSFit, ols
from .report import StreamReport, read_parquet, stream_report

__all__ = [
    "ols",
    "glm",
    "DaskOLSFit",
    "DaskGLMFit",
    "DaskInfluence",
    "InfluenceSummary",
    "read_parquet",
    "stream_report",
    "StreamReport",
]
