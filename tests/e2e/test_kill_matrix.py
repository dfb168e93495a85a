"""Every check fails against an engine that breaks its requirement, and passes against one that
keeps it: the suite is run against the conformant reference engine and against faulty variants,
and must fail exactly the requirements each variant breaks. The outcome is written to
reports/kill-matrix.json.

The conformant engine runs in both topologies. The faulty variants run all in one container: a
fault is the same code in either topology, and one container per launch instead of five is what
lets fourteen full runs of the suite fit in CI's time (the container engine's work per container,
not the checks, is what a run costs here).
"""

from __future__ import annotations

import ast
import fcntl
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


PER_SERVICE, ALL_IN_ONE = "reference", "reference-all-in-one"


@dataclass(frozen=True)
class Variant:
    name: str
    faults: tuple[str, ...]
    expected_fail: frozenset[str]
    why: str
    profile: str = ALL_IN_ONE


ALL = frozenset(
    {"REG-1", "REG-2", "FEED-1", "FEED-2", "SVC-1", "NET-1", "AUTH-1", "AUTH-2", "DEPLOY-1", "DEPLOY-2"}
    | {f"ENV-{n}" for n in range(1, 7)}
)
# Checks that judge a whole launch through the proxy (image analysed, feeds synced, both stacks
# tunnelled): whatever breaks one stack or the internal calls behind the proxy fails these too.
THROUGH_THE_PROXY = frozenset(
    {"NET-1", "ENV-1", "ENV-2", "ENV-3", "ENV-5", "AUTH-1", "AUTH-2", "DEPLOY-1", "DEPLOY-2"}
)

VARIANTS = (
    Variant("conformant", (), frozenset(), "the reference engine as it is", PER_SERVICE),
    Variant("conformant-all-in-one", (), frozenset(), "the reference engine as it is, in one container"),
    Variant(
        "catalog-unreachable",
        ("catalog-unreachable",),
        # Every answer that needs the catalog fails (image add answers 500, which says nothing
        # to the user); feed sync does not need it and still works.
        THROUGH_THE_PROXY | {"SVC-1", "REG-1", "REG-2", "ENV-4", "ENV-6"},
        "the catalog registers an address nothing listens on",
    ),
    Variant(
        "feeds-ignore-proxy",
        ("feeds-ignore-proxy",),
        THROUGH_THE_PROXY | {"FEED-1", "FEED-2"},
        "feed sync connects directly, which a network without a route out does not allow",
    ),
    Variant(
        "feeds-second-host",
        ("feeds-second-host",),
        frozenset({"FEED-2"}),
        "feed sync also contacts a second host, as the grype provider does",
    ),
    Variant(
        "internal-ignores-no-proxy",
        ("internal-ignores-no-proxy",),
        # Calls between services reach squid, which cannot reach the services: behind a proxy,
        # everything fails; without one (direct, isolated) nothing changes.
        ALL,
        "calls between services go to the proxy although no_proxy lists every service host",
    ),
    Variant(
        "registry-ignores-proxy",
        ("registry-ignores-proxy",),
        THROUGH_THE_PROXY | {"REG-1", "REG-2"},
        "skopeo runs without the proxy variables",
    ),
    Variant(
        "registry-ignores-no-proxy",
        ("registry-ignores-no-proxy",),
        frozenset({"ENV-4"}),
        "skopeo gets the proxy variables but not no_proxy, so a registry listed there is proxied",
    ),
    Variant(
        "proxy-credentials-not-decoded",
        ("proxy-credentials-not-decoded",),
        # Only the percent-encoded password changes; its scenario is also the Kubernetes one.
        frozenset({"AUTH-2", "DEPLOY-2"}),
        "the feed client sends the still percent-encoded password to the proxy",
    ),
    Variant(
        "upper-case-only",
        ("upper-case-only",),
        frozenset({"ENV-2"}),
        "both stacks read only HTTPS_PROXY/HTTP_PROXY/NO_PROXY, not the documented lower-case names",
    ),
    Variant(
        "proxy-quotes-stripped",
        ("proxy-quotes-stripped",),
        frozenset({"ENV-6"}),
        "the engine strips quotes from the proxy values and carries on",
    ),
    Variant(
        "feed-failures-silent",
        ("feed-failures-silent",),
        # Every scenario where feed sync cannot succeed and must say why.
        frozenset({"NET-1", "ENV-5", "ENV-6", "AUTH-1", "AUTH-2"}),
        'feed-sync failure events carry no cause ("Msg: None")',
    ),
    Variant(
        "proxy-settings-persisted",
        ("proxy-settings-persisted",),
        frozenset({"ENV-1"}),
        "the proxy variables of the first start are stored and put back over later ones",
    ),
    Variant(
        "proxy-scheme-ignored",
        ("proxy-scheme-ignored",),
        frozenset({"ENV-5"}),
        "the feed client speaks plain HTTP to an https:// proxy, as CPython's urllib does",
    ),
    Variant(
        "entrypoint-drops-proxy-environment",
        ("entrypoint-drops-proxy-environment",),
        # Everything behind the proxy fails, except what holds with no proxy variables at all:
        # calls between services stay direct (SVC-1) and quoted values are not used (ENV-6).
        ALL - {"SVC-1", "ENV-6"},
        "the services start with an environment from which the deployment's proxy variables are gone",
    ),
)


