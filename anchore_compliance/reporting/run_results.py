"""Controller side at the end of a run: results.json, certification verdict, bundle, summary."""

from __future__ import annotations

import datetime
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from anchore_compliance import __version__
from anchore_compliance.catalog import load_catalog
from anchore_compliance.fixtures.timings import summarize_timings
from anchore_compliance.reporting.bundle import write_bundle
from anchore_compliance.reporting.certification import certification_exit_code, certify, explain_skips
from anchore_compliance.reporting.json_report import write_results_json
from anchore_compliance.results import Status, summarize
from anchore_compliance.state import (
    ATTACH_KEY,
    CERTIFICATION_KEY,
    COLLECTOR_KEY,
    DECLARATION_KEY,
    REQUIREMENTS_KEY,
    RUN_KEY,
    SETTINGS_KEY,
    is_worker,
)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_results(config: pytest.Config) -> dict | None:
    """Write results.json; return the run information (None when nothing was set up)."""
    settings = config.stash.get(SETTINGS_KEY, None)
    collector = config.stash.get(COLLECTOR_KEY, None)
    if settings is None or collector is None:
        return None
    run = config.stash[RUN_KEY]
    run_error = run.get("error")
    requirements = summarize(load_catalog(), collector.checks.values())
    if run_error:
        for requirement in requirements:
            requirement.status, requirement.reason = Status.ERROR, run_error
    profile = settings.profile
    run_info = {
        "suite": {"name": "anchore-compliance", "version": __version__, "git_commit": git_commit()},
        "run_id": run["run_id"],
        "engine": {
            "profile": profile.name,
            "product": profile.product,
            "images": list(profile.images),
            "declared_version": profile.version,
            "reported_version": collector.engine_info.get("engine_version"),
        },
        "mode": "launch",
        "backend": run.get("backend"),
        "config": settings.redacted(),
        "started": run["started"],
        "finished": now(),
        "error": run_error,
        "workers": getattr(config.option, "numprocesses", None) or 0,
        "timings": {
            "wall_seconds": round(time.monotonic() - run["monotonic_start"], 3),
            "checks": len(collector.checks),
            **summarize_timings(run.get("timing_events", [])),
        },
    }
    attached = config.stash.get(ATTACH_KEY, None)
    if attached is not None:
        # The suite launched nothing: the profile's images and product say nothing of this engine.
        run_info["mode"] = "attach"
        run_info["engine"] = {
            "profile": None,
            "images": [],
            "reported_version": run_info["engine"]["reported_version"],
            **attached.redacted(),
        }
    config.stash[REQUIREMENTS_KEY] = requirements
    if config.getoption("certification"):
        certification = certify(requirements)
        config.stash[CERTIFICATION_KEY] = certification
        run_info["certification"] = certification.to_json()
    write_results_json(settings.report_dir / "results.json", run_info, requirements)
    return run_info


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist: collect each worker's timing ledger and raw logs."""
    output = getattr(node, "workeroutput", {})
    run = node.config.stash[RUN_KEY]
    run.setdefault("timing_events", []).extend(output.get("anchore_compliance_timings", []))
    run.setdefault("raw_logs", {}).update(output.get("anchore_compliance_logs", {}))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session):
    # A wrapper's second half runs after every plain implementation, so JUnit and pytest-html
    # have written their files (the bundle copies them); trylast keeps it inside the terminal
    # reporter's wrapper, whose summary then shows the verdict.
    result = yield
    _finish(session)
    return result


def _finish(session: pytest.Session) -> None:
    from anchore_compliance.fixtures.timings import LEDGER
    from anchore_compliance.fixtures.wire_logs import RAW_LOGS

    config = session.config
    if is_worker(config):
        config.workeroutput["anchore_compliance_timings"] = LEDGER.events
        config.workeroutput["anchore_compliance_logs"] = RAW_LOGS
        return
    if config.option.collectonly:
        return
    run = config.stash[RUN_KEY]
    run.setdefault("timing_events", []).extend(LEDGER.events)
    run.setdefault("raw_logs", {}).update(RAW_LOGS)
    run_info = write_results(config)
    certification = config.stash.get(CERTIFICATION_KEY, None)
    if certification is not None and run_info is not None:
        session.exitstatus = certification_exit_code(certification, session.exitstatus)
        _write_bundle(config, run_info)


def _write_bundle(config: pytest.Config, run_info: dict) -> None:
    settings = config.stash[SETTINGS_KEY]
    html_path = getattr(config.option, "htmlpath", None)
    reproduce = "\n".join(
        [
            f"git checkout {run_info['suite']['git_commit']}",
            "scripts/bootstrap",
            shlex.join([".venv/bin/tox", "-e", "compliance", "--", *config.invocation_params.args]),
        ]
    )
    try:
        path = write_bundle(
            settings.report_dir / "certification-bundle",
            declaration=config.stash[DECLARATION_KEY],
            run=run_info,
            results_json=settings.report_dir / "results.json",
            junit_xml=Path(config.option.xmlpath) if config.option.xmlpath else None,
            report_html=Path(html_path) if html_path else None,
            logs=config.stash[RUN_KEY].get("raw_logs", {}),
            reproduce=reproduce,
        )
        config.stash[RUN_KEY]["bundle"] = str(path)
    except (OSError, ValueError) as error:
        config.stash[RUN_KEY]["bundle_error"] = f"certification bundle not written: {error}"


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if is_worker(config) or settings is None or config.option.collectonly:
        return
    path = settings.report_dir / "results.json"
    if path.exists():
        terminalreporter.write_sep("-", f"compliance results: {path}")
    certification = config.stash.get(CERTIFICATION_KEY, None)
    requirements = config.stash.get(REQUIREMENTS_KEY, None)
    if certification is not None:
        for line in certification.summary_lines():
            terminalreporter.write_line(line)
        run = config.stash[RUN_KEY]
        terminalreporter.write_line(run.get("bundle_error") or f"certification bundle: {run.get('bundle')}")
    elif requirements:
        for line in explain_skips(requirements):
            terminalreporter.write_line(line)
