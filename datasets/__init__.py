"""Marker: the bundled CSV files are installed as this package (see datasets/README.md)."""
