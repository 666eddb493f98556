"""Tensor operations by family; each file holds its cached kernels and one mixin of methods.

At runtime the mixins never import ``Tensor`` (it appears only in their annotations, imported
under ``TYPE_CHECKING``): each subclasses :class:`lucid._autograd.TensorBase` and builds its
results through ``self._apply`` (recorded on the tape) or ``self._wrap`` (off it).
"""
