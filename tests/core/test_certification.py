"""Certification mode: the verdict, the vendor declaration, and a bundle a reviewer can trust."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from anchore_compliance.catalog import load_catalog
from anchore_compliance.errors import ExitCode, SuiteUsageError
from anchore_compliance.redaction import REDACTOR
from anchore_compliance.reporting.bundle import MANIFEST, main, manifest_digest, verify_bundle, write_bundle
from anchore_compliance.reporting.certification import (
    CERTIFIED,
    PARTIAL,
    Certification,
    VendorDeclaration,
    certification_exit_code,
    certify,
    explain_skips,
    load_declaration,
)
from anchore_compliance.results import CheckResult, Status, summarize

# --- certify() -------------------------------------------------------------------------------


def _check(
    requirement: str, status: Status, scenario: str = "direct", reason: str | None = None
) -> CheckResult:
    nodeid = f"suites/test_x.py::test_{requirement.lower().replace('-', '_')}[{requirement}-{scenario}]"
    return CheckResult(nodeid, requirement, scenario, ["go"], status, reason or f"{status} reason", [])


def _all_passing() -> list[CheckResult]:
    return [_check(rid, Status.PASS) for rid in load_catalog().ids()]


def _judge(checks: list[CheckResult]) -> Certification:
    return certify(summarize(load_catalog(), checks))


def test_every_requirement_passing_is_certified():
    certification = _judge(_all_passing())
    assert certification.verdict == CERTIFIED
    assert certification.certified
    assert certification.blocking == []
    assert certification.skipped_checks == []
    assert certification_exit_code(certification, ExitCode.OK) == ExitCode.OK


@pytest.mark.parametrize("status", [Status.SKIP, Status.ERROR, Status.FAIL])
def test_one_skip_error_or_fail_makes_it_partial_and_is_listed(status):
    checks = [*_all_passing(), _check("FEED-2", status, scenario="proxy")]
    certification = _judge(checks)
    assert certification.verdict == PARTIAL
    [entry] = certification.blocking
    assert entry["requirement"] == "FEED-2"
    assert entry["status"] == str(status)
    assert [c["nodeid"] for c in entry["checks"]] == [checks[-1].nodeid]
    assert entry["checks"][0]["reason"] == f"{status} reason"
    expected_skipped = [checks[-1].nodeid] if status is Status.SKIP else []
    assert certification.skipped_checks == expected_skipped


def test_a_requirement_no_check_judged_makes_it_partial():
    checks = [c for c in _all_passing() if c.requirement != "AUTH-2"]
    certification = _judge(checks)
    assert certification.verdict == PARTIAL
    [entry] = certification.blocking
    assert (entry["requirement"], entry["status"], entry["checks"]) == ("AUTH-2", "not-covered", [])
    assert "not judged" in entry["blocks_because"]


def test_every_skipped_check_is_named():
    skipped = [
        _check("REG-1", Status.SKIP, scenario="proxy", reason="needs relaunching the engine (attached)"),
        _check("FEED-1", Status.SKIP, scenario="proxy-auth"),
    ]
    certification = _judge([*_all_passing(), *skipped])
    assert certification.skipped_checks == [c.nodeid for c in skipped]
    assert {e["requirement"] for e in certification.blocking} == {"REG-1", "FEED-1"}
    assert any("needs relaunching the engine" in line for line in certification.summary_lines())


def test_not_applicable_with_a_reason_does_not_block_and_is_shown():
    reason = "not-applicable: grype provider configured; FEED-2 holds only for the legacy provider"
    na = _check("FEED-2", Status.NOT_APPLICABLE, scenario="proxy", reason=reason)
    certification = _judge([c for c in _all_passing() if c.requirement != "FEED-2"] + [na])
    assert certification.verdict == CERTIFIED
    assert certification.not_applicable == [
        {
            "requirement": "FEED-2",
            "nodeid": na.nodeid,
            "explanation": "grype provider configured; FEED-2 holds only for the legacy provider",
        }
    ]


@pytest.mark.parametrize("reason", ["not-applicable:", "not-applicable:  ", "not-applicable: -"])
def test_not_applicable_without_a_reason_counts_as_a_skip(reason):
    na = _check("FEED-2", Status.NOT_APPLICABLE, scenario="proxy", reason=reason)
    certification = _judge([*_all_passing(), na])
    assert certification.verdict == PARTIAL
    assert certification.skipped_checks == [na.nodeid]
    assert "not-applicable without a reason" in certification.blocking[0]["blocks_because"]


def test_a_run_level_error_blocks_even_when_checks_passed():
    requirements = summarize(load_catalog(), _all_passing())
    requirements[0].status, requirements[0].reason = Status.ERROR, "no container engine answered"
    certification = certify(requirements)
    assert certification.verdict == PARTIAL
    assert certification.blocking[0]["blocks_because"] == "error: no container engine answered"


def test_a_run_level_error_is_named_beside_blocking_checks():
    requirements = summarize(load_catalog(), [*_all_passing(), _check("REG-1", Status.SKIP, "proxy")])
    reg1 = next(r for r in requirements if r.id == "REG-1")
    reg1.status, reg1.reason = Status.ERROR, "no container engine answered"
    entry = next(e for e in certify(requirements).blocking if e["requirement"] == "REG-1")
    assert entry["blocks_because"] == "1 check(s) skipped; error: no container engine answered"


def test_an_empty_result_list_is_never_certified():
    assert certify([]).verdict == PARTIAL


def test_skips_are_explained_one_line_each():
    skip = _check("REG-1", Status.SKIP, scenario="proxy", reason="needs relaunching the engine (attached)")
    na = _check("FEED-2", Status.NOT_APPLICABLE, reason="not-applicable: grype provider")
    lines = explain_skips(summarize(load_catalog(), [*_all_passing(), skip, na]))
    assert lines == [
        f"skip: {skip.nodeid}: needs relaunching the engine (attached)",
        f"not-applicable: {na.nodeid}: grype provider",
    ]


def test_certification_is_frozen_and_json_ready():
    certification = _judge([*_all_passing(), _check("REG-2", Status.SKIP)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        certification.verdict = CERTIFIED  # type: ignore[misc]
    document = json.loads(json.dumps(certification.to_json()))
    assert document["verdict"] == "partial"
    assert document["skipped_checks"] == certification.skipped_checks


@pytest.mark.parametrize(
    ("exitstatus", "expected"),
    [
        (ExitCode.OK, ExitCode.CERTIFICATION_INCOMPLETE),
        (ExitCode.NO_TESTS_COLLECTED, ExitCode.CERTIFICATION_INCOMPLETE),
        (ExitCode.TESTS_FAILED, ExitCode.TESTS_FAILED),
        (ExitCode.INTERRUPTED, ExitCode.INTERRUPTED),
        (ExitCode.CONTAINER_ENGINE_UNREACHABLE, ExitCode.CONTAINER_ENGINE_UNREACHABLE),
    ],
)
def test_partial_exit_code_only_replaces_a_clean_exit(exitstatus, expected):
    partial = _judge([*_all_passing(), _check("REG-2", Status.SKIP)])
    assert certification_exit_code(partial, exitstatus) == expected


# --- the vendor declaration ------------------------------------------------------------------


def _declaration_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vendor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_declaration_is_read(tmp_path):
    path = _declaration_file(
        tmp_path, 'product: Acme Scanner\nversion: "1.10"\nvendor: Acme Inc.\ncontact: cert@acme.example\n'
    )
    assert load_declaration(path) == VendorDeclaration(
        "Acme Scanner", "1.10", "Acme Inc.", "cert@acme.example"
    )


def test_declaration_contact_is_optional(tmp_path):
    path = _declaration_file(tmp_path, "product: Acme\nversion: 2.0.1\nvendor: Acme Inc.\n")
    assert load_declaration(path).contact is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1.0.0\nvendor: Acme\n", "missing 'product'"),
        ("product: Acme\nvendor: Acme\n", "missing 'version'"),
        ("product: Acme\nversion: 1.0.0\nvendor:\n", "missing 'vendor'"),
        ("product: [unclosed\n", "not valid YAML (line"),
        ("- product\n- version\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("product: Acme\nversion: 1.10\nvendor: Acme\n", 'quote it (version: "1.1")'),
        ("product: Acme\nversion: 1.0.0\nvendor: Acme\nprodcut: x\n", "unknown key 'prodcut'"),
        ("product: '  '\nversion: 1.0.0\nvendor: Acme\n", "'product' is empty"),
        ("product: {a: b}\nversion: 1.0.0\nvendor: Acme\n", "'product' must be text"),
    ],
    ids=[
        "no-product",
        "no-version",
        "empty-vendor",
        "not-yaml",
        "a-list",
        "empty-file",
        "numeric-version",
        "unknown-key",
        "blank-value",
        "not-text",
    ],
)
def test_bad_declaration_is_one_line_bad_config(tmp_path, text, fragment):
    path = _declaration_file(tmp_path, text)
    with pytest.raises(SuiteUsageError) as raised:
        load_declaration(path)
    message = str(raised.value)
    assert raised.value.exit_code is ExitCode.BAD_CONFIG
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message


def test_missing_declaration_is_bad_config(tmp_path):
    with pytest.raises(SuiteUsageError, match="no such file") as raised:
        load_declaration(tmp_path / "absent.yaml")
    assert raised.value.exit_code is ExitCode.BAD_CONFIG


# --- the bundle ------------------------------------------------------------------------------

DECLARATION = VendorDeclaration(product="Acme Scanner", version="1.10", vendor="Acme Inc.", contact=None)


@pytest.fixture(scope="module")
def secret() -> tuple[str, str]:
    """A unique proxy user and password, registered like the plugin registers the run's."""
    user, password = "certuser", f"Ce@{secrets.token_hex(6)}!#:%/"
    REDACTOR.add_secret(password, user=user)
    return user, password


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), encoded)


