"""No report, evidence, log or bundle file a run writes holds a proxy password, in any spelling."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import quote

import pytest

# Unsafe characters on purpose: the run gives it to the engine percent-encoded (AUTH-2).
PASSWORD = "Sec@Ret!#:%/9z"
USER = "compliance"


def _spellings() -> set[str]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD), token, token.rstrip("=")}


def _texts(root: Path) -> list[tuple[str, str]]:
    texts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        texts.append((str(path), text))
        # pytest-html embeds evidence as base64 data URIs.
        for blob in re.findall(r"base64,([A-Za-z0-9+/=]+)", text):
            texts.append((f"{path} (embedded)", base64.b64decode(blob).decode("utf-8", errors="replace")))
    return texts


@pytest.fixture
def declaration(tmp_path: Path) -> Path:
    path = tmp_path / "vendor.yaml"
    path.write_text('product: Reference engine\nversion: "1.1.0"\nvendor: Anchore Compliance project\n')
    return path


def test_a_certification_run_writes_no_proxy_password(suite_runner, tmp_path: Path, declaration, monkeypatch):
    monkeypatch.setenv("ANCHORE_COMPLIANCE_PROXY_PASSWORD", PASSWORD)
    report_dir = tmp_path / "reports"
    run = suite_runner(
        report_dir,
        "--requirement", "AUTH-2", "--requirement", "AUTH-1",
        "--certification", "--vendor-declaration", str(declaration),
    )  # fmt: skip
    assert run.with_status("pass") == {"AUTH-1", "AUTH-2"}, run.output[-3000:]
    written = _texts(report_dir)
    assert any(name.endswith(".log") and "user=compliance" in text for name, text in written), (
        "the bundle's squid log should show the authenticated user, or this test proves nothing"
    )
    leaks = sorted(
        {name for name, text in [("output", run.output), *written] for form in _spellings() if form in text}
    )
    assert not leaks, f"a proxy password appears in: {leaks}"
