"""The package layout and the install metadata agree.

Issue 12, item 6: what an install gives a user is checked, not only attribute names: the
installed distribution's version is the package's, its console script resolves to the
Typer app of pyproject.toml and runs ``--help``, the extras of pyproject.toml are
declared, and every dataset card on disk ships inside the package and loads.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from importlib import metadata, resources
from pathlib import Path

import tabinv
from tabinv.data.registry import builtin_card

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HANG_GUARD = 900  # seconds: a hang, never a speed limit
COMMANDS = ("assess", "attack", "train", "sweep", "batch", "report", "datasets", "demo",
            "inventory", "schema")


def _name(requirement: str) -> str:
    """The project name of a requirement string, normalised (PEP 503)."""
    for stop in "<>=!~[;( ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower().replace("_", "-").replace(".", "-")


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {"tabinv." + ".".join(p.parent.relative_to(ROOT / "tabinv").parts)
               for p in (ROOT / "tabinv").rglob("__init__.py")}
    on_disk = {name.rstrip(".") for name in on_disk} | {"tabinv._cards"}
    assert on_disk == listed


def test_item6_every_card_on_disk_is_package_data_ships_and_loads():
    """item 6: every card in datasets/ matches the package-data patterns of
    tabinv._cards, is found inside the installed package, and loads by its name."""
    on_disk = {p.name for p in (ROOT / "datasets").glob("*.toml")}
    assert {"iwpc.toml", "gss.toml", "genomic.toml"} <= on_disk
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["tabinv._cards"]
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns) for name in on_disk)
    shipped = {p.name for p in resources.files("tabinv._cards").iterdir()
               if p.name.endswith(".toml")}
    assert shipped == on_disk
    for name in sorted(on_disk):
        assert builtin_card(name.removesuffix(".toml")).name == name.removesuffix(".toml")


def test_item6_installed_version_is_the_package_version():
    """item 6: the installed metadata, the package and pyproject.toml give one version."""
    assert metadata.version("tabinv") == tabinv.__version__
    if "version" not in PYPROJECT["project"].get("dynamic", []):
        assert PYPROJECT["project"]["version"] == tabinv.__version__


def test_item6_extras_and_requirements_are_declared():
    """item 6: the installed metadata declares pyproject's extras and the requirements of
    each (so `pip install tabinv[test]` brings pytest-xdist, used by `make test`)."""
    installed = metadata.metadata("tabinv")
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(installed.get_all("Provides-Extra")) == set(extras)
    requires = installed.get_all("Requires-Dist")
    for extra, wanted in extras.items():
        declared = {_name(r) for r in requires if f'extra == "{extra}"' in r}
        assert declared == {_name(r) for r in wanted}, extra
    plain = {_name(r) for r in requires if "extra ==" not in r}
    assert plain == {_name(r) for r in PYPROJECT["project"]["dependencies"]}


def test_item6_console_script_resolves_and_runs_help():
    """item 6: the `tabinv` console script points where pyproject.toml says, resolves to
    the Typer app, and the installed script runs `--help` listing every command."""
    [script] = [e for e in metadata.entry_points(group="console_scripts")
                if e.name == "tabinv" and e.dist is not None and e.dist.name == "tabinv"]
    assert script.value == PYPROJECT["project"]["scripts"]["tabinv"] == "tabinv.cli:app"
    from tabinv.cli import app

    assert script.load() is app
    executable = Path(sys.executable).parent / "tabinv"
    assert executable.is_file(), executable
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
                   "COLUMNS": "200", "NO_COLOR": "1"}
    completed = subprocess.run([str(executable), "--help"], capture_output=True, text=True,
                               env=environment, timeout=HANG_GUARD, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "Usage: tabinv [OPTIONS] COMMAND [ARGS]..." in completed.stdout
    listed = {line.strip("│ ").split(" ", 1)[0] for line in completed.stdout.splitlines()}
    assert set(COMMANDS) <= listed, completed.stdout


def test_public_names():
    """Every name of ``tabinv.__all__`` is what ``from tabinv import *`` gives, and is
    defined in tabinv (not a stray re-export)."""
    namespace: dict[str, object] = {}
    exec("from tabinv import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(tabinv.__all__)
    for name in tabinv.__all__:
        value = getattr(tabinv, name)
        if name != "__version__":
            assert value.__module__.startswith("tabinv."), name
