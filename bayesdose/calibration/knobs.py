"""The design parameters a calibration searches: ``--tune SECTION.KEY[i]=LOW:HIGH``.

A knob is one number of the config that the BLRM decides by (a key of ``[model]``,
``[decision]`` or ``[stopping]``, or one element of a pair such as ``model.prior_mean[0]``),
searched over [LOW, HIGH] on a grid of 1/1000 of the range (whole numbers for whole-number
keys), so the value written to ``calibrated.toml`` is exactly the one whose operating
characteristics were computed. Without ``--tune`` the BLRM's normal prior
(means and sds of log alpha and log beta, around the config's own or derived prior) and its
MTD-declaration rule (``[stopping] mtd_min_patients`` and ``mtd_min_p_target``) are searched;
the EWOC threshold and the target interval define safety and are searched only when named.
What the trial is (doses, target, sample size, cohorts) is not a knob.

A config whose prior is derived from the dose panel can also tune the derivation itself:
``derived.p_lowest``, ``derived.p_highest`` and ``derived.sd[i]`` (the fields of
``models.prior.DerivationRule``), so a calibration finds a rule for any panel, not only a
prior for this one.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from bayesdose.errors import InputError
from bayesdose.models.prior import DEFAULT_RULE, DerivationRule, derive_prior
from bayesdose.schema import Design

TUNABLE_SECTIONS = ("model", "decision", "stopping")  # what the BLRM decides by
FIXED_KEYS = ("decision.target", "stopping.max_patients")  # what the trial is, not its tuning
PRIOR_KEYS = ("prior_mean", "prior_sd", "prior_correlation")
RULE = "derived"  # the section of the derived prior's rule (DerivationRule's fields)
GRID = 1000  # values per range
# default search: the prior around the config's (or derived) one, and the MTD declaration
DEFAULT_PRIOR_SPAN = {("prior_mean", 0): 2.0, ("prior_mean", 1): 1.0}
# sds up to the derived prior's (2, 1) and a little beyond on log beta: past sd 2 on log alpha
# the exact engine re-grids posterior after posterior (2.5 took over a minute per setting on
# the standard 5-dose panel, 2 took 3 s); wider priors can still be named with --tune
DEFAULT_PRIOR_SD = {0: (0.75, 2.0), 1: (0.35, 1.25)}
DEFAULT_DECLARATION = {"mtd_min_patients": (3, 12), "mtd_min_p_target": (0.3, 0.7)}
_SPEC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\[(\d+)\])?$")


@dataclass(frozen=True)
class Knob:
    """One searched number: ``path`` of keys (``("model", "prior_mean")``), the element
    ``index`` of a pair (or None), its range and whether it is a whole number."""

    path: tuple[str, ...]
    index: int | None
    low: float
    high: float
    integer: bool

    @property
    def name(self) -> str:
        suffix = "" if self.index is None else f"[{self.index}]"
        return ".".join(self.path) + suffix

    @property
    def decimals(self) -> int:
        """Decimals of the grid: a step of at most 1/GRID of the range."""
        return 0 if self.integer else max(0, math.ceil(-math.log10((self.high - self.low) / GRID)))

    def value(self, u: float) -> float | int:
        """The grid value at ``u`` in [0, 1] of the range."""
        x = self.low + min(max(u, 0.0), 1.0) * (self.high - self.low)
        return int(round(x)) if self.integer else round(x, self.decimals)

    def unit(self, value: float) -> float:
        """Where ``value`` lies in the range, as a share of it (outside [0, 1] if outside)."""
        return (value - self.low) / (self.high - self.low)


def parse_knobs(specs: list[str], design: Design) -> list[Knob]:
    """The knobs of ``--tune`` specs (the defaults when there are none); a bad spec is an
    InputError naming it, before anything is computed."""
    knobs = [parse_knob(spec, design) for spec in specs] or default_knobs(design)
    names = [k.name for k in knobs]
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated is not None:
        raise InputError("--tune", repeated, "named twice")
    for knob in (k for k in knobs if k.path[0] != RULE):  # every end makes a valid design
        for end in (knob.low, knob.high):
            try:
                apply(design, [knob], [knob.value(knob.unit(end))])
            except InputError as err:
                raise InputError("--tune", knob.name, f"{end:g} is not a valid value: "
                                 f"{err.problem}") from None
    _check_rule_corners([k for k in knobs if k.path[0] == RULE])
    return knobs


def _check_rule_corners(knobs: list[Knob]) -> None:
    """Every combination of the ends of the ``derived.*`` ranges must be a valid rule (e.g.
    p_lowest below p_highest), so no setting of the search is invalid."""
    for corner in range(2 ** len(knobs)):
        ends = [k.high if corner >> i & 1 else k.low for i, k in enumerate(knobs)]
        try:
            rule_of(knobs, ends)
        except ValueError as err:
            names = ", ".join(f"{k.name}={e:g}" for k, e in zip(knobs, ends, strict=True))
            raise InputError("--tune", names, f"the ranges allow an invalid rule: {err}") from None


def parse_knob(spec: str, design: Design) -> Knob:
    """``SECTION.KEY=LOW:HIGH`` or ``SECTION.KEY[i]=LOW:HIGH``."""
    key, equals, bounds = spec.partition("=")
    match = _SPEC.match(key.strip())
    if not equals or match is None:
        raise InputError("--tune", spec, "expected SECTION.KEY=LOW:HIGH (e.g. "
                         "stopping.mtd_min_p_target=0.3:0.7, model.prior_mean[0]=-3:1)")
    path = tuple(match.group(1).split("."))
    index = None if match.group(2) is None else int(match.group(2))
    low, high = _bounds(spec, bounds)
    if path[0] == RULE:
        return _rule_knob(spec, design, path, index, low, high)
    hint, current = _field(spec, design, path)
    integer = _numeric(spec, hint, current, index)
    if integer and (low != int(low) or high != int(high)):
        raise InputError("--tune", spec, "a whole-number key needs whole-number LOW and HIGH")
    if ".".join(path) in FIXED_KEYS or path[0] not in TUNABLE_SECTIONS:
        raise InputError("--tune", spec, "not a knob: the BLRM is tuned by the keys of "
                         f"{', '.join(f'[{s}]' for s in TUNABLE_SECTIONS)} other than "
                         f"{' and '.join(FIXED_KEYS)} (what the trial is)")
    if path[0] == "model" and path[-1] in PRIOR_KEYS:
        _check_normal_prior(design, spec)
    return Knob(path, index, low, high, integer)


def _rule_knob(spec: str, design: Design, path: tuple[str, ...], index: int | None,
               low: float, high: float) -> Knob:
    """A ``derived.KEY[i]`` knob: a number of the rule that derives the prior from the panel
    (only for a config whose prior is derived)."""
    if len(path) != 2 or path[1] not in {f.name for f in dataclasses.fields(DerivationRule)}:
        raise InputError("--tune", spec, "the derived prior's rule has p_lowest, p_highest "
                         "and sd[0], sd[1]")
    if (index is None) != (path[1] != "sd") or (index is not None and index > 1):
        raise InputError("--tune", spec, "sd is a pair (name sd[0] or sd[1]); p_lowest and "
                         "p_highest are numbers")
    model = design.model
    if model.prior != "normal" or model.elicitation or model.prior_mean is not None:
        raise InputError("--tune", spec, "derived.* tunes the prior derived from the dose "
                         "panel: this config gives its own prior")
    return Knob(path, index, low, high, False)


def _bounds(spec: str, text: str) -> tuple[float, float]:
    parts = text.split(":")
    try:
        low, high = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError("--tune", spec, "expected LOW:HIGH, two numbers")
    if low >= high:
        raise InputError("--tune", spec, f"LOW must be below HIGH (got {low:g}:{high:g})")
    return low, high


def _field(spec: str, design: Design, path: tuple[str, ...]) -> tuple[Any, Any]:
    """The type hint and current value of the key at ``path``."""
    obj: Any = design
    hint: Any = None
    for depth, key in enumerate(path):
        fields = {f.name for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else {}
        if key not in fields or (depth == 0 and key in ("source", "sensitivity")):
            where = ".".join(path[:depth]) or "the config"
            raise InputError("--tune", spec, f"unknown key {key!r} in {where}")
        hint = typing.get_type_hints(type(obj))[key]
        obj = getattr(obj, key)
    return hint, obj


def _numeric(spec: str, hint: Any, current: Any, index: int | None) -> bool:
    """Whether the key is a whole number (else a real one); an InputError if it is no number."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        items = typing.get_args(hint)
        if Ellipsis in items:
            raise InputError("--tune", spec, "a list of any length: not a knob")
        if index is None or index >= len(items):
            raise InputError("--tune", spec, f"a list of {len(items)} numbers: name one "
                             f"element, [0] to [{len(items) - 1}]")
        hint = items[index]
    elif index is not None:
        raise InputError("--tune", spec, "not a list: give the key without [i]")
    if hint not in (int, float):
        raise InputError("--tune", spec, f"not a number (now {current!r})")
    return hint is int


