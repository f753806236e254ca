"""Declarative parameter validation: constraints per parameter, checked where values enter.

An owner (an attack class, a public function) declares for each of its parameters the
constraints a valid value meets; :func:`validate` checks given values against them and
raises one line naming the owner, the parameter, what it takes and what it got::

    >>> from numbers import Integral, Real
    >>> constraints = {"smoothing": [Interval(Real, 0, None, closed="left")],
    ...                "confusion": [Options(str, ("bayes", "row"))],
    ...                "memory": [Interval(Integral, 1, None, closed="left"), None]}
    >>> validate("map", {"smoothing": 0.5, "memory": None}, constraints)
    >>> validate("csmia", {"smoothing": -1}, constraints)
    Traceback (most recent call last):
    ...
    tabinv.exceptions.TabinvError: csmia: smoothing must be a float in [0, inf), got -1

A value is valid when it meets at least one constraint of its parameter; ``None`` in the
list allows the value ``None``. Parameter names outside the constraints are refused,
listing the accepted ones. Modelled on scikit-learn's ``_parameter_constraints``
(``Interval``, ``StrOptions``, ``validate_parameter_constraints``), written here so that
tabinv relies on no private scikit-learn API and raises its own errors.

Attacks declare ``parameters`` (one entry per constructor parameter) and check them at
the start of ``fit``; the front ends check them earlier, when an
:class:`~tabinv.attacks.specs.AttackSpec` is made. :func:`validate_params` does the
same for a function's arguments.
"""

from __future__ import annotations

import functools
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, Literal, TypeAlias, TypeVar

import numpy as np

from .exceptions import TabinvError, closest
from .text import QUOTE_LIMIT, cap, shorten

__all__ = ["Constraint", "Constraints", "FrozenParams", "HasMethod", "InstanceOf", "Interval",
           "Options",
           "RANDOM_STATE", "SequenceOf", "check_names", "describe", "validate",
           "validate_params"]

Closed = Literal["left", "right", "both", "neither"]


