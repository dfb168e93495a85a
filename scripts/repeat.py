"""Run the compliance matrix N times and report every requirement whose status changed.

Why: a verdict is only worth something if the same engine gets it every time. A status that
moves between identical runs is a flake (of the suite or of the engine) and must be found before
a user meets it. Runs are serial, each with its own report directory, so they cannot disturb each
other; the exit status is 1 when any requirement changed (a run without results counts as a
change: its requirements are `no-results`).

    python scripts/repeat.py N [pytest args...]      writes reports/repeat.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench import ROOT, MatrixRun, run_matrix

NO_RESULTS = "no-results"


def statuses(run: MatrixRun) -> dict[str, str]:
    if run.results is None:
        return {}
    return {r["id"]: r["status"] for r in run.results["requirements"]}


def changed_requirements(runs: list[MatrixRun]) -> dict[str, list[str]]:
    """Requirement ID -> its status in each run, for every requirement not the same in all."""
    per_run = [statuses(run) for run in runs]
    ids = sorted(set().union(*per_run))
    table = {rid: [s.get(rid, NO_RESULTS) for s in per_run] for rid in ids}
    if not ids:  # no run produced results at all
        table = {"(all)": [NO_RESULTS] * len(runs)}
    return {rid: row for rid, row in table.items() if len(set(row)) > 1 or NO_RESULTS in row}


def print_table(runs: list[MatrixRun], changed: dict[str, list[str]]) -> None:
    per_run = [statuses(run) for run in runs]
    ids = sorted(set().union(*per_run) | set(changed))
    header = "".join(f"{f'run {i}':>13}" for i in range(1, len(runs) + 1))
    print(f"  {'requirement':<12}{header}")
    for rid in ids:
        row = "".join(f"{s.get(rid, NO_RESULTS):>13}" for s in per_run)
        print(f"{'*' if rid in changed else ' '} {rid:<12}{row}")
    walls = ", ".join(f"{run.wall_seconds:.1f}" for run in runs)
    print(f"wall seconds per run: {walls}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("times", type=int, help="how many runs (N >= 2 to compare anything)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to every run")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "repeat.json")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="anchore-repeat-") as tmp:
        for index in range(1, args.times + 1):
            run = run_matrix(f"run {index}", Path(tmp, f"run-{index}"), args.pytest_args)
            why = f" ({run.failure})" if run.failure else ""
            line = f"run {index}/{args.times}: exit {run.returncode}, {run.wall_seconds:.1f} s{why}"
            print(line, flush=True)
            if run.results is None:
                print(run.output[-3000:], file=sys.stderr)
            runs.append(run)
    changed = changed_requirements(runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "times": args.times,
                "pytest_args": args.pytest_args,
                "runs": [
                    {
                        "returncode": run.returncode,
                        "failure": run.failure,
                        "wall_seconds": round(run.wall_seconds, 3),
                        "run_id": (run.results or {}).get("run", {}).get("run_id"),
                        "summary": (run.results or {}).get("run", {}).get("summary"),
                        "statuses": statuses(run),
                    }
                    for run in runs
                ],
                "changed": changed,
                "stable": not changed,
            },
            indent=2,
        )
        + "\n"
    )
    print_table(runs, changed)
    print(
        f"{len(changed)} requirement(s) changed status: {', '.join(changed)}"
        if changed
        else f"stable: no requirement changed status in {len(runs)} runs"
    )
    print(f"written: {args.output}")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
