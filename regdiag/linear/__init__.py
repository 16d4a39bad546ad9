"""Closed-form fits and influence measures for linear and generalized linear models (numpy/scipy only)."""
