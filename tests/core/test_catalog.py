"""The catalog guard: every seed requirement is in the catalog, well-formed and checked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from anchore_compliance.catalog import load_catalog, parse_catalog
from anchore_compliance.errors import ExitCode, SuiteUsageError

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed"


def _requirement_ids_in_suites() -> set[str]:
    """Requirement IDs named by @pytest.mark.requirement("...") or marks=... in suites/."""
    ids = set()
    for path in (ROOT / "suites").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "requirement"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                ids.add(node.args[0].value)
    return ids


def test_catalog_loads_with_unique_ids():
    catalog = load_catalog()
    assert len(catalog.ids()) == len(set(catalog.ids()))
    assert {r.level for r in catalog} <= {"MUST", "SHOULD", "MAY"}


@pytest.mark.parametrize(
    "phrase",
    [
        "including DNS resolution",
        "host: ancho.re TCP port: 443",
        "connect the other services over the network",
        "Address of the proxy service to use for HTTPS traffic",
        "Address of the proxy service to use for HTTP traffic",
        "Comma delimited list of hostnames or IP address",
        "Do not use double quotes",
        "can be provided as part of the URL",
        "F@oBar! would be encoded as F%40oBar%21",
        "read by the Anchore Engine at run time",
        "Docker Compose",
        "Kubernetes",
    ],
)
def test_every_seed_rule_has_a_catalog_entry(phrase):
    texts = " ".join(r.text for r in load_catalog())
    assert phrase in texts


@pytest.mark.skipif(not SEED.is_dir(), reason="shared/seed is not beside this checkout")
def test_catalog_texts_are_quoted_from_the_seed():
    seed = " ".join(" ".join(p.read_text().split()) for p in SEED.glob("*.txt"))
    for requirement in load_catalog():
        # Entries may join two seed sentences; each sentence must be the seed's own.
        for sentence in requirement.text.split(". "):
            words = sentence.split(":")[-1].strip(" .")
            if requirement.id in ("ENV-5", "DEPLOY-1", "DEPLOY-2"):
                continue  # paraphrased headings, noted in the entry
            assert words[:40] in seed, f"{requirement.id}: {words[:40]!r} is not in the seed"


def test_every_check_names_a_catalog_requirement():
    unknown = _requirement_ids_in_suites() - set(load_catalog().ids())
    assert not unknown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("requirements: []", "no 'requirements' list"),
        ("requirements: [{id: X-1, area: feeds, level: MUST, stacks: [python]}]", "missing or malformed"),
        (
            "requirements: [{id: X-1, area: feeds, level: OUGHT, stacks: [python], text: t}]",
            "level must be one of",
        ),
        (
            "requirements: [{id: X-1, area: feeds, level: MUST, stacks: [java], text: t}]",
            "stacks must be",
        ),
    ],
    ids=["empty", "no-text", "bad-level", "bad-stack"],
)
def test_malformed_catalog_is_a_one_line_usage_error(text, message):
    with pytest.raises(SuiteUsageError, match=message) as caught:
        parse_catalog(text)
    assert "\n" not in str(caught.value)


def test_unknown_requirement_lookup_names_the_known_ones():
    with pytest.raises(SuiteUsageError) as caught:
        load_catalog().get("REG-99")
    assert caught.value.exit_code is ExitCode.UNKNOWN_REQUIREMENT
    assert "REG-1" in str(caught.value)


def test_every_catalog_requirement_has_a_check():
    # A default run reports `not-covered` for a requirement no check names.
    unchecked = set(load_catalog().ids()) - _requirement_ids_in_suites()
    assert not unchecked, f"requirements without a check: {sorted(unchecked)}"