def _spellings(user: str, password: str) -> list[str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    encoded = quote(password, safe="")
    return [password, encoded, _lower_hex(encoded), quote_plus(password), token, token.rstrip("=")]


@pytest.fixture
def bundle(tmp_path: Path, secret: tuple[str, str]) -> Path:
    """A bundle whose every input holds the secret in some spelling."""
    user, password = secret
    encoded = quote(password, safe="")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    reports = tmp_path / "reports"
    reports.mkdir()
    results = reports / "results.json"
    results.write_text(json.dumps({"run": {"note": f"leaked {password}"}, "requirements": []}))
    junit = reports / "junit.xml"
    junit.write_text(
        f"<testsuites><system-out>https_proxy=http://{user}:{encoded}@proxy:3128</system-out></testsuites>"
    )
    html = reports / "report.html"
    html.write_bytes(b"<html>\xff\xfe not utf-8 " + token.encode() + b"</html>")
    run = {
        "suite": {"name": "anchore-compliance", "version": "0.1.0", "git_commit": "abc1234"},
        "run_id": "r1",
        "engine": {"profile": "reference", "declared_version": "1.1.0", "reported_version": "1.1.0"},
        "config": {"proxy_password": password},
        "started": "2025-01-01T00:00:00+00:00",
        "finished": "2025-01-01T00:10:00+00:00",
        "certification": {"verdict": "certified", "blocking": [], "skipped_checks": []},
    }
    logs = {
        "squid-proxy-auth": f"1.0 user={user} CONNECT ancho.re:443 Proxy-Authorization: Basic {token}\n",
        "registry": f"GET /v2/ from http://{user}:{password}@proxy\n",
        "feed": f"password={encoded} and {_lower_hex(encoded)} and {quote_plus(password)}\n",
    }
    reproduce = (
        f"https_proxy=http://{user}:{encoded}@proxy:3128 pytest --certification --vendor-declaration v.yaml"
    )
    return write_bundle(
        tmp_path / "bundle",
        declaration=DECLARATION,
        run=run,
        results_json=results,
        junit_xml=junit,
        report_html=html,
        logs=logs,
        reproduce=reproduce,
    )


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_bundle_has_the_documented_layout(bundle):
    assert _files(bundle) == sorted(
        [
            MANIFEST,
            "REPRODUCE.md",
            "declaration.yaml",
            "junit.xml",
            "logs/feed.log",
            "logs/registry.log",
            "logs/squid-proxy-auth.log",
            "report.html",
            "results.json",
            "suite.json",
        ]
    )
    assert load_declaration(bundle / "declaration.yaml") == DECLARATION
    suite = json.loads((bundle / "suite.json").read_text())
    assert suite["suite"] == {"name": "anchore-compliance", "version": "0.1.0", "git_commit": "abc1234"}
    assert suite["certification"]["verdict"] == "certified"
    assert suite["omitted"] == []
    assert "pytest --certification --vendor-declaration v.yaml" in (bundle / "REPRODUCE.md").read_text()


def test_no_spelling_of_the_secret_reaches_any_bundle_file(bundle, secret):
    spellings = _spellings(*secret)
    for path in bundle.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "surrogateescape")
            leaked = [s for s in spellings if s in content]
            assert not leaked, f"{path.name} holds {leaked}"
            assert not REDACTOR.secrets_present([content]), path.name
    assert "***" in (bundle / "logs" / "registry.log").read_text()


