"""``docs/architecture.md`` names real files: every path it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"


def test_every_cited_path_exists():
    text = PAGE.read_text()
    cited = set(re.findall(r"`((?:lucid_jax|lucid|tests)/[\w/.]+)`", text))
    assert len(cited) >= 15, sorted(cited)
    missing = sorted(path for path in cited if not (ROOT / path).exists())
    assert not missing, missing


def test_the_shorthand_file_names_exist_where_the_table_puts_them():
    """Table rows write ``_flax_shared.py`` after ``lucid_jax/linen.py``: check those too."""
    text = PAGE.read_text()
    for name in re.findall(r"`(_\w+\.py)`", text):
        assert any(ROOT.glob(f"lucid*/**/{name}")), name
