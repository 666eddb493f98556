"""Tensor operations by family; each file holds its cached kernels and one mixin of methods.

The mixins never import ``Tensor``: they record through :func:`lucid._autograd.apply`.
"""
