"""The certification submission bundle, and its check.

A bundle is a folder a vendor hands to a reviewer:

    declaration.yaml     product, version, vendor (contact) as the vendor declared them
    suite.json           suite name, version and git commit; run id, engine, times, verdict
    results.json         the run's results (copy)
    junit.xml            the run's JUnit report (copy, when the run wrote one)
    report.html          the run's HTML report (copy, when the run wrote one)
    logs/<name>.log      raw proxy / registry / feed logs, redacted
    REPRODUCE.md         how to run the same certification again
    MANIFEST.sha256      `<sha256>  <path>` for every other file, sorted by path

Every file is written through the redactor: no byte reaches the bundle before it has been. The
manifest has GNU coreutils' format, so `sha256sum -c MANIFEST.sha256` (run inside the bundle)
checks it; `python -m anchore_compliance.reporting.bundle verify DIR` also finds files that were
added or whose manifest line was removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from anchore_compliance.redaction import REDACTOR
from anchore_compliance.reporting.certification import VendorDeclaration

MANIFEST = "MANIFEST.sha256"
DECLARATION = "declaration.yaml"
SUITE = "suite.json"
RESULTS = "results.json"
JUNIT = "junit.xml"
HTML = "report.html"
REPRODUCE = "REPRODUCE.md"
LOGS = "logs"
# Files every bundle has; the optional reports are listed in suite.json when absent.
REQUIRED_FILES = (DECLARATION, SUITE, RESULTS, REPRODUCE)
BUNDLE_FORMAT = 1

_LOG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_MANIFEST_LINE = re.compile(r"(?P<digest>[0-9a-fA-F]{64}) [ *](?P<path>.+)")
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _redacted_bytes(text: str) -> bytes:
    # surrogateescape: bytes that are not UTF-8 come back unchanged around the redacted text.
    return REDACTOR.redact(text).encode("utf-8", "surrogateescape")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_redacted_bytes(text))


def _copy_redacted(source: Path, target: Path) -> None:
    _write_text(target, source.read_bytes().decode("utf-8", "surrogateescape"))


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _reproduce_markdown(declaration: VendorDeclaration, run: dict[str, Any], reproduce: str) -> str:
    suite = run.get("suite") or {}
    engine = run.get("engine") or {}
    commands = reproduce.strip("\n") or "(no command recorded)"
    fence = _fence(commands)
    lines = [
        "# How to reproduce this certification run",
        "",
        f"- Product: {declaration.product} {declaration.version} (declared by {declaration.vendor})",
        f"- Suite: {suite.get('name', 'anchore-compliance')} {suite.get('version', '?')}"
        f" (git commit {suite.get('git_commit', 'unknown')})",
        f"- Run: {run.get('run_id', '?')}, started {run.get('started', '?')},"
        f" finished {run.get('finished', '?')}",
        f"- Engine profile: {engine.get('profile', '?')}",
        "",
        "## Commands",
        "",
        "Run from a checkout of the suite at the commit above, on a machine set up as its README says:",
        "",
        f"{fence}sh",
        commands,
        fence,
        "",
        "## Check this bundle",
        "",
        "Inside the bundle folder:",
        "",
        "```sh",
        "sha256sum -c MANIFEST.sha256",
        "python -m anchore_compliance.reporting.bundle verify .",
        "```",
        "",
        "`sha256sum -c` finds edited and deleted files; `verify` also finds files added to the bundle",
        "that the manifest does not list. Compare the SHA-256 of MANIFEST.sha256 itself with the one",
        "the vendor quoted in the submission: the manifest proves nothing if it was replaced too.",
        "",
    ]
    return "\n".join(lines)


def _suite_document(run: dict[str, Any], omitted: list[str]) -> dict[str, Any]:
    suite = dict(run.get("suite") or {})
    document = {
        "bundle_format": BUNDLE_FORMAT,
        "suite": {
            "name": suite.get("name", "anchore-compliance"),
            "version": suite.get("version"),
            "git_commit": suite.get("git_commit"),
        },
        "run_id": run.get("run_id"),
        "engine": run.get("engine"),
        "started": run.get("started"),
        "finished": run.get("finished"),
        "certification": run.get("certification"),
        "omitted": omitted,
    }
    return REDACTOR.redact_data(document)


def _is_previous_bundle(path: Path) -> bool:
    return (
        path.is_dir() and not path.is_symlink() and (not any(path.iterdir()) or (path / MANIFEST).is_file())
    )


def _bundle_files(root: Path) -> list[Path]:
    """Every non-directory entry under root (symlinks and special files included), sorted."""
    return sorted(
        (p for p in root.rglob("*") if p.is_symlink() or not p.is_dir()),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def _write_manifest(root: Path) -> None:
    lines = [
        f"{sha256_file(path)}  {path.relative_to(root).as_posix()}\n"
        for path in _bundle_files(root)
        if path.relative_to(root).as_posix() != MANIFEST
    ]
    (root / MANIFEST).write_text("".join(lines), encoding="utf-8")


def write_bundle(
    bundle_dir: Path,
    *,
    declaration: VendorDeclaration,
    run: dict[str, Any],
    results_json: Path,
    junit_xml: Path | None,
    report_html: Path | None,
    logs: dict[str, str],
    reproduce: str,
) -> Path:
    """Write the submission bundle to `bundle_dir` and return `bundle_dir`.

    `run` is the run document of results.json (suite, run_id, engine, started, finished and,
    when the caller adds it, certification). `logs` maps a log name (letters, digits, `.`, `_`,
    `-`) to its raw text; each becomes `logs/<name>.log`. A JUnit or HTML report that is None or
    was not written is left out and named under "omitted" in suite.json.

    The bundle is built in a sibling temporary folder and moved into place, so a reviewer never
    sees half a bundle. An existing `bundle_dir` is replaced only when it is empty or holds a
    previous bundle (a MANIFEST.sha256); anything else raises FileExistsError.
    """
    bundle_dir = Path(bundle_dir)
    results_json = Path(results_json)
    if not results_json.is_file():
        raise FileNotFoundError(f"results file {results_json} does not exist")
    for name in logs:
        if not _LOG_NAME.fullmatch(name):
            raise ValueError(f"log name {name!r}: use letters, digits, '.', '_' and '-' only")
    if bundle_dir.is_symlink() or (bundle_dir.exists() and not _is_previous_bundle(bundle_dir)):
        raise FileExistsError(f"{bundle_dir} exists and is not a previous bundle; not replacing it")

    bundle_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = bundle_dir.parent / f".{bundle_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        omitted = []
        _write_text(staging / DECLARATION, declaration.to_yaml())
        _copy_redacted(results_json, staging / RESULTS)
        for source, name in ((junit_xml, JUNIT), (report_html, HTML)):
            if source is not None and Path(source).is_file():
                _copy_redacted(Path(source), staging / name)
            else:
                omitted.append(f"{name}: {'not requested' if source is None else 'not written by this run'}")
        for name, text in sorted(logs.items()):
            _write_text(staging / LOGS / f"{name}.log", text)
        _write_text(staging / SUITE, json.dumps(_suite_document(run, omitted), indent=2) + "\n")
        _write_text(staging / REPRODUCE, _reproduce_markdown(declaration, run, reproduce))
        _write_manifest(staging)
        if bundle_dir.exists():
            shutil.rmtree(bundle_dir)
        staging.rename(bundle_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return bundle_dir


def manifest_digest(bundle_dir: Path) -> str:
    """SHA-256 of MANIFEST.sha256: the one value a vendor quotes so the manifest cannot be swapped."""
    return sha256_file(Path(bundle_dir) / MANIFEST)


def _safe_relative(path: str) -> bool:
    pure = PurePosixPath(path)
    return bool(path) and "\\" not in path and not pure.is_absolute() and ".." not in pure.parts


def verify_bundle(bundle_dir: Path) -> list[str]:
    """The problems found in a bundle: empty when it is intact.

    Finds a missing or malformed manifest, files the manifest lists that are missing or whose
    SHA-256 changed, files present but not listed (added, or their line removed), symbolic links
    and other non-regular files, and required bundle files absent altogether.
    """
    root = Path(bundle_dir)
    if not root.is_dir():
        return [f"{root}: not a directory"]
    manifest_path = root / MANIFEST
    if not manifest_path.is_file() or manifest_path.is_symlink():
        return [f"{MANIFEST}: missing"]
    try:
        manifest_lines = manifest_path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        return [f"{MANIFEST}: not UTF-8 text"]

    problems: list[str] = []
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest_lines, start=1):
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            problems.append(f"{MANIFEST} line {number}: not '<sha256>  <path>'")
            continue
        path = match["path"]
        if not _safe_relative(path) or path == MANIFEST:
            problems.append(f"{MANIFEST} line {number}: path {path!r} is not a file of the bundle")
        elif path in listed:
            problems.append(f"{MANIFEST} line {number}: {path} listed twice")
        else:
            listed[path] = match["digest"].lower()

    for path, digest in listed.items():
        target = root / path
        if target.is_symlink():
            problems.append(f"{path}: a symbolic link, not a file")
        elif not target.exists():
            problems.append(f"{path}: missing")
        elif not target.is_file():
            problems.append(f"{path}: not a regular file")
        elif sha256_file(target) != digest:
            problems.append(f"{path}: changed (SHA-256 differs from the manifest)")

    for entry in _bundle_files(root):
        relative = entry.relative_to(root).as_posix()
        if relative != MANIFEST and relative not in listed:
            kind = "a symbolic link " if entry.is_symlink() else ""
            problems.append(f"{relative}: {kind}not in the manifest (added after the bundle was written)")

    for required in REQUIRED_FILES:
        if required not in listed and not (root / required).exists():
            problems.append(f"{required}: missing, and every bundle has it")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anchore_compliance.reporting.bundle",
        description="Check a certification submission bundle against its MANIFEST.sha256.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check every file against the manifest; exit 0 when intact")
    verify.add_argument("bundle_dir", type=Path, metavar="DIR")
    args = parser.parse_args(argv)

    problems = verify_bundle(args.bundle_dir)
    if problems:
        for problem in problems:
            print(problem)
        print(f"bundle NOT intact: {len(problems)} problem(s)")
        return 1
    print("bundle intact")
    print(f"{MANIFEST} sha256: {manifest_digest(args.bundle_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