def test_copies_keep_bytes_that_are_not_utf8(bundle):
    assert (bundle / "report.html").read_bytes().startswith(b"<html>\xff\xfe not utf-8 ")


def test_manifest_lists_every_other_file_sorted_in_sha256sum_format(bundle):
    lines = (bundle / MANIFEST).read_text().splitlines()
    assert all(re.fullmatch(r"[0-9a-f]{64}  \S+", line) for line in lines)
    paths = [line.split("  ", 1)[1] for line in lines]
    assert paths == sorted(paths)
    assert paths == [f for f in _files(bundle) if f != MANIFEST]


def test_intact_bundle_verifies(bundle):
    assert verify_bundle(bundle) == []


def _edit(bundle: Path) -> str:
    path = bundle / "results.json"
    path.write_text(path.read_text().replace("leaked", "LEAKED"))
    return "results.json: changed"


def _add(bundle: Path) -> str:
    (bundle / "logs" / "extra.log").write_text("planted\n")
    return "logs/extra.log: not in the manifest"


def _delete(bundle: Path) -> str:
    (bundle / "junit.xml").unlink()
    return "junit.xml: missing"


def _delete_with_its_line(bundle: Path) -> str:
    (bundle / "declaration.yaml").unlink()
    manifest = bundle / MANIFEST
    kept = [line for line in manifest.read_text().splitlines() if not line.endswith("declaration.yaml")]
    manifest.write_text("\n".join(kept) + "\n")
    return "declaration.yaml: missing, and every bundle has it"