def _checked_requirements() -> set[str]:
    ids = set()
    for path in (ROOT / "suites").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "requirement"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                ids.add(node.args[0].value)
    return ids


def test_every_checked_requirement_is_killed_by_some_variant():
    killable = set().union(*(v.expected_fail for v in VARIANTS))
    survivors = _checked_requirements() - killable
    assert not survivors, f"checks no variant can make fail: {sorted(survivors)}"


@pytest.fixture
def kill_matrix(testrun_uid: str):
    """Add a row to reports/kill-matrix.json; safe when xdist workers write at once.

    Each row goes to its own file, tagged with the run's id; the matrix is rebuilt from this
    run's rows after every addition, under a lock, so the last writer leaves it complete.
    """
    rows_dir = ROOT / "reports" / ".kill-matrix-rows"
    rows_dir.mkdir(parents=True, exist_ok=True)

    def add(row: dict) -> None:
        (rows_dir / f"{row['variant']}.json").write_text(json.dumps({"run": testrun_uid, **row}))
        with (rows_dir / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            rows = [json.loads(p.read_text()) for p in sorted(rows_dir.glob("*.json"))]
            order = [v.name for v in VARIANTS]
            current = sorted(
                ({k: v for k, v in r.items() if k != "run"} for r in rows if r.get("run") == testrun_uid),
                key=lambda r: order.index(r["variant"]) if r["variant"] in order else len(order),
            )
            (ROOT / "reports" / "kill-matrix.json").write_text(json.dumps(current, indent=2) + "\n")

    return add


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_suite_fails_exactly_what_the_variant_breaks(variant, suite_runner, kill_matrix, tmp_path: Path):
    args = ["--engine-profile", variant.profile]
    if variant.faults:
        args += ["--engine-env", f"REFERENCE_ENGINE_FAULTS={','.join(variant.faults)}"]
    run = suite_runner(tmp_path / "reports", *args)
    observed = run.with_status("fail")
    errors = run.with_status("error")
    kill_matrix(
        {
            "variant": variant.name,
            "faults": list(variant.faults),
            "profile": variant.profile,
            "why": variant.why,
            "expected_fail": sorted(variant.expected_fail),
            "observed_fail": sorted(observed),
            "errors": sorted(errors),
            "killed": observed == set(variant.expected_fail) and not errors,
        }
    )
    assert not errors, f"suite errors (its own machinery failed): {sorted(errors)}\n{run.output[-3000:]}"
    assert observed == set(variant.expected_fail), (
        f"expected fail {sorted(variant.expected_fail)}, observed {sorted(observed)}\n{run.output[-3000:]}"
    )
    assert run.returncode == (1 if variant.expected_fail else 0), run.output[-3000:]
