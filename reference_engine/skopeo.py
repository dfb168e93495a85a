"""Registry access through the real `skopeo` binary, as the engine does it.

skopeo runs as a child process with a copy of the engine's whole environment, so Go's proxy rules
(not requests') decide how registry traffic leaves: the catalog's manifest lookup when an image is
added (`skopeo inspect --raw`) and the analyzer's pull (`skopeo copy ... oci:DIR:image`). Every
child is bounded by a timeout and killed when it expires. Errors are classified from skopeo's
stderr with the engine's rules and error codes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass

from reference_engine import faults

INSPECT_TIMEOUT = 120.0
COPY_TIMEOUT = 600.0
_LIST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


@dataclass(frozen=True)
class Credentials:
    user: str | None = None
    password: str | None = None
    verify: bool = False  # no registry record: the engine passes --tls-verify=false


class SkopeoError(Exception):
    """A failed skopeo run, worded and classified like the engine's SkopeoError."""

    def __init__(self, cmd: list[str], rc: int | None, out: str, err: str, msg: str = "") -> None:
        secret_flags = ("--creds", "--src-creds")
        self.cmd = " ".join("***" if i and cmd[i - 1] in secret_flags else part for i, part in enumerate(cmd))
        self.exitcode = rc
        self.stdout = out.replace("\r", " ").replace("\n", " ").strip() or None
        self.stderr = err.replace("\r", " ").replace("\n", " ").strip() or None
        self.msg = msg or "Error encountered in skopeo operation"
        self.error_code = classify(self.stderr or "")
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.msg}. cmd={self.cmd}, rc={self.exitcode}, stdout={self.stdout}, "
            f"stderr={self.stderr}, error_code={self.error_code}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "cmd": self.cmd,
            "exitcode": self.exitcode,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "msg": self.msg,
            "error_code": self.error_code,
        }


def classify(stderr: str) -> str:
    """The engine's mapping from skopeo's stderr to an error code."""
    if "unauthorized" in stderr:
        return "REGISTRY_PERMISSION_DENIED"
    if "manifest unknown" in stderr:
        return "REGISTRY_IMAGE_NOT_FOUND"
    if "connection refused" in stderr or "no route to host" in stderr:
        return "REGISTRY_NOT_ACCESSIBLE"
    if "error pinging registry" in stderr:
        return "REGISTRY_NOT_SUPPORTED"
    return "SKOPEO_UNKNOWN_ERROR"


def _withheld(name: str) -> bool:
    """Whether a fault keeps this variable from skopeo (without faults, nothing is withheld)."""
    lower = name.lower()
    if lower not in _PROXY_VARIABLES:
        return False
    if faults.enabled(faults.REGISTRY_IGNORES_PROXY):
        return True
    if lower == "no_proxy" and faults.enabled(faults.REGISTRY_IGNORES_NO_PROXY):
        return True
    return name != name.upper() and faults.enabled(faults.UPPER_CASE_ONLY)


def child_environment() -> dict[str, str]:
    """A copy of the whole environment, as the engine gives skopeo."""
    return {name: value for name, value in os.environ.items() if not _withheld(name)}


def _run(cmd: list[str], timeout: float) -> str:
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            env=child_environment(),
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as expired:
        # run() has killed the child already.
        raise SkopeoError(cmd, None, "", f"killed after {timeout:.0f}s: {expired.stderr or b''!r}") from None
    except OSError as err:
        raise SkopeoError(cmd, None, "", f"cannot run skopeo: {err}") from None
    out = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        raise SkopeoError(cmd, done.returncode, out, done.stderr.decode("utf-8", "replace"))
    return out


def _auth_args(flag: str, creds: Credentials) -> list[str]:
    return [flag, f"{creds.user}:{creds.password}"] if creds.user and creds.password else []


def inspect_raw(pullstring: str, creds: Credentials) -> str:
    cmd = [
        "skopeo",
        "inspect",
        "--raw",
        f"--tls-verify={'true' if creds.verify else 'false'}",
        *_auth_args("--creds", creds),
        f"docker://{pullstring}",
    ]
    return _run(cmd, INSPECT_TIMEOUT)


def lookup(registry_repo: str, pullstring: str, creds: Credentials) -> tuple[str, str, str]:
    """Return (manifest, imageDigest, parentDigest): a list is resolved to its linux/amd64 image."""
    raw = inspect_raw(pullstring, creds)
    top_digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise SkopeoError(
            ["skopeo", "inspect", pullstring], 0, raw[:200], "", "manifest is not JSON"
        ) from None
    if manifest.get("mediaType") in _LIST_TYPES or "manifests" in manifest:
        for entry in manifest.get("manifests", []):
            platform = entry.get("platform", {})
            if platform.get("architecture") == "amd64" and platform.get("os") == "linux":
                child = inspect_raw(f"{registry_repo}@{entry['digest']}", creds)
                return child, "sha256:" + hashlib.sha256(child.encode()).hexdigest(), top_digest
        raise SkopeoError(
            ["skopeo", "inspect", pullstring],
            0,
            "",
            "no image found in manifest list for architecture amd64, OS linux",
        )
    return raw, top_digest, top_digest


def copy(pullstring: str, dest_dir: str, creds: Credentials) -> None:
    """Pull the image into an OCI layout at dest_dir (tag `image`)."""
    cmd = [
        "skopeo",
        "copy",
        "--remove-signatures",
        f"--src-tls-verify={'true' if creds.verify else 'false'}",
        *_auth_args("--src-creds", creds),
        f"docker://{pullstring}",
        f"oci:{dest_dir}:image",
    ]
    _run(cmd, COPY_TIMEOUT)