def _unlist(bundle: Path) -> str:
    manifest = bundle / MANIFEST
    kept = [line for line in manifest.read_text().splitlines() if not line.endswith("logs/feed.log")]
    manifest.write_text("\n".join(kept) + "\n")
    return "logs/feed.log: not in the manifest"


def _garble(bundle: Path) -> str:
    manifest = bundle / MANIFEST
    manifest.write_text(manifest.read_text() + "not a manifest line\n")
    return f"{MANIFEST} line"


def _traverse(bundle: Path) -> str:
    manifest = bundle / MANIFEST
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  ../outside.txt\n")
    return "is not a file of the bundle"


TAMPERING = [_edit, _add, _delete, _delete_with_its_line, _unlist, _garble, _traverse]


@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda f: f.__name__.strip("_"))
def test_tampering_is_detected(bundle, tamper):
    expected = tamper(bundle)
    problems = verify_bundle(bundle)
    assert any(expected in problem for problem in problems), problems


def test_missing_manifest_or_folder_is_reported(bundle, tmp_path):
    (bundle / MANIFEST).unlink()
    assert verify_bundle(bundle) == [f"{MANIFEST}: missing"]
    assert verify_bundle(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: not a directory"]


sha256sum = pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs GNU sha256sum")


def _sha256sum_check(bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sha256sum", "--check", "--strict", MANIFEST],
        cwd=bundle,
        capture_output=True,
        text=True,
        check=False,
    )


@sha256sum
def test_sha256sum_accepts_the_manifest(bundle):
    checked = _sha256sum_check(bundle)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(_files(bundle)) - 1


@sha256sum
def test_sha256sum_rejects_an_edited_bundle(bundle):
    _edit(bundle)
    checked = _sha256sum_check(bundle)
    assert checked.returncode != 0
    assert "results.json: FAILED" in checked.stdout


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anchore_compliance.reporting.bundle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_says_intact_and_exits_0(bundle):
    result = _cli("verify", ".", cwd=bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "bundle intact"
    assert manifest_digest(bundle) in result.stdout


def test_cli_prints_the_problems_and_exits_1(bundle):
    _edit(bundle)
    result = _cli("verify", str(bundle))
    assert result.returncode == 1
    assert "results.json: changed" in result.stdout
    assert "bundle intact" not in result.stdout


def test_cli_without_a_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as raised:
        main([])
    assert raised.value.code == 2


def test_missing_optional_reports_are_named_in_suite_json(tmp_path):
    results = tmp_path / "results.json"
    results.write_text("{}\n")
    root = write_bundle(
        tmp_path / "bundle",
        declaration=DECLARATION,
        run={"suite": {"name": "anchore-compliance", "version": "0.1.0", "git_commit": "abc"}},
        results_json=results,
        junit_xml=None,
        report_html=tmp_path / "never-written.html",
        logs={},
        reproduce="pytest --certification --vendor-declaration vendor.yaml",
    )
    omitted = json.loads((root / "suite.json").read_text())["omitted"]
    assert omitted == ["junit.xml: not requested", "report.html: not written by this run"]
    assert verify_bundle(root) == []


def _write_minimal(tmp_path: Path, target: Path, logs: dict[str, str] | None = None) -> Path:
    results = tmp_path / "results.json"
    results.write_text("{}\n")
    return write_bundle(
        target,
        declaration=DECLARATION,
        run={},
        results_json=results,
        junit_xml=None,
        report_html=None,
        logs=logs or {},
        reproduce="pytest --certification",
    )


def test_a_previous_bundle_is_replaced_whole(bundle, tmp_path):
    _add(bundle)
    _write_minimal(tmp_path, bundle)
    assert not (bundle / "logs").exists()
    assert verify_bundle(bundle) == []
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".bundle.tmp")]


def test_a_folder_that_is_not_a_bundle_is_never_replaced(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        _write_minimal(tmp_path, target)
    assert (target / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_log_names_cannot_leave_the_logs_folder(tmp_path, name):
    with pytest.raises(ValueError, match="log name"):
        _write_minimal(tmp_path, tmp_path / "bundle", logs={name: "x"})
    assert not (tmp_path / "bundle").exists()
