"""The torch tests run in CI: there, a missing torch is an error, not a reason to skip them."""

from __future__ import annotations

import importlib.util
import os

if os.environ.get("CI") and importlib.util.find_spec("torch") is None:
    raise RuntimeError("torch is not installed in the test environment: `make venv` installs torch==2.13.0 and the "
                       "regdiag[torch] extra; the tests in tests/torch must run in CI")

if os.environ.get("CI"):
    missing = [m for m in ("transformers", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed in the test environment: the dev extra "
                           "(pip install -e '.[dev,torch]') installs them; tests/torch/test_transformers.py must run "
                           "in CI")

if importlib.util.find_spec("torch") is not None:
    import torch

    # the networks here are tiny: one thread avoids oversubscribing the CPU when test processes run side by side
    torch.set_num_threads(1)
