"""Keep ``notebooks/*.ipynb`` Colab-ready and stored with their outputs: ``make notebooks``.

For each notebook (all of ``notebooks/`` by default, or the paths given) this

1. puts the "Open in Colab" badge (built from ``[project.urls] Repository`` in pyproject.toml)
   at the top of the first cell, and makes the first code cell :data:`INSTALL_CELL`;
2. fills every code cell tagged ``benchmark-results`` with ``benchmarks/RESULTS.md`` (so the
   notebook shows the measured tables on Colab, where the repository is not on disk);
3. re-executes the notebook in place, top to bottom, on this interpreter (CPU), in a scratch
   directory so nothing it writes lands in the repository;
4. strips what changes from run to run or machine to machine: execution timestamps, the
   interpreter's version and the kernel's name (stored as Colab's ``python3``).

``tests/test_notebooks.py`` imports this module: the badge, the install cell and the checks
have one definition.

    python tools/notebooks.py [--no-execute] [notebooks/NAME.ipynb ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
RESULTS_TAG = "benchmark-results"
KERNEL_NAME = "lucid-jax-this-interpreter"

# The first code cell of every notebook. It installs lucid-jax only where it is missing (Colab),
# and hands pip the runtime's jax/jaxlib (and CUDA/TPU plugins) as constraints, so that pip can
# neither upgrade nor downgrade them: Colab's GPU/TPU runtimes break when jaxlib changes.
INSTALL_CELL = '''\
# Install lucid-jax only when it is missing (on Colab). The runtime's own jax, jaxlib and
# accelerator plugins are passed to pip as constraints: pip never upgrades or downgrades them.
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import tempfile

if importlib.util.find_spec("lucid_jax") is None:
    pins = {dist.metadata["Name"].lower(): dist.version
            for dist in importlib.metadata.distributions()
            if (dist.metadata["Name"] or "").lower().startswith(("jax", "libtpu"))}
    if "jax" in pins and tuple(map(int, re.findall(r"\\d+", pins["jax"])[:3])) < (0, 5, 2):
        raise RuntimeError(
            f"This runtime has jax {pins['jax']}; lucid-jax needs jax>=0.5.2. Upgrade JAX for "
            "your runtime (GPU: %pip install -U 'jax[cuda12]>=0.5.2', TPU: 'jax[tpu]>=0.5.2', "
            "CPU: 'jax>=0.5.2'), restart the runtime, and run this cell again.")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("".join(f"{name}=={version}\\n" for name, version in pins.items()))
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "lucid-jax[notebooks]", "--constraint", constraints.name])
    importlib.invalidate_caches()'''


INSTALL_MARKER = "# Install lucid-jax only when it is missing"  # how an install cell starts


def repository() -> str:
    """``owner/name`` of the GitHub repository, from pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        url = tomllib.load(f)["project"]["urls"]["Repository"]
    return url.removeprefix("https://github.com/").rstrip("/")


def badge(path: Path) -> str:
    """The "Open in Colab" badge for ``notebooks/<path.name>`` on the main branch."""
    target = f"https://colab.research.google.com/github/{repository()}/blob/main/notebooks/{path.name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({target})"


def results_cell() -> str:
    return ("# Copied from benchmarks/RESULTS.md by `make notebooks` (measured by `make bench`).\n"
            f'RESULTS_MD = """\\\n{RESULTS.read_text().strip()}\n"""')


def normalise(nb: nbformat.NotebookNode, path: Path) -> None:
    """Badge on top, the install cell first among code cells, benchmark results filled in."""
    first = nb.cells[0]
    if first.cell_type != "markdown":
        raise ValueError(f"{path.name}: the first cell must be markdown (title and badge)")
    lines = [line for line in first.source.splitlines() if "colab-badge.svg" not in line]
    first.source = "\n".join([badge(path), "", *lines]).replace("\n\n\n", "\n\n").rstrip()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    if not code:
        raise ValueError(f"{path.name}: no code cell to follow the install cell")
    if code[0].source.startswith(INSTALL_MARKER):
        code[0].source = INSTALL_CELL  # an older version of the install cell
    else:
        nb.cells.insert(nb.cells.index(code[0]), nbformat.v4.new_code_cell(INSTALL_CELL))
    for cell in code:
        if RESULTS_TAG in cell.metadata.get("tags", []):
            cell.source = results_cell()


def strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Remove what changes between runs and machines; keep outputs and execution counts."""
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.setdefault("colab", {"provenance": []})
    nb.metadata.pop("widgets", None)


def kernel_spec_manager(directory: Path, python: str = sys.executable):
    """A kernelspec for ``python`` (CPU unless JAX_PLATFORMS says otherwise)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = directory / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({python})",
        "language": "python",
        "env": {"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(directory)])


def execute(nb: nbformat.NotebookNode, workdir: Path, kernels: Path,
            python: str = sys.executable) -> None:
    """Run every cell in order in ``workdir`` on ``python``'s kernel; raises CellExecutionError
    on the first error."""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    km = KernelManager(kernel_name=KERNEL_NAME,
                       kernel_spec_manager=kernel_spec_manager(kernels, python))
    client = NotebookClient(nb, km=km, timeout=300, allow_errors=False,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    finally:  # nbclient leaves a kernel it was handed running
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def machine_paths() -> list[str]:
    """Strings that would tie a stored output to this machine."""
    home = os.path.expanduser("~")
    return sorted({str(ROOT), sys.prefix, home if home != "/" else str(ROOT), "site-packages",
                   tempfile.gettempdir() + "/"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--no-execute", action="store_true",
                        help="only normalise the badge, install cell and benchmark cells")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            normalise(nb, path)
            if not args.no_execute:
                start = time.perf_counter()
                execute(nb, Path(scratch), Path(scratch) / "kernels")
                print(f"{path.name}: executed in {time.perf_counter() - start:.0f} s", flush=True)
            strip_volatile(nb)
            nbformat.validate(nb)
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
