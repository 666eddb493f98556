"""Sphinx configuration: ``make docs`` builds docs/_build/html with warnings as errors.

Why Sphinx (autodoc + napoleon + myst-nb) and not mkdocs (mkdocstrings + mkdocs-jupyter): the
docstrings are reStructuredText with Google-style sections (``:func:`` roles, double-backtick
literals, ``Args:``/``Returns:``, doctest blocks). autodoc and napoleon render exactly that;
mkdocstrings expects Markdown and would print the roles as raw text. myst-nb renders the
notebooks with the outputs they are stored with (``nb_execution_mode = "off"``: the build never
executes them; ``make notebooks`` does) and reads the Markdown pages. ``-W`` makes a malformed
docstring or a broken cross-reference fail the build, and the suite runs the build.

``docs/notebooks`` is a link to ``../notebooks``: every notebook there becomes a page.
"""

from __future__ import annotations

import lucid_jax

project = "lucid-jax"
author = "lucid-jax contributors"
copyright = "2026, lucid-jax contributors"  # noqa: A001 (Sphinx's name)
version = release = lucid_jax.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    # Linen dataclass fields whose defaults are JAX functions (their docstrings are JAX's).
    "exclude-members": "bias_init, scale_init, param_dtype, parent, name",
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True            # "Attributes:" as fields, not duplicate object entries

nb_execution_mode = "off"          # notebooks are stored with outputs; never run at build time
myst_heading_anchors = 3           # [text](#a-heading) links in the Markdown pages

html_theme = "furo"
html_title = f"lucid-jax {release}"
