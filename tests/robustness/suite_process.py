"""A run of the compliance suite as a subprocess, watched from outside, and what it leaves behind.

A run is told apart from everything else on the machine (other engineers run suites at the same
time) by what the suite writes on its own resources: the owner-pid and owner-host labels of its
containers and networks (`backend.run_labels`), a private TMPDIR for the temp dirs it makes, and
its own session for its processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import pytest

from anchore_compliance.fixtures.infra.backend import (
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_SUITE,
    ContainerBackend,
    retry_network_race,
)
from anchore_compliance.fixtures.infra.images import BUILD_LOCK
from anchore_compliance.fixtures.infra.ownership import TEMP_DIR_PREFIX

ROOT = Path(__file__).resolve().parents[2]
# SVC-1 runs in two scenarios (direct, proxy): infrastructure, squid and two engine launches.
SUBSET = ("--requirement", "SVC-1")
# Most cases need one engine only: SVC-1 in the direct scenario, or behind squid in the proxy one.
DIRECT_ONLY = ("-k", "SVC-1-direct")
PROXY_ONLY = ("-k", "SVC-1-proxy")
EXIT_TIMEOUT = 120.0
WATCH_TIMEOUT = 180.0


@dataclass(frozen=True)
class Leftovers:
    """What a finished run left behind, by kind; empty means nothing."""

    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    temp_dirs: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()

    @property
    def labelled(self) -> tuple[str, ...]:
        """What the label-based reaper can find."""
        return self.containers + self.networks + self.volumes

    def __bool__(self) -> bool:
        return bool(self.labelled or self.temp_dirs or self.processes)

    def __str__(self) -> str:
        kinds = ("containers", "networks", "volumes", "temp_dirs", "processes")
        return "; ".join(f"{kind}: {', '.join(getattr(self, kind))}" for kind in kinds if getattr(self, kind))


@dataclass
class Watch:
    """What an observer outside the run sees at one instant: for deciding when to signal it."""

    elapsed: float
    containers: set[str]  # names of the run's containers that exist now
    running_since: dict[str, float] = field(default_factory=dict)  # when each was first seen running
    output: str = ""


def _session_processes(session_id: int) -> list[str]:
    """Processes still in the session the suite was started in (its children, grandchildren)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        # Fields after the command name: state, ppid, pgrp, session, ...
        if int(text.rsplit(")", 1)[1].split()[3]) == session_id:
            found.append(f"{stat.parent.name} {cmdline or text.split()[1]}")
    return found


