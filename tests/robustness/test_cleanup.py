"""Nothing left behind: however a run of the suite ends, it leaves no container, network, volume,
process or temp dir, except when killed outright; then the next run (or `backend reap`) removes
what it left, by the owner its labels and temp dirs' owner files name.

Each case starts the suite on a small subset (SVC-1, in one scenario unless it needs both) as a
subprocess, ends it in its own way, and looks at what is left (suite_process.SuiteProcess tells a
run's resources apart from other runs on the same machine). A case that fails because the suite
leaks is marked xfail(strict) with the leak's location, so the selftests stay green and the leak
stays visible.

Interrupts must land where the case says, every time, or the exit code says nothing. A real
SIGINT from outside is sent only where its moment is wide: during an engine's readiness wait that
can never end (an engine that never becomes ready; the wait is bounded by a --ready-timeout far
longer than the test needs). Everywhere else SIGINT is raised inside the suite at one exact point
(interrupt_injection.py): the windows between "the container exists" and "the suite holds its
handle", just before a removal request, or inside pytest's reporting of a check are milliseconds
wide, and an outside signal hit them only now and then (and once, inside pytest's interrupt
reporting, made the run exit 1). Even "before pytest starts" is no moment for an outside
signal: one that lands while the interpreter imports `site` ends it with a fatal error, exit 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from suite_process import DIRECT_ONLY, PROXY_ONLY, ROOT, Leftovers, SuiteProcess, SuiteRuns, Watch

FAULTY_ENGINE = ("--engine-env", "REFERENCE_ENGINE_FAULTS=catalog-unreachable")
NEVER_READY_ENGINE = (
    "--engine-profile", str(ROOT / "tests" / "profiles" / "never-ready.yaml"), "--ready-timeout", "120",
)  # fmt: skip
HERE = str(ROOT / "tests" / "robustness")
REAP_TIMEOUT = 120


def _engine_containers(names: Iterable[str]) -> set[str]:
    # Only the engine's containers have names (acs-<run>-<worker>-<scenario>-<service>); squid,
    # registry and feed endpoint get the container engine's random names.
    return {name for name in names if name.startswith("acs-")}


def _waiting_for_engine(watch: Watch) -> bool:
    """An engine container has run for 1 s: the launch is in its readiness wait, which cannot end."""
    since = [watch.running_since[name] for name in _engine_containers(watch.running_since)]
    return any(watch.elapsed - t >= 1 for t in since)


def assert_nothing_left(run: SuiteProcess) -> None:
    left = run.leftovers()
    assert not left, f"the run left: {left}\n{run.output()[-3000:]}"


def _xfail_if(leak: str | None) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=f"LEAK: {leak}")] if leak else []


def test_failing_run_leaves_nothing(suite_runs: SuiteRuns):
    run = suite_runs.start(*FAULTY_ENGINE, *PROXY_ONLY)
    assert run.wait() == 1, run.output()[-3000:]
    statuses = {r["id"]: r["status"] for r in run.results()["requirements"]}
    assert statuses["SVC-1"] == "fail", run.output()[-3000:]
    assert_nothing_left(run)


def test_outside_interrupt_in_a_readiness_wait_exits_2_and_leaves_nothing(suite_runs: SuiteRuns):
    # Registry, feed endpoint and the engine container exist; the engine never gets ready.
    run = suite_runs.start(*NEVER_READY_ENGINE, *DIRECT_ONLY)
    run.watch_until(_waiting_for_engine, "the engine's readiness wait")
    run.send(signal.SIGINT)
    assert run.wait() == 2, run.output()[-3000:]
    assert_nothing_left(run)


@dataclass(frozen=True)
class Injection:
    """SIGINT raised inside the suite at `point` (see interrupt_injection.py), the exit it gives,
    and `leak` if it leaks."""

    point: str
    args: tuple[str, ...] = DIRECT_ONLY
    returncode: int = 2  # pytest reports the interrupt
    leak: str | None = None


INJECTIONS = (
    # pytest is still loading plugins: nothing exists yet, and pytest does not catch an interrupt
    # before its session starts, so the process dies of the signal.
    Injection("at-load", returncode=-signal.SIGINT),
    # Interrupted after podman created a container but before its handle was kept, before a
    # removal request, or while logs are read before teardown: each process's last cleanup
    # (plugin pytest_unconfigure -> backend.remove_own_leftovers) removes what it labelled.
    Injection("after-create:registry"),
    Injection("after-create:reference-engine"),
    Injection("before-logs:reference-engine"),
    # EngineDeployment.stop runs twice (its __exit__ and the engine.stop callback): a removal
    # interrupted in the first is done by the second.
    Injection("before-remove:reference-engine"),
    # Checks are running: pytest has just reported the first check, its engine is up.
    Injection("after-report:SVC-1-direct"),
    # Every check is reported: the session's teardown stops the last engine and squid, and then
    # the outside services. An interrupt there cuts teardown short; each process removes what
    # it labelled at exit.
    Injection("before-remove:squid", PROXY_ONLY),
    Injection("before-remove:registry"),
)


@pytest.mark.parametrize(
    "injection", [pytest.param(i, id=i.point, marks=_xfail_if(i.leak)) for i in INJECTIONS]
)
def test_run_interrupted_at_an_exact_point_exits_and_leaves_nothing(
    suite_runs: SuiteRuns, injection: Injection
):
    run = suite_runs.start(
        *injection.args,
        "-p",
        "interrupt_injection",
        env={"PYTHONPATH": HERE, "ACS_INTERRUPT_AT": injection.point},
    )
    returncode = run.wait()
    assert returncode == injection.returncode, f"interrupted at {injection.point}:\n{run.output()[-3000:]}"
    assert_nothing_left(run)


@pytest.fixture
def killed_run(suite_runs: SuiteRuns) -> tuple[SuiteProcess, Leftovers]:
    """A run killed with SIGKILL once its engine's containers exist, and what it left right then."""
    killed = suite_runs.start(*DIRECT_ONLY, name="killed")
    killed.watch_until(lambda w: bool(_engine_containers(w.containers)), "engine containers")
    killed.send(signal.SIGKILL)
    killed.wait()
    return killed, killed.leftovers()