class Constraint(ABC):
    """What a valid value of a parameter is; ``str()`` says it in words ("an int in ...")."""

    @abstractmethod
    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` meets the constraint."""

    @abstractmethod
    def __str__(self) -> str:
        """The constraint in words, to follow "must be"."""


class Interval(Constraint):
    """A number of a kind (``Integral`` or ``Real``) between bounds.

    Parameters
    ----------
    kind : numbers.Integral or numbers.Real
        Integral: ints (numpy's included). Real: any finite number (ints too). Booleans
        are neither.
    low, high : number or None
        Bounds; None is unbounded on that side.
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the interval.

    Examples
    --------
    >>> str(Interval(Integral, 1, None, closed="left"))
    'an int in [1, inf)'
    >>> Interval(Real, 0, 1, closed="neither").is_satisfied_by(1)
    False
    """

    def __init__(self, kind: type, low: float | None, high: float | None, *,
                 closed: Closed) -> None:
        if kind not in (Integral, Real):
            raise TypeError(f"Interval kind must be numbers.Integral or numbers.Real, "
                            f"not {kind!r}")
        if closed not in ("left", "right", "both", "neither"):
            raise TypeError(f"closed must be left, right, both or neither, not {closed!r}")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.kind):
            return False
        if not isinstance(value, Integral) and not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (
                value == self.low and self.closed not in ("left", "both"))):
            return False
        return self.high is None or value < self.high or (
            value == self.high and self.closed in ("right", "both"))

    def __str__(self) -> str:
        kind = "an int" if self.kind is Integral else "a float"
        left = "[" if self.low is not None and self.closed in ("left", "both") else "("
        right = "]" if self.high is not None and self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{kind} in {left}{low}, {high}{right}"


class Options(Constraint):
    """One of a fixed set of values of a type (e.g. strings naming a method).

    >>> str(Options(str, ("bayes", "row")))
    "one of 'bayes', 'row'"
    """

    def __init__(self, kind: type, options: Iterable[Any]) -> None:
        self.kind = kind
        self.options = tuple(options)

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) and self.kind is not bool:
            return False
        return isinstance(value, self.kind) and value in self.options

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


class InstanceOf(Constraint):
    """An instance of a type (or of one of several), named ``description`` in messages.

    >>> str(InstanceOf(np.random.Generator, "a numpy Generator"))
    'a numpy Generator'
    """

    def __init__(self, kind: type | tuple[type, ...], description: str | None = None) -> None:
        self.kind = kind
        kinds = kind if isinstance(kind, tuple) else (kind,)
        self.description = description or " or ".join(
            f"{'an' if k.__name__[0] in 'aeiouAEIOU' else 'a'} {k.__name__}" for k in kinds)

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        return self.description


class HasMethod(Constraint):
    """An object with a callable attribute ``name`` (a model with ``predict``), named
    ``description`` in messages.

    >>> HasMethod("predict", "a model").is_satisfied_by(3)
    False
    """

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    def is_satisfied_by(self, value: Any) -> bool:
        return callable(getattr(value, self.name, None))

    def __str__(self) -> str:
        return self.description


class SequenceOf(Constraint):
    """A list or tuple whose items are all of a type (a bare string is not a sequence).

    >>> SequenceOf(str).is_satisfied_by("race"), SequenceOf(str).is_satisfied_by(["race"])
    (False, True)
    """

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(isinstance(v, self.kind)
                                                        for v in value)

    def __str__(self) -> str:
        return f"a list of {self.kind.__name__}"


Constraints: TypeAlias = Mapping[str, Sequence[Constraint | None]]

#: a seed: None, a non-negative int or a numpy Generator (see ``utils.check_random_state``)
RANDOM_STATE: list[Constraint | None] = [Interval(Integral, 0, None, closed="left"),
                                         InstanceOf(np.random.Generator, "a numpy Generator"),
                                         None]


def describe(options: Sequence[Constraint | None]) -> str:
    """The constraints of one parameter in words: "an int in [1, inf) or None"."""
    words = ["None" if c is None else str(c) for c in options]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _quoted(value: Any) -> str:
    """A given value as messages show it: repr-quoted, length-capped."""
    return shorten(value) if isinstance(value, str) else cap(repr(value), QUOTE_LIMIT)


def check_names(owner: str, names: Iterable[str], constraints: Constraints,
                error: type[TabinvError] = TabinvError) -> None:
    """Refuse a parameter name ``constraints`` does not declare, listing the declared ones."""
    for name in names:
        if name not in constraints:
            takes = ", ".join(sorted(constraints)) or "no parameters"
            raise error(f"{owner} has no parameter {_quoted(name)}"
                        f"{closest(str(name), constraints)}; it takes {takes}")


def validate(owner: str, values: Mapping[str, Any], constraints: Constraints,
             error: type[TabinvError] = TabinvError) -> None:
    """Check ``values`` (name -> value) against ``constraints`` (name -> options).

    Parameters
    ----------
    owner : str
        Who takes the parameters, first in messages (an attack's name, a function's).
    values : mapping
        The given values; parameters not given are not checked.
    constraints : mapping of str to sequence of Constraint or None
        Per parameter, what a valid value is: any one of the options.
    error : TabinvError subclass
        The exception raised (e.g. :class:`~tabinv.exceptions.AttackError`).

    Raises
    ------
    TabinvError
        (``error``) One line: "OWNER: NAME must be WHAT, got VALUE", or an unknown name
        with the accepted ones.
    """
    check_names(owner, values, constraints, error)
    for name, value in values.items():
        options = constraints[name]
        if not any(value is None if c is None else c.is_satisfied_by(value) for c in options):
            raise error(f"{owner}: {name} must be {describe(options)}, got {_quoted(value)}")


Function = TypeVar("Function", bound=Callable[..., Any])


def validate_params(constraints: Constraints, owner: str | None = None,
                    error: type[TabinvError] = TabinvError) -> Callable[[Function], Function]:
    """Decorator: validate a function's arguments named in ``constraints`` at each call.

    Arguments not named in ``constraints`` are not checked; ``owner`` defaults to the
    function's name.

    >>> @validate_params({"top_k": [Interval(Integral, 1, None, closed="left")]})
    ... def score(*, top_k: int = 100) -> int:
    ...     return top_k
    >>> score(top_k=0)
    Traceback (most recent call last):
    ...
    tabinv.exceptions.TabinvError: score: top_k must be an int in [1, inf), got 0
    """
    def decorate(function: Function) -> Function:
        signature = inspect.signature(function)
        missing = sorted(set(constraints) - set(signature.parameters))
        if missing:
            raise TypeError(f"{function.__name__} has no parameter(s) {missing} to validate")

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            given = {k: v for k, v in bound.arguments.items() if k in constraints}
            validate(owner or function.__name__, given, constraints, error)
            return function(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


class FrozenParams(Mapping[str, Any]):
    """An immutable, hashable and picklable mapping of parameter names to values.

    Lists among the values become tuples (so that the mapping hashes); two are equal
    when their items are, whatever the order they were given in.

    >>> params = FrozenParams({"smoothing": 0.5})
    >>> params["smoothing"], dict(params), params == {"smoothing": 0.5}
    (0.5, {'smoothing': 0.5}, True)
    """

    __slots__ = ("_items",)

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        items = dict(values)
        self._items = {k: tuple(v) if isinstance(v, list) else v
                       for k, v in sorted(items.items())}

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return repr(self._items)

    def __getstate__(self) -> dict[str, Any]:
        return self._items

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._items = state
