"""One inventory entry: the formats and access levels it may name, and the Entry record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..attacks.specs import DEFAULT_ATTACKS, DEFAULT_PRIORS
from ..evaluation.smallcells import DEFAULT_MIN_CELL
from ..models.formats import model_format, model_formats
from ..vocabulary import ACCESS_LEVELS

if TYPE_CHECKING:
    from ..data.tables import DataOptions

__all__ = ["ACCESS", "ENTRY_ONLY", "FILE_FORMATS", "FORMATS", "FORMAT_KEYS", "LIMIT_KEYS",
           "MEMBERSHIP_KEYS", "MLFLOW", "ONNX_KEYS", "PATH_KEYS", "PICKLE_FORMATS",
           "SUFFIX_FORMATS", "Entry"]


# the model file formats, their suffixes and which run code: tabinv.models.formats
FILE_FORMATS = tuple(f.name for f in model_formats())


#: the ``format`` of an MLflow model directory or ``models:/`` registry URI
MLFLOW = "mlflow"


FORMATS = (*FILE_FORMATS, MLFLOW)


PICKLE_FORMATS = tuple(f.name for f in model_formats() if f.runs_code)


ACCESS = tuple(ACCESS_LEVELS)  # the one access vocabulary (tabinv.vocabulary)


SUFFIX_FORMATS = {suffix: f.name for f in model_formats() for suffix in f.suffixes}


#: keys that must be written in each entry: its name, and the opt-ins that let a model
#: file run code (never inherited from [defaults])
ENTRY_ONLY = ("name", "allow_pickle", "trust", "allow_code")


#: files (and the model: a file, a directory or a registry URI) relative to the inventory
PATH_KEYS = ("model", "data_file", "card", "prior_table", "members", "non_members",
             "reference")


#: the owner's word on which records trained the model (tabinv.core.inputs.given_splits)
MEMBERSHIP_KEYS = ("members", "non_members", "reference", "member_column")


#: inventory keys that apply to one model format only, with that format
FORMAT_KEYS = {key: f.name for f in model_formats() for key in f.option_keys}


ONNX_KEYS = model_format("onnx").option_keys


LIMIT_KEYS = ("timeout", "memory")  # how the entry runs, not what it computes: not in its key


@dataclass(frozen=True)
class Entry:
    """One validated inventory entry, with defaults applied and paths resolved."""

    name: str
    model: Path | str | None
    format: str
    label: str
    sensitive: tuple[tuple[str, ...], ...]
    data: str | None = None
    data_params: Mapping[str, Any] = field(default_factory=dict)
    data_file: Path | None = None
    card: Path | None = None
    known: tuple[str, ...] | None = None
    access: str = "confidences"
    decimals: int | None = None
    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    attack_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    priors: tuple[str, ...] = DEFAULT_PRIORS
    prior_table: Path | None = None
    label_source: str = "true"
    seed: int = 0
    n_boot: int = 200
    positive: Mapping[str, Any] = field(default_factory=dict)
    top_k: int = 100
    min_cell: int = DEFAULT_MIN_CELL
    allow_pickle: bool = False
    trust: bool = False
    allow_code: bool = False
    members: Path | None = None
    non_members: Path | None = None
    reference: Path | None = None
    member_column: str | None = None
    feature_map: Mapping[str, str] = field(default_factory=dict)
    classes: tuple[Any, ...] | None = None
    onnx_encoding: str = "onehot"
    onnx_classes: tuple[Any, ...] | None = None
    onnx_output: str | None = None
    description: str = ""
    ignore_columns: tuple[str, ...] = ()
    clip: bool = False
    allow_out_of_bounds: bool = False
    membership_attacks: tuple[str, ...] | None = None  # also run these (issue 18)
    shadows: int = 16
    timeout: float | None = None
    memory: int | None = None
    endpoint: str | None = None  # a model server's URL instead of a model (endpointkeys)
    protocol: str | None = None
    model_name: str | None = None
    auth_env: str | None = None  # the NAME of the variable holding the token
    batch_rows: int | None = None
    concurrency: int | None = None
    max_queries: int | None = None
    retries: int | None = None

    def files(self) -> dict[str, Path]:
        """The files this entry reads besides its model, by key."""
        return {key: getattr(self, key) for key in PATH_KEYS
                if key != "model" and getattr(self, key) is not None}

    @property
    def is_endpoint(self) -> bool:
        """Whether the entry queries a model server instead of reading a model."""
        return self.endpoint is not None

    @property
    def given_membership(self) -> bool:
        """Whether the owner says which records trained the model (else tabinv splits the
        data at random, as for a model it trained)."""
        return self.members is not None or self.member_column is not None

    def settings(self) -> dict[str, Any]:
        """Every setting except file paths (their bytes are hashed instead) and the
        limits it runs under, JSON-ready."""
        from .endpointkeys import RUN_KEYS

        values = {name: getattr(self, name) for name in self.__dataclass_fields__
                  if name not in (*PATH_KEYS, *LIMIT_KEYS, *RUN_KEYS)}
        values["sensitive"] = [list(group) for group in self.sensitive]
        for name in ("data_params", "positive", "feature_map"):
            values[name] = dict(values[name])
        values["attack_params"] = {k: dict(v) for k, v in self.attack_params.items()}
        for name in ("known", "attacks", "priors", "onnx_classes", "classes", "ignore_columns",
                     "membership_attacks"):
            values[name] = None if values[name] is None else list(values[name])
        return values

    def data_options(self) -> DataOptions:
        """How the entry's data_file is checked against its card."""
        from ..data.tables import DataOptions

        return DataOptions.from_flags(self.ignore_columns, clip=self.clip,
                                      allow_out_of_bounds=self.allow_out_of_bounds)

    @property
    def data_name(self) -> str:
        return self.data if self.data is not None else str(self.data_file.name
                                                           if self.data_file else "")
