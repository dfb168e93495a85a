"""Benchmark the compliance matrix against the reference engine: serially, then with `-n 2`.

Why a script and not a timed test: timings on a shared machine vary, so a missed target is a
figure to look at, not a failure. Each run is a plain `python -m pytest suites` subprocess, as a
user runs it, and the infrastructure and engine figures are the suite's own (`run.timings` in
results.json), so the benchmark reads what every user's report says. The exit status is non-zero
only when a run itself failed (see `MatrixRun.failure`).

    python scripts/bench.py [--output reports/bench.json] [--profile] [pytest args...]

Unknown arguments go to both pytest runs (e.g. `--engine-profile`, `--requirement`). With
`--profile`, only the serial matrix runs, under cProfile (its overhead would distort the
benchmark): the script prints where the suite process spends its time and keeps the profile in
reports/bench-profile.prof (`python -m pstats` reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARALLEL_WORKERS = 2
# The issue's targets ("Fast and robust, measured").
MAX_PARALLEL_WALL = 60.0
MAX_INFRA_SHARE = 0.10
MIN_SPEEDUP = 1.6
# Exit codes of a run that judged the engine: 0 all passed, 1 a check failed.
JUDGED = (0, 1)


@dataclass(frozen=True)
class MatrixRun:
    """One subprocess run of the suite: what the script saw and what the suite reported."""

    label: str
    returncode: int
    wall_seconds: float
    results: dict | None
    output: str

    @property
    def failure(self) -> str | None:
        """Why the run says nothing about timing or verdicts, or None when it completed.

        A requirement in `fail` is the engine's verdict, not a failed run; `error` is the suite's
        own machinery failing, so the run's figures cannot be trusted.
        """
        if self.results is None:
            return f"no results.json (exit {self.returncode})"
        if self.returncode not in JUDGED:
            return f"exit {self.returncode}: {self.results['run'].get('error') or 'see output'}"
        errors = [r["id"] for r in self.results["requirements"] if r["status"] == "error"]
        if errors:
            return f"suite errors in {', '.join(errors)}"
        return None

    @property
    def timings(self) -> dict:
        return (self.results or {}).get("run", {}).get("timings", {})

    def infra_share(self) -> float | None:
        """Infrastructure time over the time available to the processes that started it.

        With -n N every worker starts its own infrastructure, so its seconds add up across
        workers; dividing by wall * N keeps the share comparable with a serial run.
        """
        infra = self.timings.get("infrastructure_seconds")
        if infra is None or self.wall_seconds <= 0:
            return None
        workers = max(1, (self.results or {}).get("run", {}).get("workers") or 1)
        return infra / (self.wall_seconds * workers)

    def summary(self) -> dict:
        run = (self.results or {}).get("run", {})
        share = self.infra_share()
        return {
            "label": self.label,
            "returncode": self.returncode,
            "failure": self.failure,
            "run_id": run.get("run_id"),
            "workers": run.get("workers"),
            "wall_seconds": round(self.wall_seconds, 3),
            "suite_wall_seconds": self.timings.get("wall_seconds"),
            "infrastructure_seconds": self.timings.get("infrastructure_seconds"),
            "infrastructure_share": None if share is None else round(share, 4),
            "engine_start_seconds": self.timings.get("engine_start_seconds"),
            "engine_stop_seconds": self.timings.get("engine_stop_seconds"),
            "engine_launches": self.timings.get("engine_launches"),
            "scenarios": self.timings.get("scenarios"),
            "checks": self.timings.get("checks"),
            "verdicts": run.get("summary"),
        }


def run_matrix(
    label: str, report_dir: Path, pytest_args: list[str], *, workers: int = 0, prefix: list[str] | None = None
) -> MatrixRun:
    """Run the whole matrix once in a subprocess, timing it from outside.

    `prefix` replaces the plain `python` (e.g. `python -m cProfile -o FILE`).
    """
    command = [
        *(prefix or [sys.executable]), "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q",
        "--report-dir", str(report_dir), *(["-n", str(workers)] if workers else []), *pytest_args,
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    results_path = report_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else None
    return MatrixRun(label, done.returncode, wall, results, done.stdout + done.stderr)


def evaluate_targets(serial: MatrixRun, parallel: MatrixRun) -> tuple[float | None, list[dict]]:
    """The speed-up and each target with its measured value and whether it was met."""
    speedup = serial.wall_seconds / parallel.wall_seconds if parallel.wall_seconds else None
    shares = [run.infra_share() for run in (serial, parallel)]
    launches = [
        (run.timings.get("engine_launches"), run.timings.get("scenarios")) for run in (serial, parallel)
    ]
    targets = [
        {
            "target": f"matrix with -n {PARALLEL_WORKERS} <= {MAX_PARALLEL_WALL:.0f} s",
            "value": f"{parallel.wall_seconds:.1f} s",
            "met": parallel.wall_seconds <= MAX_PARALLEL_WALL,
        },
        {
            "target": f"infrastructure <= {MAX_INFRA_SHARE:.0%} of wall (serial, -n {PARALLEL_WORKERS})",
            "value": " / ".join("?" if s is None else f"{s:.1%}" for s in shares),
            "met": all(s is not None and s <= MAX_INFRA_SHARE for s in shares),
        },
        {
            "target": f"engine launches == distinct scenarios (serial, -n {PARALLEL_WORKERS})",
            "value": " / ".join(f"{n} vs {s}" for n, s in launches),
            "met": all(n is not None and n == s for n, s in launches),
        },
        {
            "target": f"speed-up >= {MIN_SPEEDUP}x",
            "value": "?" if speedup is None else f"{speedup:.2f}x",
            "met": speedup is not None and speedup >= MIN_SPEEDUP,
        },
    ]
    return speedup, targets


def _fmt(value: object, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def print_runs(runs: list[MatrixRun]) -> None:
    print(
        f"{'run':<8} {'wall s':>7} {'suite s':>7} {'infra s':>7} {'infra%':>6} {'eng up s':>8} "
        f"{'eng dn s':>8} {'launch':>6} {'scen':>4} {'checks':>6}  verdicts"
    )
    for run in runs:
        s = run.summary()
        percent = None if s["infrastructure_share"] is None else s["infrastructure_share"] * 100
        verdicts = ", ".join(f"{k} {v}" for k, v in (s["verdicts"] or {}).items() if v) or s["failure"]
        print(
            f"{s['label']:<8} {s['wall_seconds']:>7.1f} {_fmt(s['suite_wall_seconds'], '.1f'):>7} "
            f"{_fmt(s['infrastructure_seconds'], '.1f'):>7} {_fmt(percent, '.1f'):>6} "
            f"{_fmt(s['engine_start_seconds'], '.1f'):>8} {_fmt(s['engine_stop_seconds'], '.1f'):>8} "
            f"{_fmt(s['engine_launches']):>6} {_fmt(s['scenarios']):>4} {_fmt(s['checks']):>6}  {verdicts}"
        )


def report_failures(runs: list[MatrixRun]) -> int:
    """Print why each failed run failed, with the end of its output; return 1 if any did."""
    failed = [run for run in runs if run.failure]
    for run in failed:
        print(f"\nrun {run.label} failed: {run.failure}\n{run.output[-3000:]}", file=sys.stderr)
    return 1 if failed else 0


def benchmark(pytest_args: list[str], output: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="anchore-bench-") as tmp:
        serial = run_matrix("serial", Path(tmp, "serial"), pytest_args)
        parallel = run_matrix(
            f"-n {PARALLEL_WORKERS}", Path(tmp, "parallel"), pytest_args, workers=PARALLEL_WORKERS
        )
    speedup, targets = evaluate_targets(serial, parallel)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "pytest_args": pytest_args,
                "runs": {"serial": serial.summary(), "parallel": parallel.summary()},
                "speedup": None if speedup is None else round(speedup, 3),
                "targets": targets,
                "notes": {
                    "wall_seconds": "measured by bench.py around the subprocess",
                    "suite_wall_seconds": "the suite's own run.timings.wall_seconds",
                    "infrastructure_share": "infrastructure_seconds / (wall_seconds * workers)",
                },
            },
            indent=2,
        )
        + "\n"
    )
    print_runs([serial, parallel])
    print(f"speed-up {_fmt(speedup, '.2f')}x\n")
    for target in targets:
        print(f"{'met   ' if target['met'] else 'MISSED'} {target['target']:<52} {target['value']}")
    print(f"\nwritten: {output}")
    return report_failures([serial, parallel])


# Built-ins where the suite process waits rather than computes, by what it waits for.
WAITS = {
    "sleeping (readiness and log polls)": ("time.sleep",),
    "socket I/O (Docker API, engine API, logs)": ("_socket.socket", "_ssl._SSLSocket"),
    "waiting on subprocesses": ("posix.waitpid", "select.poll", "select.select"),
}


def print_profile(path: Path, top: int = 15) -> None:
    """The suite process's time: totals by kind of wait, the hottest functions, the suite's own code."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt
    rows = stats.stats  # {(file, line, name): (primitive calls, calls, own, cumulative, callers)}
    print(f"\nprofile: {path} ({total:.1f} s profiled in the suite process)")
    waited = 0.0
    for kind, needles in WAITS.items():
        seconds = sum(
            v[2] for (f, _, name), v in rows.items() if f == "~" and any(n in name for n in needles)
        )
        waited += seconds
        print(f"  {seconds:7.1f} s {seconds / total:6.1%}  {kind}")
    print(f"  {total - waited:7.1f} s {(total - waited) / total:6.1%}  everything else (Python running)")
    print(f"\ntop {top} by own time:")
    for (file, line, name), (_, calls, own, _, _) in sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"  {own:7.2f} s {calls:>7}x  {name}  {Path(file).name}:{line}")
    venv = str(ROOT / ".venv")
    ours = [
        (key, v) for key, v in rows.items() if key[0].startswith(str(ROOT)) and not key[0].startswith(venv)
    ]
    print(f"\ntop {top} of the project's own functions by cumulative time:")
    for (file, line, name), (_, calls, _, cumulative, _) in sorted(ours, key=lambda kv: -kv[1][3])[:top]:
        print(f"  {cumulative:7.2f} s {calls:>7}x  {name}  {Path(file).relative_to(ROOT)}:{line}")


def profile(pytest_args: list[str], output: Path) -> int:
    profile_path = output.with_name("bench-profile.prof")
    profile_path.parent.mkdir(parents=True, exist_ok=True)
    prefix = [sys.executable, "-m", "cProfile", "-o", str(profile_path)]
    with tempfile.TemporaryDirectory(prefix="anchore-bench-") as tmp:
        # cProfile exits 0 whatever pytest returned: judge the run by its results.json.
        run = run_matrix("profiled", Path(tmp, "serial"), pytest_args, prefix=prefix)
    print_runs([run])
    if profile_path.exists():
        print_profile(profile_path)
    return report_failures([run])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "bench.json")
    parser.add_argument("--profile", action="store_true", help="profile the serial matrix instead")
    args, pytest_args = parser.parse_known_args(argv)
    os.chdir(ROOT)
    return profile(pytest_args, args.output) if args.profile else benchmark(pytest_args, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
