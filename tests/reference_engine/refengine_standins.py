"""Stand-ins the reference engine's own tests run against: a legacy feed endpoint, a recording
forward proxy, and the engine itself as an all-in-one subprocess on loopback.

Plain HTTP on loopback is enough here: these tests judge the engine's own behaviour (its API
shapes, its HTTP stacks' proxy handling, its quiet failures), not TLS.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "reference-test-admin"
SERVICES = ("apiext", "catalog", "simplequeue", "analyzer", "policy_engine")
VULNERABILITY = {
    "Vulnerability": {
        "Name": "CVE-2026-0001",
        "NamespaceName": "debian:12",
        "Severity": "Medium",
        "Link": "https://security-tracker.debian.org/tracker/CVE-2026-0001",
        "Description": "A stand-in vulnerability.",
        "Metadata": {},
        "FixedIn": [],
    }
}


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free now (all bound at once, so they are distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def engine_python() -> str:
    """The interpreter the engine runs under: Debian's python3 (requests 2.28, urllib3 1.26, as in
    the engine's image) when it has requests, else this test run's own interpreter."""
    chosen = os.environ.get("REFERENCE_ENGINE_PYTHON")
    if chosen:
        return chosen
    debian = "/usr/bin/python3"
    if Path(debian).exists():
        probe = subprocess.run([debian, "-c", "import requests"], capture_output=True, check=False)
        if probe.returncode == 0:
            return debian
    return sys.executable


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True


@dataclass
class FeedRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class LegacyFeedStandIn:
    """The legacy feed protocol: feeds vulnerabilities (group debian:12, one record), nvdv2 and
    github (empty groups), plus `packages`, listed but not enabled in the engine's config."""

    requests: list[FeedRequest] = field(default_factory=list)
    # path -> (status, content type) to answer instead of the protocol's document
    overrides: dict[str, tuple[int, str]] = field(default_factory=dict)
    page_size: int = 0  # >0: split the feed listing into pages of this many feeds

    BASE = "/v1/service/feeds"
    GROUPS: ClassVar[dict[str, dict[str, list[Any]]]] = {
        "vulnerabilities": {"debian:12": [VULNERABILITY]},
        "nvdv2": {"nvdv2:cves": []},
        "github": {"github:python": []},
        "packages": {"npm": []},
    }

    def __post_init__(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                standin.requests.append(FeedRequest(parts.path, parse_qs(parts.query), headers))
                status, content_type, document = standin.answer(parts.path, parse_qs(parts.query))
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{self.BASE}"

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, Any]:
        if path in self.overrides:
            status, content_type = self.overrides[path]
            return status, content_type, {"error": "stand-in override"}
        rest = path[len(self.BASE) :].strip("/").split("/") if path.startswith(self.BASE) else None
        if rest is None:
            return 404, "application/json", {"error": "not a feed path"}
        if rest == [""]:
            names = list(self.GROUPS)
            if self.page_size:
                start = int(query.get("next_token", ["0"])[0])
                chunk, token = names[start : start + self.page_size], start + self.page_size
                next_token = str(token) if token < len(names) else ""
                return 200, "application/json", {"feeds": [_feed(n) for n in chunk], "next_token": next_token}
            return 200, "application/json", {"feeds": [_feed(n) for n in names], "next_token": ""}
        if len(rest) == 1 and rest[0] in self.GROUPS:
            groups = [{"name": g, "description": g, "access_tier": 0} for g in self.GROUPS[rest[0]]]
            return 200, "application/json", {"groups": groups, "next_token": ""}
        if len(rest) == 2 and rest[1] in self.GROUPS.get(rest[0], {}):
            records = [] if "since" in query else self.GROUPS[rest[0]][rest[1]]
            return 200, "application/json", {"data": records, "next_token": None}
        return 404, "application/json", {"error": "unknown feed or group"}

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _feed(name: str) -> dict[str, Any]:
    return {"name": name, "description": f"{name} feed", "access_tier": 0}


@dataclass
class ProxiedRequest:
    method: str
    url: str
    proxy_authorization: str | None


