"""The documented lucid snippets run verbatim; the legacy example's right numbers are pinned."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap

import numpy as np
import oracle
import torch

DOCUMENTED_USAGE = textwrap.dedent("""
    import lucid
    import lucid.nn as nn
    from lucid import Tensor
    from lucid.nn.functional import instance_norm

    norm = nn.InstanceNorm3d(16)
    x = lucid.randn(2, 16, 8, 32, 32)          # (N, C, D, H, W)
    out = norm(x); out.shape                    # -> (2, 16, 8, 32, 32), a plain tuple
    nn.InstanceNorm3d(16, track_running_stats=True)(x)
    nn.InstanceNorm1d(32, affine=True)(lucid.randn(8, 32, 100))
    instance_norm(lucid.randn(4, 3, 64, 64)).shape

    input_tensor = Tensor([[[[1., 2., 3.], [4., 5., 6.]], [[7., 8., 9.], [10., 11., 12.]]]], requires_grad=True)
    output = nn.InstanceNorm2d(num_features=2)(input_tensor)
    print(output)                               # Tensor([[...]], grad=None)
    output.backward()                           # non-scalar: seeds ones (lucid)
    print(input_tensor.grad)                    # ~0 everywhere: sum of a normalised slice is constant
""")  # noqa: E501 (verbatim)

# PyTorch's numbers for each channel of the legacy example, [[1, 2, 3], [4, 5, 6]] + offset:
# mean 3.5, biased variance 35/12; the legacy page's ±1.2247, 0 normalise each row over W alone.
LEGACY_EXAMPLE_OUTPUT = (np.array([[-2.5, -1.5, -0.5], [0.5, 1.5, 2.5]])
                         / np.sqrt(35 / 12 + 1e-5))


def test_documented_usage_runs_verbatim():
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(DOCUMENTED_USAGE, "<documented usage>", "exec"), namespace)
    assert namespace["out"].shape == (2, 16, 8, 32, 32) and type(namespace["out"].shape) is tuple
    assert printed.getvalue().startswith("Tensor([[[[-1.4638, -0.8783, -0.2928],")
    assert "grad=None)" in printed.getvalue()

    output, input_tensor = namespace["output"], namespace["input_tensor"]
    pinned = np.stack([LEGACY_EXAMPLE_OUTPUT, LEGACY_EXAMPLE_OUTPUT])[None]
    np.testing.assert_allclose(pinned[0, 0, 0], [-1.46385, -0.87831, -0.29277], atol=1e-5)
    oracle.assert_close(output.numpy(), pinned)
    x = torch.tensor(np.asarray(input_tensor), requires_grad=True)
    expected = torch.nn.InstanceNorm2d(2)(x)
    oracle.assert_close(output.numpy(), expected.detach().numpy())
    expected.backward(torch.ones_like(expected))
    assert input_tensor.grad.shape == input_tensor.shape
    oracle.assert_close(input_tensor.grad, np.zeros(input_tensor.shape))
    oracle.assert_close(input_tensor.grad, x.grad.numpy())


def test_import_lucid_does_not_import_flax():
    code = "import sys, lucid, lucid.nn; print('flax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