def _check_normal_prior(design: Design, spec: str) -> None:
    model = design.model
    if model.prior != "normal" or model.elicitation:
        raise InputError("--tune", spec, "the prior's means and sds are tuned for a normal "
                         "prior given by prior_mean and prior_sd or derived from the panel "
                         f"(this config's is {model.prior!r}"
                         + (", elicited)" if model.elicitation else ")"))


def default_knobs(design: Design) -> list[Knob]:
    """The prior's location and scales around the config's own (or derived) normal prior,
    and the MTD-declaration rule."""
    _check_normal_prior(design, "(the default: the prior's means and sds)")
    prior = design.mean_prior
    knobs = [Knob(("model", "prior_mean"), i, round(prior.mean[i] - span, 4),
                  round(prior.mean[i] + span, 4), False)
             for (_, i), span in DEFAULT_PRIOR_SPAN.items()]
    knobs += [Knob(("model", "prior_sd"), i, low, high, False)
              for i, (low, high) in DEFAULT_PRIOR_SD.items()]
    knobs += [Knob(("stopping", key), None, low, high, isinstance(low, int))
              for key, (low, high) in DEFAULT_DECLARATION.items()]
    return knobs


def apply(design: Design, knobs: list[Knob], values: list[float | int]) -> Design:
    """``design`` with each knob set to its value (validated: an InputError if the result is
    not a valid design). A derived prior is written out (prior_mean and prior_sd) first, as
    the ``derived.*`` knobs' rule derives it."""
    rule = [(k, v) for k, v in zip(knobs, values, strict=True) if k.path[0] == RULE]
    if rule:
        try:
            prior = derive_prior(design.panel.levels, design.panel.reference,
                                 design.model.prior_correlation, rule_of(*zip(*rule, strict=True)))
        except ValueError as err:
            raise InputError("--tune", None, str(err)) from None
        design = _with_prior(design, prior.mean, prior.sd)
    if any(k.path[0] == "model" and k.path[-1] in PRIOR_KEYS for k in knobs):
        design = with_explicit_prior(design)
    for knob, value in zip(knobs, values, strict=True):
        if knob.path[0] != RULE:
            design = _replace(design, knob.path, knob.index, value)
    return design


