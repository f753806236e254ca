"""Item 1 of issue 12: an attack is one file. The registry finds every module of
``tabinv.attacks`` with an ``@register`` class; nothing else names the attacks (the CLI
help, ``all``, specs and parameters read the registry)."""

from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import tabinv.attacks
from tabinv.attacks.base import BaseAttack
from tabinv.attacks.registry import ATTACKS, attack_names, register
from tabinv.attacks.specs import AttackSpec, expand_specs
from tabinv.cli.options import attack_help
from tabinv.exceptions import AttackError

PACKAGE = Path(tabinv.attacks.__file__).parent


def registered_in_source() -> dict[str, tuple[str, str]]:
    """attack name -> (module file, class) of every ``@register`` class in the package's
    source, private modules included."""
    found = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(d, ast.Name) and d.id == "register"
                    for d in node.decorator_list):
                names = [s.value.value for s in node.body if isinstance(s, ast.Assign)
                         and any(isinstance(t, ast.Name) and t.id == "name" for t in s.targets)
                         and isinstance(s.value, ast.Constant)]
                assert len(names) == 1, f"{path.name}: {node.name} sets no name of its own"
                found[names[0]] = (path.name, node.name)
    return found


def test_item1_every_register_in_the_source_is_in_the_registry() -> None:
    in_source = registered_in_source()
    assert len(in_source) >= 6
    assert sorted(in_source) == attack_names()
    for name, (module, cls) in in_source.items():
        assert not module.startswith("_"), f"{module}: private modules are not searched"
        assert ATTACKS[name].__name__ == cls
        assert ATTACKS[name].__module__ == f"tabinv.attacks.{module[:-3]}"


NEW_ATTACK = '''
import numpy as np
from numbers import Real

from tabinv.attacks.base import BaseAttack
from tabinv.attacks.candidates import Posterior
from tabinv.attacks.registry import register
from tabinv.params import Interval


@register
class Uniform(BaseAttack):
    """Every candidate equally likely (a test attack)."""

    name = "uniform-test"
    requires = ("output", "confidence", "label")
    parameters = {"weight": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, *, weight: float = 1.0) -> None:
        self.weight = weight

    def _fit(self, reference):
        pass

    def _infer(self, records, y):
        k = self.candidates_.size
        return Posterior(self.candidates_, np.full((len(records), k), 1 / k), self.name)
'''


@pytest.fixture
def new_attack_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new attack in one file, in a folder that is part of the package."""
    (tmp_path / "uniformtest.py").write_text(textwrap.dedent(NEW_ATTACK), encoding="utf-8")
    monkeypatch.setattr(tabinv.attacks, "__path__", [*tabinv.attacks.__path__, str(tmp_path)])
    monkeypatch.setattr(ATTACKS, "_classes", dict(ATTACKS._classes))
    monkeypatch.setattr(ATTACKS, "_discovered", False)
    yield "uniform-test"
    sys.modules.pop("tabinv.attacks.uniformtest", None)


def test_item1_a_new_attack_needs_only_its_module(new_attack_module: str) -> None:
    name = new_attack_module
    assert name in attack_names()
    assert name in attack_help()
    specs = expand_specs(["all"], ["marginal"], params={name: {"weight": 2.0}})
    [spec] = [s for s in specs if s.name == name]
    assert spec.optional and spec.build(random_state=0).get_params() == {"weight": 2.0}
    with pytest.raises(AttackError, match=f"^{name}: weight must be a float in \\[0, inf\\), "
                       "got -1$"):
        AttackSpec(name, params={"weight": -1})


def test_item1_the_cli_help_names_every_registered_attack() -> None:
    assert f"({', '.join(attack_names())})" in attack_help()


def test_item1_register_refuses_what_would_hide_an_attack(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ATTACKS, "_classes", dict(ATTACKS._classes))

    class Inherited(ATTACKS["map"]):  # type: ignore[misc,valid-type]
        pass  # no name of its own: would replace map

    with pytest.raises(TypeError, match="must set its own class attribute 'name'"):
        register(Inherited)

    class Clash(ATTACKS["map"]):  # type: ignore[misc,valid-type]
        name = "csmia"

    with pytest.raises(TypeError, match="attack name 'csmia' .* is already taken by "
                       "tabinv.attacks.csmia.CSMIA"):
        register(Clash)
    with pytest.raises(TypeError, match="takes a BaseAttack subclass"):
        register(object)  # type: ignore[arg-type]
    assert ATTACKS["csmia"].__module__ == "tabinv.attacks.csmia"
    assert issubclass(ATTACKS["map"], BaseAttack)


def test_item1_unknown_attacks_are_refused_with_the_registered_ones() -> None:
    with pytest.raises(AttackError, match="^unknown attack 'mapp' \\(did you mean 'map'\\?\\); "
                       f"attacks are: {', '.join(attack_names())}$"):
        expand_specs(["mapp"], None)
