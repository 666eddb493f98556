"""Tensor operations by family; each file holds its cached kernels and one mixin of methods.

The mixins never import ``Tensor``: each subclasses :class:`lucid._autograd.TensorBase` and
builds its results through ``self._apply`` (recorded on the tape) or ``self._wrap`` (off it).
"""
