"""`python -m lucid_jax` (the tour behind `make demo`) and the import boundaries."""

from __future__ import annotations

import subprocess
import sys

import lucid_jax.__main__ as tour


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)


def test_tour_passes_and_reports():
    result = _run("-m", "lucid_jax")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    assert "devices: cpu" in result.stdout.lower() or "devices:" in result.stdout


def test_tour_exits_non_zero_on_a_mismatch(monkeypatch, capsys):
    monkeypatch.setattr(tour, "self_check", lambda: [("a broken case", 1.0, 1e-4)])
    assert tour.main() == 1
    captured = capsys.readouterr()
    assert "FAIL a broken case" in captured.out
    assert "1 check(s) FAILED" in captured.err


def test_core_import_does_not_import_flax_or_lucid():
    code = ("import sys, lucid_jax; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flax', 'lucid')))")
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