class SuiteProcess:
    """One run of the compliance suite (`python -m pytest suites ...`), started and watched from outside."""

    def __init__(
        self,
        workdir: Path,
        backend: ContainerBackend,
        *args: str,
        env: dict[str, str] | None = None,
        tmpdir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True)
        # The run's TMPDIR: its own, or an earlier run's (to see what that run left reaped).
        self.tmpdir = tmpdir or workdir / "tmp"
        if tmpdir is None:
            self.tmpdir.mkdir()
            # The image build lock must stay the machine-wide one, or a build could race another run's.
            (self.tmpdir / BUILD_LOCK).symlink_to(Path(tempfile.gettempdir()) / BUILD_LOCK)
        self.report_dir = workdir / "reports"
        self.log = workdir / "output.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        environ.setdefault("ANCHORE_COMPLIANCE_IMAGE_SET", "local")
        environ |= {"TMPDIR": str(self.tmpdir), "PYTHONUNBUFFERED": "1", **(env or {})}
        command = [
            sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-v",
            "--report-dir", str(self.report_dir), *args,
        ]  # fmt: skip
        self._client = docker.DockerClient(base_url=backend.docker_host, timeout=60)
        self._volumes_before = self._volume_names()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started = time.monotonic()

    @property
    def owner_filter(self) -> dict[str, list[str]]:
        """The labels the suite puts on everything this process creates (see backend.run_labels)."""
        return {
            "label": [
                LABEL_SUITE,
                f"{LABEL_OWNER_PID}={self.proc.pid}",
                f"{LABEL_OWNER_HOST}={socket.gethostname()}",
            ]
        }

    def _container_list(self) -> list[dict]:
        return retry_network_race(lambda: self._client.api.containers(all=True, filters=self.owner_filter))

    def containers(self) -> dict[str, str]:
        """Name -> id of every container of this run, running or not."""
        return {c["Names"][0].lstrip("/"): c["Id"] for c in self._container_list()}

    def networks(self) -> dict[str, str]:
        listing = retry_network_race(lambda: self._client.api.networks(filters=self.owner_filter))
        return {n["Name"]: n["Id"] for n in listing}

    def _volume_names(self, filters: dict | None = None) -> set[str]:
        return {v["Name"] for v in self._client.api.volumes(filters=filters).get("Volumes") or []}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def watch_until(self, reached: Callable[[Watch], bool], what: str) -> Watch:
        """Poll the run every 50 ms until `reached` says so; fail if it ends or takes too long first."""
        watch = Watch(elapsed=0.0, containers=set())
        while True:
            watch.elapsed = time.monotonic() - self.started
            listed = self._container_list()
            watch.containers = {c["Names"][0].lstrip("/") for c in listed}
            for container in listed:
                if container.get("State") == "running":
                    watch.running_since.setdefault(container["Names"][0].lstrip("/"), watch.elapsed)
            watch.output = self.output()
            if reached(watch):
                return watch
            if self.proc.poll() is not None:
                pytest.fail(
                    f"the run ended (exit {self.proc.returncode}) before {what}\n{watch.output[-3000:]}"
                )
            if watch.elapsed > WATCH_TIMEOUT:
                pytest.fail(f"no {what} after {WATCH_TIMEOUT:.0f} s\n{watch.output[-3000:]}")
            time.sleep(0.05)

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = EXIT_TIMEOUT) -> int:
        """Wait for the process to exit (and reap it: a zombie still counts as an alive owner)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the suite did not exit within {timeout:.0f} s\n{self.output()[-3000:]}")

    def results(self) -> dict | None:
        path = self.report_dir / "results.json"
        return json.loads(path.read_text()) if path.exists() else None

    def leftovers(self) -> Leftovers:
        """Everything of this run that still exists; call once the process has exited."""
        new_volumes = self._volume_names() - self._volumes_before
        labelled_volumes = self._volume_names(self.owner_filter)
        return Leftovers(
            containers=tuple(sorted(self.containers())),
            networks=tuple(sorted(self.networks())),
            volumes=tuple(sorted(new_volumes | labelled_volumes)),
            temp_dirs=tuple(sorted(p.name for p in self.tmpdir.glob(f"{TEMP_DIR_PREFIX}*"))),
            processes=tuple(_session_processes(self.proc.pid)),
        )

    def clean_up(self) -> None:
        """Remove whatever this run left, so that a failed or expected-to-fail case leaves nothing."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pid_line in _session_processes(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_line.split()[0]), signal.SIGKILL)
        for container_id in self.containers().values():
            with contextlib.suppress(docker.errors.APIError):
                self._client.api.remove_container(container_id, force=True, v=True)
        for network_id in self.networks().values():
            with contextlib.suppress(docker.errors.APIError):
                self._client.api.remove_network(network_id)
        self._client.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class SuiteRuns:
    """Starts runs on SUBSET plus extra arguments, and removes whatever they left when closed."""

    def __init__(self, workdir: Path, backend: ContainerBackend) -> None:
        self._workdir = workdir
        self._backend = backend
        self._runs: list[SuiteProcess] = []

    def start(
        self, *args: str, name: str = "run", env: dict[str, str] | None = None, tmpdir: Path | None = None
    ) -> SuiteProcess:
        run = SuiteProcess(self._workdir / name, self._backend, *SUBSET, *args, env=env, tmpdir=tmpdir)
        self._runs.append(run)
        return run

    def close(self) -> None:
        for run in self._runs:
            run.clean_up()
