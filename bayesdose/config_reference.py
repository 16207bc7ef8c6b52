"""The config reference page, generated from the design schema so it cannot drift.

``python -m bayesdose.config_reference > docs/config.md`` regenerates it; a test checks that
the committed page equals this output.
"""

from __future__ import annotations

import dataclasses
import typing

from bayesdose.data import AGGREGATED_COLUMNS, PATIENT_COLUMNS
from bayesdose.schema import REQUIRED, SECTIONS, InteractionSection, _table_array

INTRO = """# Config reference

A design is a TOML file with the sections below; every key but `[doses] levels` has a default,
and `[stopping]` (like any other section) may be omitted. Unknown sections and keys are errors,
so a typo never passes silently. Check a file with `bayesdose validate CONFIG [DATA]`.
This page is generated from the code (`python -m bayesdose.config_reference`).

Every input file (config, data, scenarios, historical data) must be a regular file (not a FIFO,
device or folder) of at most 50 MB, UTF-8 (a byte order mark is dropped). Numbers in TOML follow
TOML (`1_000` is a valid TOML number). No string of a config (the trial name, the unit, a prior's
name, ...) may hold a control character (a line break, a tab, ESC) or a line separator: the
strings are printed, and a line break could forge an output line.
"""

DATA = f"""## Trial data (CSV)

Two layouts, told apart by the header (column order is free; a UTF-8 byte order mark is fine):

- patient level: `{",".join(PATIENT_COLUMNS)}`, one row per patient, `dlt` 0 or 1. Patients of
  one cohort share its dose. Keeps the order of cohorts, so the coherence rule can apply.
- aggregated: `{",".join(AGGREGATED_COLUMNS)}`, one row per dose, `0 <= dlt <= n`. The order of
  cohorts is unknown, so rules that read the last cohort are not applied (the output says so).

A dose must be one of the config's levels (relative tolerance 1e-6, so `3e8` matches
`300000000`). A header-only file means no patients yet: the answer is the start dose. An empty
(0-byte) file, a missing or unknown column, a duplicate patient id, a non-integer or negative
count, a patient's `dlt` other than 0 or 1 (`yes` is refused: "expected 0 or 1"), `dlt` above
`n`, a number with an underscore (`1_6`, which Python would read as 16), a cell with a control
character (a line break in a quoted patient id), and a non-UTF-8 file are errors that name the
file, the row and the column.

Dated data (late-onset toxicity) add `enrolled` and optionally `dlt_day`, `followup_end` and
`evaluable`: `dlt_day` and `followup_end` need `enrolled`, and a DLT day must fall within the
DLT window, before `--as-of` and before follow-up ended. `evaluable` (0 leaves a patient out of
the model) needs no dates.

Patient-level data may add `response` (efficacy: 0 or 1, empty while not yet assessed;
anything else is an error). It is counted per dose (responders / patients assessed, whether
evaluable for DLT or not) and shown beside the decision, which it does not change. With dates,
a response recorded fewer than `[efficacy] assessment_days` after dosing (as of `--as-of`) is
an error: it cannot have been known yet. `bayesdose endpoints` derives it from platelet counts
(docs/efficacy.md). Aggregated data have no response column.

Two drugs: a column `dose_<name>` per drug in place of `dose` (`patient_id,cohort,dose_A,
dose_B,dlt` or `dose_A,dose_B,n,dlt`; the names as `[drugs] names` spells them, in any case).
A row is a pair of the grid, or one drug alone with the other's dose 0 (monotherapy rows: in the
model, not escalated); a dose neither one of the drug's levels nor 0, or both doses 0, is an
error naming the row and the column. The date columns and `evaluable` are read as for one
drug; `response` and `backfill` are read for one drug only (an error for two).

Trial data given where the config belongs (or a config given as the data) is named as such:
the config comes first, then the data. Data holding more patients than `[stopping]
max_patients` are analysed, with a note saying so (`validate` and `recommend` print it).
"""


def _type_name(hint: typing.Any) -> str:
    if table := _table_array(hint):
        return f"array of tables ({table.__name__})"
    text = str(hint).replace("typing.", "")
    for name in ("float", "int", "str", "bool"):
        text = text.replace(f"<class '{name}'>", name)
    return text.replace("NoneType", "None")


def _default(f: dataclasses.Field) -> str:
    if f.default is REQUIRED:
        return "required"
    if f.default is None:
        return "see description"
    if isinstance(f.default, bool):
        return str(f.default).lower()
    if isinstance(f.default, tuple):
        return "[" + ", ".join(f"{v:g}" for v in f.default) + "]"
    return f"`{f.default!r}`" if isinstance(f.default, str) else f"{f.default:g}"


def _section_markdown(name: str, cls: type, doc: str = "", array: bool = False) -> list[str]:
    """The table of one section; a section of tables (``[designs]``) gives one per table, and
    an array of tables (``[[model.components]]``) one after its section's."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    if all(dataclasses.is_dataclass(hints[f.name]) for f in fields):
        return [line for f in fields for line in
                _section_markdown(f"{name}.{f.name}", hints[f.name], f.metadata["doc"])]
    parts = [f"## `[[{name}]]`\n" if array else f"## `[{name}]`\n"]
    if doc:
        parts.append(f"{doc}\n")
    parts.append("| key | type | default | meaning |\n|---|---|---|---|")
    for f in fields:
        nested = dataclasses.is_dataclass(hints[f.name])  # a table in the section
        cells = [f"`{f.name}`", "table" if nested else f"`{_type_name(hints[f.name])}`",
                 f"see `[{name}.{f.name}]`" if nested else _default(f), f.metadata["doc"]]
        parts.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    parts.append("")
    for f in fields:
        if dataclasses.is_dataclass(hints[f.name]):
            parts.extend(_section_markdown(f"{name}.{f.name}", hints[f.name],
                                           f.metadata["doc"]))
        if table := _table_array(hints[f.name]):
            parts.extend(_section_markdown(f"{name}.{f.name}", table, f.metadata["doc"], True))
    return parts


SENSITIVITY = ("Alternative priors: `recommend` gives the decision under each beside its own, "
               "so a committee sees whether the next dose depends on the prior. Each table has "
               "the keys of `[model]` and a name (e.g. `prior_mean`, `prior_sd`, "
               "`[[sensitivity.elicitation]]` statements, or `prior = \"mixture\"` with "
               "`[[sensitivity.components]]`).")


TWO_DRUG_MODEL = ("Two drugs ([drugs] names): `[model]` holds a `[model.<name>]` table per drug "
                  "(the keys of `[model]` above, e.g. `[[model.A.components]]` for a MAP "
                  "mixture; `prior = 'map'`: the drug's MAP prior from its monotherapy rows of "
                  "`[historical]`; `prior = 'exnex'` for both drugs: the joint hierarchical "
                  "model of the `[historical]` trials and this one, docs/combination-codata.md;"
                  " a drug without a table gets the prior derived from its levels) and "
                  "`[model.interaction]`. The model: docs/combination.md.")


def config_reference_markdown() -> str:
    parts = [INTRO]
    for name, cls in SECTIONS.items():
        table = _table_array(cls)
        parts.extend(_section_markdown(name, table, SENSITIVITY, True) if table
                     else _section_markdown(name, cls))
        if name == "model":
            parts.extend(_section_markdown("model.interaction", InteractionSection,
                                           TWO_DRUG_MODEL))
    parts.append(DATA)
    return "\n".join(parts)


if __name__ == "__main__":
    print(config_reference_markdown(), end="")
