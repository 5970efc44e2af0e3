"""The examples run, and type-check under ``mypy --strict``.

Every ``python/examples/*.py`` that needs no command-line argument runs with this
interpreter and must exit 0 within 60 s. An example needs arguments when its source reads
``sys.argv[1...]`` or declares a required ``argparse`` argument (a positional one without
``nargs="?"``/``"*"`` or a default, or ``required=True``); those are listed and skipped.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
EXAMPLES = PYTHON_DIR / "examples"


def needs_arguments(path: Path) -> bool:
    """Whether the example cannot run without command-line arguments (by its source)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        # sys.argv[1], sys.argv[2:] ...
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "sys.argv":
            index = node.slice
            if isinstance(index, ast.Constant) and isinstance(index.value, int) and index.value >= 1:
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            required = keywords.get("required")
            if isinstance(required, ast.Constant) and required.value is True:
                return True
            first = node.args[0] if node.args else None
            name = first.value if isinstance(first, ast.Constant) else None
            positional = isinstance(name, str) and not name.startswith("-")
            nargs = keywords.get("nargs")
            optional = "default" in keywords or (isinstance(nargs, ast.Constant) and nargs.value in ("?", "*"))
            if positional and not optional:
                return True
    return False


ALL = sorted(EXAMPLES.glob("*.py"))
RUNNABLE = [p for p in ALL if not needs_arguments(p)]


def test_there_are_examples() -> None:
    assert (EXAMPLES / "sansio_loop.py") in RUNNABLE


def test_needs_arguments_detection(tmp_path: Path) -> None:
    cases = {
        "import sys\nprint(sys.argv[1])\n": True,
        "import sys\nprint(sys.argv[0])\n": False,
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('addr')\n": True,
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('addr', nargs='?')\n": False,
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--n', type=int, default=3)\n": False,
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--peer', required=True)\n": True,
    }
    for i, (source, expected) in enumerate(cases.items()):
        path = tmp_path / f"case{i}.py"
        path.write_text(source)
        assert needs_arguments(path) is expected, source


@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_example_runs(path: Path) -> None:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, f"{path.name} exited {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_sansio_loop_prints_the_remote_peer_id() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "sansio_loop.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dialer: remote PeerId 12D3KooW" in out
    assert "listener: received b'hello from the dialer, through Noise'" in out
    assert "dialer: received b'got 36 bytes'" in out


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_examples_type_check_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"), "examples"],
        cwd=PYTHON_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout
