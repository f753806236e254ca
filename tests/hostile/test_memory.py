"""Item 6 (first part): ``--memory`` bounds the attack for any number of candidates.

The grid, one record's chunks and the (n, K) posteriors are sized before anything is
allocated; what cannot fit is refused in one line with the numbers. Budgets are small
(MiB) so that refusals and one-record chunks happen on small data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.attacks.map import MAPInversion
from tabinv.cli import app
from tabinv.data.schema import read_card
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.models.persist import save_model


def _wide(tmp_path: Path, columns: int, values: int = 30, rows: int = 120
          ) -> tuple[Path, Path, pd.DataFrame]:
    """A card and table with ``columns`` sensitive columns of ``values`` values each."""
    rng = np.random.default_rng(0)
    names = [f"s{i}" for i in range(columns)]
    domain = [f"v{j}" for j in range(values)]
    lines = ['name = "wide"', 'title = "wide"', 'label = "y"',
             f"features = {['age', *names]!r}".replace("'", '"'),
             f"sensitive = {names!r}".replace("'", '"'),
             "[columns.age]", 'kind = "numeric"', "bounds = [0, 100]",
             "[columns.y]", 'kind = "categorical"', 'domain = ["no", "yes"]']
    frame = pd.DataFrame({"age": rng.integers(0, 100, rows)})
    for name in names:
        lines += [f"[columns.{name}]", 'kind = "categorical"',
                  f"domain = {domain!r}".replace("'", '"')]
        frame[name] = np.asarray(domain)[rng.integers(0, values, rows)]
    frame["y"] = np.where(rng.random(rows) < 0.5, "yes", "no")
    (tmp_path / "card.toml").write_text("\n".join(lines) + "\n")
    frame.to_csv(tmp_path / "data.csv", index=False)
    return tmp_path / "card.toml", tmp_path / "data.csv", frame


def _model(tmp_path: Path, columns: int, values: int = 30) -> tuple[object, pd.DataFrame]:
    card_path, _, frame = _wide(tmp_path, columns, values)
    model = make_model("logistic", read_card(card_path)).fit(frame)
    return model, frame


@pytest.mark.parametrize("columns", [4, 5, 10, 13])
def test_item6_huge_joint_candidates_are_refused_from_sizes(tmp_path: Path,
                                                            columns: int) -> None:
    """item 6: 30^4, 30^5 and 30^10 joint candidates are refused with the numbers before
    any table over the candidates exists (30^10 would be a 4.20 PiB prior); 30^13 is
    more than an int64 holds and is still counted exactly."""
    model, frame = _model(tmp_path, columns)
    names = [f"s{i}" for i in range(columns)]
    attack = MAPInversion(memory=256 << 20)
    with pytest.raises(AttackError) as caught:
        attack.fit(Oracle.for_model(model), sensitive=names, known=["age"], reference=frame)
    message = str(caught.value)
    assert f"{30 ** columns:,} joint candidates" in message
    assert "256 MiB" in message and "needs" in message and "to narrow it" in message
    assert "\n" not in message


def test_item6_cli_refuses_in_one_line_exit_2(tmp_path: Path) -> None:
    """item 6: `tabinv attack` with 30^4 candidates: one line on stderr, exit code 2."""
    model, frame = _model(tmp_path, 4)
    save_model(model, tmp_path / "m.skops")
    sensitive = [arg for i in range(4) for arg in ("--sensitive", f"s{i}")]
    result = CliRunner().invoke(app, [
        "attack", "--model", str(tmp_path / "m.skops"), "--data", str(tmp_path / "data.csv"),
        "--reference", str(tmp_path / "data.csv"), "--label", "y", *sensitive,
        "--memory", "256MiB"])
    assert result.exit_code == 2, result.output
    assert "810,000 joint candidates" in result.output
    assert "Traceback" not in result.output


def test_item6_posteriors_over_the_budget_are_refused_before_inference(tmp_path: Path
                                                                      ) -> None:
    """item 6: the grid fits, but n x K posteriors do not: refused with the records'
    count and "attack fewer records", before the grid is queried."""
    model, frame = _model(tmp_path, 2)  # K = 900
    attack = MAPInversion(memory=5 << 20).fit(Oracle.for_model(model), sensitive=["s0", "s1"],
                                              known=["age"], reference=frame)
    with pytest.raises(AttackError, match=r"360 records over 900 joint candidates needs .*"
                                          r"attack fewer records"):
        attack.infer(pd.concat([frame] * 3, ignore_index=True))


def test_item6_one_record_chunks_give_the_same_answer(tmp_path: Path) -> None:
    """item 6: at the least budget that fits, chunks hold one record, and the posterior
    is the one of an unbounded run; a byte less is refused."""
    model, frame = _model(tmp_path, 2, values=12)  # K = 144
    oracle = Oracle.for_model(model, shortcuts=False)  # the model queried on every row
    fit = {"sensitive": ["s0", "s1"], "known": ["age"], "reference": frame}
    whole = MAPInversion(memory=1 << 30).fit(oracle, **fit).infer(frame).probabilities
    attack = MAPInversion(memory=1 << 30).fit(oracle, **fit)
    least = attack.memory_needed(len(frame))
    assert least < 4 << 20  # small data: a few MiB
    attack.set_params(memory=least)
    grid = attack.grid_
    assert grid.chunk_size(grid.point_width(oracle), least, attack.reserved_bytes(120)) == 1
    np.testing.assert_allclose(attack.infer(frame).probabilities, whole, rtol=0, atol=1e-12)
    with pytest.raises(AttackError, match="memory budget"):
        attack.set_params(memory=least - 1).infer(frame)


def test_item6_a_conditional_prior_table_is_sized_first(tmp_path: Path) -> None:
    """item 6: a prior conditioned on given columns is a (groups x K) table: refused
    from the sizes when it cannot fit."""
    model, frame = _model(tmp_path, 4, values=12)  # K = 144 (s0, s1); s2, s3 given
    attack = MAPInversion(prior="conditional", prior_given=["s2", "s3"], memory=400_000)
    with pytest.raises(AttackError, match=r"prior's table for 144 groups of s2, s3 over 144 "):
        attack.fit(Oracle.for_model(model), sensitive=["s0", "s1"], known=["age", "s2", "s3"],
                   reference=frame)


def test_item6_a_batch_entry_over_the_budget_is_a_one_line_failure(tmp_path: Path) -> None:
    """item 6: in a batch, the refused entry is recorded as a one-line failure with the
    numbers (entries use the default 1 GiB budget: 30^4 candidates need more)."""
    from tabinv.api import run_inventory

    model, _ = _model(tmp_path, 4)
    save_model(model, tmp_path / "m.skops")
    (tmp_path / "inventory.toml").write_text(
        '[[entry]]\nname = "wide"\nmodel = "m.skops"\ndata_file = "data.csv"\n'
        'card = "card.toml"\nsensitive = [["s0", "s1", "s2", "s3"]]\n')
    result = run_inventory(tmp_path / "inventory.toml", tmp_path / "out", executor="serial")
    assert result.failed == 1
    (name, error), = result.failures
    assert name == "wide" and "\n" not in error
    assert "810,000 joint candidates" in error and "1 GiB" in error


def test_item6_scoring_810000_candidates_needs_no_k_by_k_table() -> None:
    """item 6: scoring a posterior over 30^4 joint candidates: no K x K confusion (5 TB),
    per-value rows only for the values that occur, AUC over the values present."""
    from tabinv.attacks.candidates import Candidates, Posterior
    from tabinv.evaluation.results import score_posterior

    domain = [f"v{j}" for j in range(30)]
    candidates = Candidates.from_domains({f"s{i}": domain for i in range(4)})
    rng = np.random.default_rng(0)
    probabilities = rng.random((6, candidates.size))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    truth = np.array([0, 5, 5, 809_999, 123_456, 7])
    probabilities[np.arange(3), truth[:3]] = 1.0  # three records recovered exactly
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    joint = score_posterior(Posterior(candidates, probabilities, "map"), truth,
                            population="given", n_boot=20)[-1]
    assert joint.sensitive == "s0+s1+s2+s3" and joint.confusion == ()
    shown = {row["value"] for row in joint.per_value}
    assert candidates.label(809_999) in shown and len(shown) <= 12
    assert joint.metrics["accuracy"].value == 0.5
    assert 0.0 <= joint.metrics["auc"].value <= 1.0