class RecordingProxy:
    """A forward proxy for plain-HTTP targets that records what it was asked to fetch."""

    def __init__(self) -> None:
        self.requests: list[ProxiedRequest] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.requests.append(
                    ProxiedRequest(self.command, self.path, self.headers.get("Proxy-Authorization"))
                )
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("proxy-authorization", "proxy-connection", "connection", "host")
                }
                connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
                try:
                    path = target.path + (f"?{target.query}" if target.query else "")
                    connection.request(self.command, path, body=body, headers=headers)
                    upstream = connection.getresponse()
                    payload = upstream.read()
                    self.send_response(upstream.status)
                    for name, value in upstream.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError as err:
                    self.send_error(502, f"proxy could not reach {target.netloc}: {err}")
                finally:
                    connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class EngineProcess:
    """`python3 -m reference_engine service start --all` on loopback, with a controlled environment
    (not a copy of this machine's, which exports CA and proxy variables of its own)."""

    def __init__(
        self, workdir: Path, feeds_url: str, faults: str = "", extra_env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        self.api_url = f"http://127.0.0.1:{ports['apiext']}"
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "ANCHORE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ANCHORE_ENDPOINT_HOSTNAME": "127.0.0.1",
            "REFERENCE_ENGINE_LISTEN": "127.0.0.1",
            "ANCHORE_REFERENCE_STATE_DIR": str(workdir / "state"),
            "ANCHORE_CERTS_DIR": str(workdir / "certs"),
            "ANCHORE_VULNERABILITIES_PROVIDER": "legacy",
            "ANCHORE_FEEDS_URL": feeds_url,
            "ANCHORE_LOG_LEVEL": "INFO",
            **{f"ANCHORE_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        }
        if faults:
            self.env["REFERENCE_ENGINE_FAULTS"] = faults
        self.env.update(extra_env or {})
        self.log_path = workdir / "engine.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self, args: tuple[str, ...] = ("service", "start", "--all")) -> EngineProcess:
        with self.log_path.open("wb") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [engine_python(), "-m", "reference_engine", *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("auth", ("admin", ADMIN_PASSWORD))
        kwargs.setdefault("timeout", 60)
        with requests.Session() as session:
            session.trust_env = False  # the test's own calls never go through a proxy
            return session.request(method, self.api_url + path, **kwargs)

    def available_services(self) -> set[str]:
        try:
            response = self.api("GET", "/v1/system", timeout=5)
        except requests.RequestException:
            return set()
        if response.status_code != 200:
            return set()
        return {
            s["servicename"]
            for s in response.json().get("service_states", [])
            if s.get("status") and s.get("status_message") == "available"
        }

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Seconds from start until /v1/system lists all five services available."""

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"engine exited with {self.process.returncode}:\n{self.log()}")
            return self.available_services() >= set(SERVICES)

        wait_until(ready, timeout, "the engine to list five available services")
        return time.monotonic() - self.started_at

    def wait_healthy(self, timeout: float = 30.0) -> None:
        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"engine exited with {self.process.returncode}:\n{self.log()}")
            try:
                return self.api("GET", "/health", auth=None, timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout, "the engine's /health")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None


class LocalRegistry:
    """Debian's `docker-registry` (distribution 2.8) on loopback, plain HTTP, with a push helper
    that speaks the registry API directly (no container tooling needed)."""

    BINARY = "/usr/bin/docker-registry"

    def __init__(self, workdir: Path) -> None:
        (self.port,) = free_ports(1)
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: error}\n"
            f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}}}\n"
            f"http: {{addr: '127.0.0.1:{self.port}'}}\n"
        )
        self.log_path = workdir / "registry.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [self.BINARY, "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.address = f"127.0.0.1:{self.port}"
        self.session = requests.Session()
        self.session.trust_env = False
        wait_until(self._answers, 20, "docker-registry to answer /v2/")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"docker-registry exited: {self.log_path.read_text(errors='replace')}")
        try:
            return self.session.get(f"http://{self.address}/v2/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = self.session.post(f"http://{self.address}/v2/{repo}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = f"http://{self.address}{location}"
        done = self.session.put(
            location + ("&" if "?" in location else "?") + f"digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        return digest

    def push_tiny_image(self, repo: str, tag: str) -> str:
        """Push a one-layer OCI image; return its manifest digest."""
        tar_bytes = io.BytesIO()
        with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
            content = b"hello from the compliance suite\n"
            info = tarfile.TarInfo("hello.txt")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {
                    "type": "layers",
                    "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()],
                },
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": self._blob(repo, config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": self._blob(repo, layer),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        put = self.session.put(
            f"http://{self.address}/v2/{repo}/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            timeout=10,
        )
        assert put.status_code == 201, put.text
        return "sha256:" + hashlib.sha256(manifest).hexdigest()

    def close(self) -> None:
        self.session.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
