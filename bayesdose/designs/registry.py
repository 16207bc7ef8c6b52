"""Every design, once: its name, label and colour in reports, where it lives, and how it runs.

The command line's choices (``recommend --design``, ``simulate --designs``), the report's list of
compared designs, its labels, colours and descriptions, and the simulator all read this table,
so a new design is one package under ``bayesdose/designs/`` plus one row here.

A row's design package holds its config section and checks (``config``, where it has
settings), its simulated design (``decide`` over a batch of trial states: the one
implementation that ``recommend --design`` and ``simulate`` both call), the words that describe
it in a report (``describe``) and, named by its row, its hook for a step on real data
(``step_details``: the rule that decided in words, with the design's own numbers, columns and
picture, as ``bayesdose.steps.Details``). A design's module is imported
when the design is first made, so a worker process imports only what it runs (CRM and BOIN
import SciPy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

from bayesdose.errors import InputError

if TYPE_CHECKING:
    from bayesdose.schema import Design

BENCHMARK = "optimal"
BACKFILL = "+backfill"  # NAME+backfill: design NAME with backfill cohorts (designs.backfill)


@dataclass(frozen=True)
class DesignEntry:
    """One design (or the benchmark) and where its parts live."""

    name: str
    label: str  # in report tables and figure legends
    colour: str  # in every figure and table of a report
    package: str  # bayesdose.designs.<package>: ``describe(design)`` and the modules below
    simulated: str = ""  # "module:Class" of the simulated design ("" for the benchmark)
    options: dict[str, Any] = field(default_factory=dict)
    time_aware: bool = False  # decides with patients pending: simulated in time only
    complete_cohorts: bool = False  # decides on complete cohorts: waits while anyone is pending
    step_details: str = ""  # "module:function": its reason and numbers for a step on data
    on_data: str = "bayesdose.steps:rule_step"  # "module:function": its step on real data
    config: str = ""  # "module:Class" of its settings, the table [designs.<package>]
    in_time: str = ""  # "module:function": its own form in a study with time (else it waits)
    backfill: str = ""  # "module:Class": its rule with backfill cohorts (``designs.backfill``),
    # made with the config and ``options``; NAME+backfill is then a design name
    in_report: bool = True  # compared in a design report (when the config allows it)
    description: str = ""  # fixed words for a report (else the package's ``describe``)
    combination: bool = False  # two drugs: simulated on dose pairs (simulation.combination)
    two_drug: str = ""  # "module:Class": this design's simulated form on a two-drug config

    def describe(self, design: Design) -> str:
        """What the design is, in words, for a report."""
        if self.description:
            return self.description
        return import_module(f"bayesdose.designs.{self.package}").describe(design, self.name)


REGISTRY: tuple[DesignEntry, ...] = (
    DesignEntry("blrm", "BLRM-EWOC", "#1f4e79", "blrm", "simulated:BlrmDesign",
                on_data="recommendation:blrm_step", in_time="tite:waiting_blrm",
                backfill="backfill:BlrmBackfill", two_drug="blrm_comb.simulated:BlrmComb"),
    DesignEntry("3+3", "3+3", "#e08a1e", "three_plus_three", "simulated:ThreePlusThree",
                {"deescalation": False}, complete_cohorts=True, step_details="step:step_details",
                backfill="backfill:ThreePlusThreeBackfill"),
    DesignEntry("3+3-deesc", "3+3 de-esc.", "#f2c14e", "three_plus_three",
                "simulated:ThreePlusThree", {"deescalation": True}, complete_cohorts=True,
                step_details="step:step_details", backfill="backfill:ThreePlusThreeBackfill"),
    DesignEntry("crm", "CRM", "#3a8d5c", "crm", "simulated:CrmDesign",
                step_details="step:step_details", config="config:CrmSection",
                backfill="backfill:CrmBackfill"),
    DesignEntry("boin", "BOIN", "#7b4fa0", "boin", "simulated:BoinDesign",
                complete_cohorts=True, config="config:BoinSection",
                step_details="step:step_details", backfill="backfill:BfBoin"),
    DesignEntry("tite-blrm", "TITE-BLRM", "#555555", "blrm", "tite:TiteBlrm", time_aware=True,
                in_report=False),
    DesignEntry("tite-crm", "TITE-CRM", "#555555", "crm", "tite:TiteCrm", time_aware=True,
                in_report=False),
    DesignEntry("boin-comb", "BOIN-comb", "#7b4fa0", "boin_comb", "simulated:BoinComb",
                combination=True, in_report=False),
    DesignEntry("waterfall", "Waterfall", "#3a8d5c", "waterfall", "simulated:Waterfall",
                config="config:WaterfallSection", combination=True, in_report=False),
    DesignEntry(BENCHMARK, "Optimal", "#9a9a9a", "", in_report=False, description=(
        "Nonparametric optimal benchmark (O'Quigley, Paoletti & Maccario 2002): the selection "
        "with every patient's outcome known at every dose, the dose whose complete-information "
        "DLT rate is closest to the target (of doses equally close, the highest one below the "
        "target, else the lowest; no dose when the lowest dose's rate exceeds the target by "
        "more than 0.10); a reference, not a design.")),
)
ENTRIES: dict[str, DesignEntry] = {entry.name: entry for entry in REGISTRY}
# Designs without time (simulated by walking trial states or in lockstep; ``recommend --design``)
DESIGNS = tuple(e.name for e in REGISTRY
                if e.simulated and not e.time_aware and not e.combination)
# Designs that decide with patients still in follow-up: simulated in time only.
TIME_AWARE = tuple(e.name for e in REGISTRY if e.time_aware)
REPORT_DESIGNS = tuple(e.name for e in REGISTRY if e.in_report)
# Two-drug designs (a config with [drugs] names), simulated on dose pairs.
COMBINATION = tuple(e.name for e in REGISTRY if e.combination or e.two_drug)
# Designs with backfill cohorts: NAME+backfill for every row naming its backfill rule.
BACKFILL_DESIGNS = tuple(f"{e.name}{BACKFILL}" for e in REGISTRY if e.backfill)
# ``recommend --design``: every design without time, and each with backfill (a rule design's
# ``NAME+backfill`` is the backfill wrapper on the pooled data; ``blrm+backfill`` is the BLRM's
# own recommendation, which reads backfill patients and says which doses are open).
RECOMMEND_DESIGNS = (*DESIGNS, *BACKFILL_DESIGNS)



def base_name(name: str) -> str:
    """The wrapped design of ``NAME+backfill`` (the name itself otherwise)."""
    return name.removesuffix(BACKFILL)


def is_backfill(name: str) -> bool:
    return name.endswith(BACKFILL)


def recommend_name(name: str) -> str:
    """The design ``recommend --design NAME`` runs: ``blrm+backfill`` is ``blrm`` (the BLRM's
    own recommendation reads backfill patients and says which doses are open), any other
    name itself."""
    own = is_backfill(name) and ENTRIES[base_name(name)].on_data != DesignEntry.on_data
    return base_name(name) if own else name


def entry(name: str) -> DesignEntry:
    return ENTRIES[name]


def label(name: str) -> str:
    """A design's label; ``NAME+backfill``'s is its design's with "+ backfill"."""
    if is_backfill(name) and base_name(name) in ENTRIES:
        return f"{ENTRIES[base_name(name)].label} + backfill"
    return ENTRIES[name].label if name in ENTRIES else name