def rule_of(knobs: list[Knob] | tuple[Knob, ...],
            values: list[float] | tuple[float, ...]) -> DerivationRule:
    """The default rule with the ``derived.*`` knobs' values (a ValueError if invalid)."""
    fields: dict[str, Any] = {}
    for knob, value in zip(knobs, values, strict=True):
        key = knob.path[1]
        if knob.index is None:
            fields[key] = float(value)
        else:
            pair = list(fields.get(key, getattr(DEFAULT_RULE, key)))
            pair[knob.index] = float(value)
            fields[key] = tuple(pair)
    return dataclasses.replace(DEFAULT_RULE, **fields)


def with_explicit_prior(design: Design) -> Design:
    """The design with its normal prior's means and sds given in ``[model]`` (as derived)."""
    if design.model.prior_mean is not None:
        return design
    prior = design.mean_prior
    return _with_prior(design, prior.mean, prior.sd)


def _with_prior(design: Design, mean: tuple[float, float], sd: tuple[float, float]) -> Design:
    model = dataclasses.replace(design.model, prior_mean=tuple(mean), prior_sd=tuple(sd))
    return dataclasses.replace(design, model=model)


def _replace(obj: Any, path: tuple[str, ...], index: int | None, value: float | int) -> Any:
    key = path[0]
    if len(path) > 1:
        return dataclasses.replace(obj, **{key: _replace(getattr(obj, key), path[1:], index,
                                                         value)})
    if index is None:
        return dataclasses.replace(obj, **{key: value})
    items = list(getattr(obj, key))
    items[index] = float(value)
    return dataclasses.replace(obj, **{key: tuple(items)})


def value_of(design: Design, knob: Knob) -> float | int:
    """The knob's value in ``design`` (a ``derived.*`` knob's: the default rule's)."""
    if knob.path[0] == RULE:
        value = getattr(DEFAULT_RULE, knob.path[1])
        return value if knob.index is None else value[knob.index]
    if knob.path[0] == "model" and knob.path[-1] in PRIOR_KEYS:
        design = with_explicit_prior(design)
    value = key_value(design, knob.path)
    return value if knob.index is None else value[knob.index]


def key_value(design: Design, path: tuple[str, ...]) -> Any:
    """The value of the key at ``path`` (a whole pair for ``prior_mean``)."""
    obj: Any = design
    for key in path:
        obj = getattr(obj, key)
    return obj
