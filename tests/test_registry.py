"""The design registry: each design once, and everything that lists designs reads it."""

import dataclasses

import pytest

from bayesdose.cli import recommend, simulate
from bayesdose.designs import registry
from bayesdose.designs.blrm.recommendation import blrm_step
from bayesdose.report.simulated_study import report_designs
from bayesdose.schema import load_design
from bayesdose.steps import rule_step


def test_each_design_is_registered_once_with_its_label_and_colour():
    names = [e.name for e in registry.REGISTRY]
    assert len(names) == len(set(names))
    assert registry.DESIGNS == ("blrm", "3+3", "3+3-deesc", "crm", "boin")
    assert registry.TIME_AWARE == ("tite-blrm", "tite-crm")
    assert registry.label("3+3-deesc") == "3+3 de-esc." and registry.colour("blrm") == "#1f4e79"
    assert registry.label("optimal") == "Optimal" and registry.colour("unknown") == "#555555"


def test_the_command_line_offers_the_registered_designs():
    choice = next(p for p in recommend.params if p.name == "design_name")
    assert tuple(choice.type.choices) == (*registry.DESIGNS, "blrm+backfill", "3+3+backfill",
                                          "3+3-deesc+backfill", "crm+backfill", "boin+backfill")
    assert registry.recommend_name("blrm+backfill") == "blrm"
    assert registry.recommend_name("boin+backfill") == "boin+backfill"
    help_text = next(p for p in simulate.params if p.name == "designs").help
    for name in (*registry.DESIGNS, *registry.TIME_AWARE):
        assert name in help_text


def test_every_design_is_made_and_described_from_its_row():
    single = load_design("configs/xj-mk-002.toml")  # has a CRM skeleton and a DLT window
    two = load_design("configs/combination-3x5.toml")
    for row in registry.REGISTRY:
        design = two if row.combination else single
        words = row.describe(design)
        assert len(words) > 40, row.name
        if row.simulated:
            made = registry.make_design(row.name, design)
            assert made.name == row.name


def test_the_report_compares_the_registered_designs_the_config_allows():
    names, omitted = report_designs(load_design("configs/nbg-2008.toml"))  # no CRM skeleton
    assert names == ["blrm", "3+3", "3+3-deesc", "boin"]
    assert "skeleton" in omitted["crm"]
    names, omitted = report_designs(load_design("configs/xj-mk-002.toml"))
    assert names == list(registry.REPORT_DESIGNS) and not omitted


def test_the_designs_section_of_the_config_is_built_from_the_registry():
    from bayesdose.designs.boin.config import BoinSection
    from bayesdose.designs.crm.config import CrmSection
    from bayesdose.designs.waterfall.config import WaterfallSection
    from bayesdose.schema import DesignsSection

    assert registry.config_sections() == [("crm", CrmSection), ("boin", BoinSection),
                                          ("waterfall", WaterfallSection)]
    assert [f.name for f in dataclasses.fields(DesignsSection)] == ["crm", "boin", "waterfall"]
    design = load_design("configs/xj-mk-002.toml")
    assert design.designs.crm.halfwidth == 0.05 and design.designs.boin == BoinSection()


def test_hooks_resolve_relative_to_the_package_or_by_full_path():
    assert registry.hook("blrm", "on_data") is blrm_step
    assert registry.hook("boin", "on_data") is rule_step
    assert registry.hook("crm", "step_details").__module__ == "bayesdose.designs.crm.step"
    assert registry.hook("boin", "step_details").__module__ == "bayesdose.designs.boin.step"
    assert registry.hook("tite-crm", "step_details") is None


def test_unknown_and_reserved_names_are_refused():
    from bayesdose.errors import InputError

    with pytest.raises(InputError, match="unknown design"):
        registry.parse_design_names("blrm,boin12")
    with pytest.raises(InputError, match="benchmark"):
        registry.parse_design_names("optimal")
    assert registry.parse_design_names(" boin, blrm ") == ["boin", "blrm"]