def assert_a_kill_leaves_everything(after_kill: Leftovers) -> None:
    """Nothing cleans up after SIGKILL: what the reaper must remove is all there."""
    assert after_kill.containers, f"expected the killed run's containers to remain: {after_kill}"
    assert after_kill.networks, f"expected the killed run's networks to remain: {after_kill}"
    assert after_kill.temp_dirs, f"expected the killed run's temp dirs to remain: {after_kill}"


def test_reap_command_removes_what_a_killed_run_left(killed_run: tuple[SuiteProcess, Leftovers]):
    killed, after_kill = killed_run
    assert_a_kill_leaves_everything(after_kill)
    reap = subprocess.run(
        [sys.executable, "-m", "anchore_compliance.fixtures.infra.backend", "reap"],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(killed.tmpdir)},  # where the killed run made its temp dirs
        capture_output=True,
        text=True,
        timeout=REAP_TIMEOUT,
        check=False,
    )
    assert reap.returncode == 0, reap.stdout + reap.stderr
    assert not killed.leftovers(), f"the reaper left: {killed.leftovers()}"


def test_passing_run_leaves_nothing_and_removes_what_a_killed_run_left(
    suite_runs: SuiteRuns, killed_run: tuple[SuiteProcess, Leftovers]
):
    killed, after_kill = killed_run
    assert_a_kill_leaves_everything(after_kill)
    # Any run that needs containers first reaps what runs with dead owners left; this one
    # shares the killed run's TMPDIR, as successive runs on one machine do.
    run = suite_runs.start(name="next", tmpdir=killed.tmpdir)
    assert run.wait() == 0, run.output()[-3000:]
    assert run.results()["run"]["summary"]["pass"] == 1
    assert_nothing_left(run)
    assert not killed.leftovers(), f"the next run left of the killed one: {killed.leftovers()}"