def colour(name: str) -> str:
    """A design's colour; ``NAME+backfill``'s is its design's, lighter (as 3+3 de-esc. is
    3+3's), so the two read as one family and apart."""
    if is_backfill(name) and base_name(name) in ENTRIES:
        return _lighter(ENTRIES[base_name(name)].colour)
    return ENTRIES[name].colour if name in ENTRIES else "#555555"


def _lighter(hex_colour: str, towards_white: float = 0.45) -> str:
    """``#rrggbb`` moved ``towards_white`` of the way to white."""
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * towards_white):02x}" for c in rgb)


def config_sections() -> list[tuple[str, type]]:
    """(table name, settings class) of every design with settings, in registry order: the
    ``[designs]`` section of the schema (and so of docs/config.md). The table is named after
    the design's package, so one row per package declares it (``crm`` for ``tite-crm`` too);
    a settings module must not import ``bayesdose.schema``, which is built from this."""
    sections = [(row.package, hook(row.name, "config")) for row in REGISTRY if row.config]
    packages = [package for package, _ in sections]
    if len(packages) != len(set(packages)):
        raise RuntimeError(f"two registry rows declare the settings of one package: {packages}")
    return sections


def parse_design_names(text: str, source: str = "--designs",
                       combination: bool = False) -> list[str]:
    """Comma-separated design names, checked, in the order given; a name given twice is an
    error (``blrm,blrm`` is a typo, not a request to simulate it twice). ``combination``: the
    names of two-drug designs, for a two-drug config."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(source, None, "give at least one design name")
    for i, name in enumerate(names):
        where = repr(name)  # quoted: a name with a line break cannot forge output lines
        if name in names[:i]:
            raise InputError(source, where, "the design is named twice")
        if name == BENCHMARK:
            raise InputError(source, where, "'optimal' is the benchmark, reported for every run")
        if is_backfill(name) and name not in BACKFILL_DESIGNS and not combination:
            raise InputError(source, where, "backfill is available for "
                             f"{', '.join(BACKFILL_DESIGNS)} only")
        known = (sorted(COMBINATION) if combination
                 else sorted([*DESIGNS, *TIME_AWARE, *BACKFILL_DESIGNS]))
        if name not in known:
            kind = "a two-drug" if combination else "a single-agent"
            other = "" if name not in ENTRIES else f" ({name} is not for {kind} config)"
            raise InputError(source, where, f"unknown design{other}; expected one of {known}")
    return names


def make_design(name: str, design: Design) -> Any:
    """The simulated design ``name`` (a ``base.SimulatedDesign``; for a time-aware design a
    ``base.TimedDesign``) for a trial design."""
    row = ENTRIES[name]
    if row.two_drug and design.is_combination:
        module, cls = row.two_drug.split(":")
        module = f"bayesdose.designs.{module}"
    else:
        module, cls = row.simulated.split(":")
        module = f"bayesdose.designs.{row.package}.{module}"
    factory = getattr(import_module(module), cls)
    return factory(design, **row.options)


def hook(name: str, attribute: str) -> Any:
    """The function a design's row names in ``attribute`` ("module:function", the module
    relative to the design's package unless it is a full ``bayesdose.`` path), or None."""
    where = getattr(ENTRIES[name], attribute)
    if not where:
        return None
    module, function = where.split(":")
    if not module.startswith("bayesdose."):
        module = f"bayesdose.designs.{ENTRIES[name].package}.{module}"
    return getattr(import_module(module), function)
