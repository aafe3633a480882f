"""Packaging: the wheel carries the package, assets/ and examples/, and works installed elsewhere.

Builds the wheel offline (``pip wheel --no-build-isolation``: hatchling must be installed, it
is in requirements-dev.txt), installs it with ``--no-index`` into a fresh venv that sees this
environment's packages, and runs it from a directory where the checkout is not importable.
The same for an editable install, which must find the checkout's own data folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # builds and installs the wheel (minutes); CI runs it, `-m "not slow"` skips it

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (pip install -r requirements-dev.txt)")


def _run(cmd: list[str], cwd: Path, timeout: int = 300) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _venv(path: Path) -> Path:
    """A fresh venv that sees this interpreter's site-packages (torch, pip) but not the checkout."""
    venv.create(path, system_site_packages=True, with_pip=False)
    return path / ("Scripts" if os.name == "nt" else "bin") / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), "."], ROOT)
    wheels = list(out.glob("taskvec-*.whl"))
    assert len(wheels) == 1, f"expected one taskvec wheel in {out}, found {wheels}"
    return wheels[0]


def test_wheel_holds_package_and_data(wheel):
    import taskvec

    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("taskvec/_bundled/assets/tasks/country-capital.json", "taskvec/_bundled/assets/tasks/build_tasks.py",
              "taskvec/_bundled/assets/organism/model.safetensors", "taskvec/_bundled/examples/flags/France.png"):
        assert f in names, f"{f} missing from {wheel.name}"
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "taskvec").rglob("*.py") if "__pycache__" not in p.parts}
    assert sources - names == set(), f"modules missing from the wheel: {sorted(sources - names)}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert wheel.name.startswith(f"taskvec-{taskvec.__version__}-")
    # every shipped flag and task file, not only the three named ones
    for folder, bundled in (("assets", "taskvec/_bundled/assets"), ("examples", "taskvec/_bundled/examples")):
        files = {f"{bundled}/{p.relative_to(ROOT / folder).as_posix()}" for p in (ROOT / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
        assert files - names == set(), f"{folder}/ files missing: {sorted(files - names)[:5]}"


def test_wheel_metadata_matches_requirements(wheel):
    from packaging.requirements import Requirement

    z = zipfile.ZipFile(wheel)
    meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    declared = {str(Requirement(line.split(":", 1)[1].strip())) for line in meta.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line}
    wanted = {str(Requirement(line.strip())) for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith(("#", "-"))}
    assert declared == wanted, f"pyproject dependencies differ from requirements.txt: {declared ^ wanted}"
    assert "Requires-Python: >=3.10" in meta
    entry_points = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "taskvec = taskvec.cli:main" in entry_points


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    python = _venv(tmp_path / "venv")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        "import sys, taskvec, taskvec.data.resources as r\n"
        "from taskvec.data.tasks import load_task\n"
        "assert 'torch' not in sys.modules, 'import taskvec pulled in torch'\n"
        "print(taskvec.__file__); print(r.tasks_dir()); print(r.flags_dir())\n"
        "t = load_task('country-capital'); print(len(t.items), t.items[0].input)\n"
        "m = taskvec.load('organism'); print(m.generate('Spain').text)\n"
    )
    lines = _run([str(python), "-c", script], elsewhere).splitlines()
    venv_dir = (tmp_path / "venv").resolve()
    for path in lines[:3]:
        assert Path(path).resolve().is_relative_to(venv_dir), f"{path} is not inside the venv {venv_dir}"
    assert Path(lines[1]).name == "tasks" and "_bundled" in Path(lines[1]).parts
    assert lines[3].startswith("130 "), lines[3]
    assert lines[4].strip(), "the organism gave no answer from the installed wheel"
    help_text = _run([str(python.parent / "taskvec"), "--help"], elsewhere)
    assert "run" in help_text and "eval" in help_text


def test_editable_install_finds_the_checkout_folders(tmp_path):
    python = _venv(tmp_path / "venv")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation", "-e", str(ROOT)],
         tmp_path)
    out = _run([str(python), "-c", "import taskvec, taskvec.data.resources as r; print(taskvec.__file__); "
                "print(r.tasks_dir()); print(r.flags_dir())"], tmp_path).splitlines()
    assert Path(out[0]).resolve() == (ROOT / "taskvec" / "__init__.py").resolve()
    assert Path(out[1]).resolve() == (ROOT / "assets" / "tasks").resolve()
    assert Path(out[2]).resolve() == (ROOT / "examples" / "flags").resolve()
