"""`pytest --deployment PATH` end to end: the suite module run by pytest itself (pytester),
against corpus files, with the project's plugin and configuration.

Runs are subprocesses, as a user's are: in-process, pytest would warn that the already imported
package cannot be assertion-rewritten, and the project turns warnings into errors.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pytest

from anchore_compliance.deployment import RULES, load_deployments
from anchore_compliance.errors import ExitCode

SUITE = Path(__file__).resolve().parents[2] / "suites" / "test_deployment_audit.py"
_OUTCOME = re.compile(r"::test_deployment_file_follows_the_rule\[(?P<id>[^\]]+)\] (?P<outcome>[A-Z]+)")


@pytest.fixture
def run_suite(pytester: pytest.Pytester):
    """Run the suite module with the given options; reports go to the test's own folder."""

    def run(*args: str) -> pytest.RunResult:
        report_dir = pytester.path / "reports"
        return pytester.runpytest_subprocess(
            str(SUITE), "-p", "no:cacheprovider", "-v", "--report-dir", str(report_dir), *args
        )

    return run


def report_texts(report_dir: Path) -> list[str]:
    """Every report file as text, with the evidence pytest-html embeds as base64 data URIs decoded."""
    texts = []
    for path in report_dir.iterdir():
        text = html.unescape(path.read_text())
        texts.append(text)
        for encoded in re.findall(r"data:text/plain;charset=utf-8;base64,([A-Za-z0-9+/=]+)", text):
            texts.append(base64.b64decode(encoded).decode("utf-8", errors="replace"))
    return texts


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    return {m["id"]: m["outcome"] for m in _OUTCOME.finditer(result.stdout.str())}


def deployment_args(*paths: Path) -> list[str]:
    return [arg for path in paths for arg in ("--deployment", str(path))]


def test_correct_files_pass_every_rule_and_write_the_usual_reports(run_suite, pytester, corpus: Path) -> None:
    files = [corpus / "compose-ok.yaml", corpus / "kubernetes-ok.yaml", corpus / "engine-ok.env"]
    result = run_suite(*deployment_args(*files))
    expected = {
        f"{rule.requirement}-{rule.id}-{deployment.display_name}"
        for deployment in load_deployments(files)
        for rule in RULES
        if rule.applies_to(deployment)
    }
    assert outcomes(result) == dict.fromkeys(expected, "PASSED")
    assert result.ret == ExitCode.OK
    results = json.loads((pytester.path / "reports" / "results.json").read_text())
    statuses = {r["id"]: r["status"] for r in results["requirements"]}
    for rule in RULES:
        assert statuses[rule.requirement] == "pass"
    assert (pytester.path / "reports" / "junit.xml").is_file()


def test_each_check_fails_exactly_when_its_rule_finds_an_error(run_suite, corpus: Path) -> None:
    result = run_suite("--deployment", str(corpus))
    expected = {}
    for deployment in load_deployments([corpus]):
        for rule in RULES:
            if rule.applies_to(deployment):
                errors = [f for f in rule.check(deployment) if f.severity == "error"]
                expected[f"{rule.requirement}-{rule.id}-{deployment.display_name}"] = (
                    "FAILED" if errors else "PASSED"
                )
    assert outcomes(result) == expected
    assert result.ret == ExitCode.TESTS_FAILED


def test_a_failing_check_reports_file_line_service_variable_and_fix(run_suite, corpus: Path) -> None:
    result = run_suite("--deployment", str(corpus / "compose-url-form.yaml"))
    assert outcomes(result)["ENV-5-url-form-compose-url-form.yaml"] == "FAILED"
    result.stdout.fnmatch_lines(
        [
            "*compose-url-form.yaml:13 [[]catalog[]] HTTPS_PROXY: 'proxy.corp.example:3128' is not in "
            "the form*(stack: go). Fix: write HTTPS_PROXY: http://proxy.corp.example:3128"
        ]
    )


def test_warnings_do_not_fail_but_are_kept_as_evidence(run_suite, pytester, corpus: Path) -> None:
    result = run_suite("--deployment", str(corpus / "compose-url-form.yaml"))
    assert outcomes(result)["ENV-2-proxy-tls-compose-url-form.yaml"] == "PASSED"
    results = json.loads((pytester.path / "reports" / "results.json").read_text())
    assert {r["id"]: r["status"] for r in results["requirements"]}["ENV-2"] == "pass"
    evidence = "\n".join(report_texts(pytester.path / "reports"))
    assert "[deployment warning/" in evidence
    assert (
        "compose-url-form.yaml:23 [policy-engine] HTTPS_PROXY: 'https://proxy.corp.example:3128' makes"
        in evidence
    )


def test_requirement_ids_select_checks_with_k(run_suite, corpus: Path) -> None:
    result = run_suite("--deployment", str(corpus / "compose-quoted.yaml"), "-k", "ENV-6")
    assert outcomes(result) == {"ENV-6-quotes-compose-quoted.yaml": "FAILED"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("services:\n  api: [unclosed\n", "not valid YAML", id="not-yaml"),
        pytest.param(
            "apiVersion: example.com/v1\nkind: Widget\n", "unknown Kubernetes kind Widget", id="unknown-kind"
        ),
    ],
)
def test_bad_input_ends_the_run_with_one_line_and_its_own_exit_code(
    run_suite, pytester, content: str, message: str
) -> None:
    bad = pytester.path / "bad.yaml"
    bad.write_text(content)
    result = run_suite("--deployment", str(bad))
    assert result.ret == ExitCode.DEPLOYMENT_INPUT
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1
    assert f"--deployment {bad}: {message}" in lines[0]


def test_without_deployment_the_module_yields_no_check_and_no_warning(pytester) -> None:
    # As users run it: the suites folder, whose conftest leaves the audit module out.
    result = pytester.runpytest_subprocess(
        str(SUITE.parent),
        "--rootdir",
        str(SUITE.parents[1]),
        "-p",
        "no:cacheprovider",
        "--collect-only",
        "-q",
    )
    assert result.ret == ExitCode.OK
    output = result.stdout.str() + result.stderr.str()
    assert "test_deployment_file_follows_the_rule" not in output
    assert "warnings summary" not in output
    assert not re.search(r"\d+ warnings?\b", output)


def test_no_report_or_output_shows_a_secret(run_suite, pytester, corpus: Path, secret_spellings) -> None:
    result = run_suite("--deployment", str(corpus), "-l", "--tb=long")
    assert outcomes(result)["AUTH-2-credentials-compose-credentials.yaml"] == "FAILED"
    texts = [result.stdout.str(), result.stderr.str()]
    texts += report_texts(pytester.path / "reports")
    assert any("[deployment error/" in text for text in texts)  # the evidence was decoded
    leaked = sorted({form for form in secret_spellings for text in texts if form in text})
    assert not leaked
