"""Read the committed R reference values (tests/reference/manifest.json); never calls R."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "reference" / "manifest.json"


@lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    with open(MANIFEST, encoding="utf-8") as f:
        return json.load(f)


def case_names(kind: str) -> list[str]:
    return [c["case"] for c in manifest()["cases"] if c["kind"] == kind]


@dataclass
class Case:
    spec: dict[str, Any]
    data: pd.DataFrame

    @property
    def name(self) -> str:
        return self.spec["case"]

    @property
    def terms(self) -> list[str]:
        return list(self.spec["terms"])

    def design(self) -> pd.DataFrame:
        """The design matrix exactly as R's: one column per term, a column of ones for "(Intercept)"."""
        cols = {}
        for t in self.terms:
            cols[t] = np.ones(len(self.data)) if t == "(Intercept)" else self.data[t].to_numpy(dtype=float)
        return pd.DataFrame(cols, index=self.data.index)

    def response(self) -> pd.Series:
        return self.data[self.spec["response"]].astype(float)

    def weights(self) -> np.ndarray | None:
        w = self.spec.get("weights")
        return None if w is None else self.data[w].to_numpy(dtype=float)

    def offset(self) -> np.ndarray | None:
        o = self.spec.get("offset")
        return None if o is None else self.data[o].to_numpy(dtype=float)

    def ref(self, quantity: str) -> pd.DataFrame:
        path = ROOT / self.spec["files"][quantity]
        df = pd.read_csv(path, index_col=0, keep_default_na=True)
        df.index = df.index.astype(str)
        return df

    def scalars(self) -> dict[str, float]:
        s = self.ref("scalars")
        return {k: float(v) for k, v in s.iloc[:, 0].items()}


def load_case(name: str) -> Case:
    spec = next(c for c in manifest()["cases"] if c["case"] == name)
    data = pd.read_csv(ROOT / spec["data"])
    ic = spec.get("index_col")
    if ic and ic in data.columns:
        data = data.set_index(ic)
    elif "row" in data.columns:
        data = data.set_index("row")
    else:
        data.index = pd.RangeIndex(1, len(data) + 1)
    data.index = data.index.astype(str)
    return Case(spec=spec, data=data)
