"""Kernels behind :mod:`lucid.nn.functional`, one file per family; public names live there."""
