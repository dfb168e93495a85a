"""Extra CA certificates, installed the way the official image's entrypoint installs them.

PEM files mounted at /home/anchore/certs/ are appended to the system CAs in a bundle, and
REQUESTS_CA_BUNDLE (read by requests) and SSL_CERT_DIR (read by skopeo's Go TLS) are exported in
the process environment, so skopeo children inherit them too. This is how a user makes the engine
trust a private-CA feed stand-in or a TLS-intercepting proxy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_PEM_MARKER = "-----BEGIN CERTIFICATE-----"


def install(certs_dir: Path, system_bundle: Path = SYSTEM_BUNDLE) -> Path | None:
    """Build the bundle and export it; return the bundle's path, or None when there is nothing to add."""
    if not certs_dir.is_dir():
        return None
    extra = []
    for path in sorted(certs_dir.iterdir()):
        try:
            text = path.read_text(errors="replace") if path.is_file() else ""
        except OSError:
            continue
        if _PEM_MARKER in text:
            extra.append(text if text.endswith("\n") else text + "\n")
    if not extra:
        return None
    out_dir = Path(tempfile.mkdtemp(prefix="reference-engine-certs-"))
    bundle = out_dir / "ca-bundle.pem"
    system = system_bundle.read_text() if system_bundle.is_file() else ""
    bundle.write_text(system + ("\n" if system and not system.endswith("\n") else "") + "".join(extra))
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    # Go reads every file in SSL_CERT_DIR in addition to the system bundle file.
    os.environ["SSL_CERT_DIR"] = str(out_dir)
    return bundle
