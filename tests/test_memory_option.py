"""``--memory``: sizes are parsed with their units and the budget reaches the attacks.

Issue 12, item 6: the command runs for real (no stand-in for the library): a budget too
small for an attack is refused by that attack with its numbers, a sufficient one runs and
changes no result, the default budget is 1 GiB, and a size that does not parse exits 2
with one line.
"""

from __future__ import annotations

import json

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.exceptions import TabinvError
from tabinv.utils import parse_bytes

MAP = ("assess", "-s", "vkorc1", "--attack", "map", "--prior", "marginal")
#: 14 genotypes hidden jointly: 3**14 = 4,782,969 candidates per record
GENOMIC = ("assess", "--dataset", "genomic", "--people", "200", "--snps", "20", "-m",
           "logistic", "--attack", "map", "--prior", "marginal",
           *(option for i in range(1, 15) for option in ("-s", f"snp_{i:05d}")))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def refusal(result: Result) -> str:
    """The one line a refused command prints on stderr (exit code 2, no traceback)."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(("text", "size"), [
    ("1GiB", 2**30), ("512MiB", 512 * 2**20), ("2GB", 2 * 10**9), ("1.5g", 1_500_000_000),
    ("4096", 4096), (" 64 kib ", 65_536)])
def test_sizes_with_units(text: str, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "1 parsec", "-5MiB", "0.1"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(TabinvError, match="size"):
        parse_bytes(text)


def test_item6_a_small_budget_is_refused_by_the_attack_with_its_numbers() -> None:
    """item 6: MAP over the 2,081 members (half of IWPC's 4,162 patients) and the three
    VKORC1 genotypes does not fit in 64 KiB; 1 KiB does not even hold the grid."""
    line = refusal(invoke(*MAP, "--memory", "64KiB"))
    assert line.startswith("error: map: the posteriors of 2,081 records over 3 joint "
                           "candidates needs "), line
    assert line.endswith("more than the memory budget of 64 KiB; to narrow it: attack "
                         "fewer records, infer fewer or smaller sensitive columns (or let "
                         "the attacker know more columns), or raise --memory"), line
    line = refusal(invoke(*MAP, "--memory", "1KiB"))
    assert line.startswith("error: the candidate grid (3 grid points of "), line
    assert "more than the memory budget of 1 KiB;" in line


def test_item6_a_sufficient_budget_runs_and_changes_no_number() -> None:
    """item 6: 1 MiB (about a thousandth of the default, so the records are scored in
    several chunks) runs, with the same results as the default budget."""
    tight = invoke(*MAP, "--memory", "1MiB", "--json")
    assert tight.exit_code == 0, tight.output
    default = invoke(*MAP, "--json")
    assert default.exit_code == 0, default.output
    tight_rows, default_rows = (json.loads(r.stdout)["results"] for r in (tight, default))
    assert {row["method"] for row in tight_rows} == {"map", "prior-mode", "imputation",
                                                     "ideal"}
    assert tight_rows == default_rows


def test_item6_the_default_budget_is_1_gib_and_the_option_replaces_it() -> None:
    """item 6: a grid of 3**14 candidates per record is refused under the default budget
    (1 GiB), and under --memory 2GiB with that number instead."""
    line = refusal(invoke(*GENOMIC))
    assert "(4,782,969 grid points of " in line and "over 4,782,969 joint candidates" in line
    assert "more than the memory budget of 1 GiB;" in line
    line = refusal(invoke(*GENOMIC, "--memory", "2GiB"))
    assert "more than the memory budget of 2 GiB;" in line


@pytest.mark.parametrize("text", ["1 parsec", "-5MiB", "GiB"])
def test_item6_a_size_that_does_not_parse_exits_2_with_one_line(text: str) -> None:
    line = refusal(invoke(*MAP, "--memory", text))
    assert line.startswith("error: ") and repr(text) in line and "size" in line, line
