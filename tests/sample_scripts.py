"""The sample generators in ``scripts/`` (not a package), loaded as modules for tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` as module ``name`` (registered so sibling imports reuse it)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def assert_script_remakes(name: str, sample: Path, out: Path) -> None:
    """Running ``scripts/<name>.py`` into ``out`` makes exactly the files in ``sample``, byte for
    byte (the committed sample is what its generator makes)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), str(out)], check=True,
                   cwd=ROOT, capture_output=True)
    made = sorted(p.name for p in out.iterdir())
    assert made == sorted(p.name for p in sample.iterdir())
    for file in made:
        assert (out / file).read_bytes() == (sample / file).read_bytes(), file
