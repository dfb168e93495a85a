"""Temp dirs name their owner, and only those of an owner that is gone are reaped."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from anchore_compliance.fixtures.infra import ownership
from anchore_compliance.fixtures.infra.ownership import (
    OWNER_FILE,
    Owner,
    make_owned_temp_dir,
    owner_of,
    remove_temp_dirs,
    remove_tree,
)


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp dir, as the suite sees it, for this test alone."""
    monkeypatch.setattr(ownership.tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _owned_dir(root: Path, name: str, owner: Owner) -> Path:
    path = root / name
    path.mkdir()
    (path / OWNER_FILE).write_text(json.dumps({"pid": owner.pid, "host": owner.host, "run_id": owner.run_id}))
    return path


def test_made_dir_is_named_after_its_process_and_records_it(temp_root: Path):
    path = make_owned_temp_dir("acs-run1-gw0", "run1")
    assert path.parent == temp_root
    assert path.name.startswith(f"acs-run1-gw0-{os.getpid()}-")
    assert owner_of(path) == Owner(os.getpid(), socket.gethostname(), "run1")


def test_only_dirs_of_a_dead_owner_on_this_host_are_reaped(temp_root: Path):
    host = socket.gethostname()
    dead = _owned_dir(temp_root, "acs-dead", Owner(_dead_pid(), host))
    alive = _owned_dir(temp_root, "acs-alive", Owner(os.getpid(), host))
    elsewhere = _owned_dir(temp_root, "acs-elsewhere", Owner(_dead_pid(), f"not-{host}"))
    unowned = temp_root / "acs-unowned"
    unowned.mkdir()
    removed, failed = remove_temp_dirs()
    assert (removed, failed) == ([dead], [])
    assert [p.exists() for p in (alive, elsewhere, unowned)] == [True, True, True]


def test_a_process_removes_only_its_own_dirs_at_exit(temp_root: Path):
    host = socket.gethostname()
    mine = _owned_dir(temp_root, "acs-mine", Owner(os.getpid(), host, "run1"))
    other_run = _owned_dir(temp_root, "acs-other-run", Owner(os.getpid(), host, "run2"))
    removed, _ = remove_temp_dirs(owner=Owner(os.getpid(), host, "run1"))
    assert removed == [mine]
    assert other_run.exists()


def test_removal_goes_through_dirs_without_permissions(tmp_path: Path):
    # As containers leave them: a dir without write or read permission, holding a file.
    locked = tmp_path / "tree" / "log" / "locked"
    locked.mkdir(parents=True)
    (locked / "access.log").write_text("x")
    locked.chmod(0o000)
    (tmp_path / "tree" / "log").chmod(0o500)
    assert remove_tree(tmp_path / "tree")
    assert not (tmp_path / "tree").exists()
