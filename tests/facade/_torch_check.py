"""The facade-versus-torch check that the layer and op tests share."""

from __future__ import annotations

import numpy as np
import torch

import lucid
import lucid.nn as nn


def check(ours, theirs, x, rng, rtol=1e-5, atol=1e-5):
    """Forward values, then input and parameter gradients under one random cotangent."""
    xs = lucid.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, ref = ours(xs), theirs(xt)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    cotangent = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(np.asarray(xs.grad), xt.grad.numpy(), rtol=rtol, atol=atol)
    if isinstance(ours, nn.Module):
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                     strict=True):
            np.testing.assert_allclose(np.asarray(p.grad), q.grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=name)
