"""Benchmarks of transformer_keras beside KerasHub and PyTorch (`python -m benchmarks`).

Every result is a ratio against an anchor measured in the same run: these
machines are shared and noisy, so absolute times are printed but never
asserted. See `benchmarks/__main__.py` for the list and README.md for how to
read the table.
"""
