"""Attach mode without containers: option validation, the probe, and how checks are reported.

A stub of the engine's API (loopback, in this process) stands in for an attached engine; the
suite runs in a subprocess. Every run gets a container host where nothing answers, so a run that
touched the container engine would end with exit 12 rather than what is asserted.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from anchore_compliance.errors import ExitCode
from anchore_compliance.fixtures.attached import ONLY_ATTACHED, scenario_params
from anchore_compliance.fixtures.scenarios import SCENARIOS
from anchore_compliance.scheduling import scenario_of_nodeid

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Adm1n-Pw-7f3e9c"
PROXY_PASSWORD = "Pr0xy-S3cret-4d2a"
NO_CONTAINER_ENGINE = "unix:///nonexistent/attach-mode-needs-no-container-engine.sock"
SERVICES = ("apiext", "catalog", "simplequeue", "analyzer", "policy_engine")
VERSION = {"service": {"version": "1.1.0"}, "db": {"schema_version": "0.0.15"}}
SYSTEM = {
    "service_states": [
        {"servicename": s, "base_url": f"http://{s}:8228", "status": True, "status_message": "available"}
        for s in SERVICES
    ]
}
FEEDS = [
    {
        "name": "vulnerabilities",
        "enabled": True,
        "groups": [{"name": "debian:12", "enabled": True, "last_sync": "2026-11-30T10:00:00Z"}],
    },
    {"name": "packages", "enabled": False, "groups": [{"name": "gem", "last_sync": None}]},
]
UNRESOLVABLE = {
    "httpcode": 400,
    "message": "cannot fetch image digest/manifest from registry",
    "detail": {"error_codes": ["SKOPEO_UNKNOWN_ERROR"]},
}

CHECKS = """
import pytest

@pytest.mark.requirement("SVC-1")
@pytest.mark.scenarios("direct", "attached")
def test_attachable(scenario, engine_run):
    assert engine_run.scenario.id == "attached"
    assert not engine_run.service_calls().wire.sees("proxy")

@pytest.mark.requirement("AUTH-1")
@pytest.mark.scenarios("proxy-auth")
def test_needs_a_relaunch(scenario, engine_run):
    raise AssertionError("ran against an attached engine")
"""


class StubEngine:
    """Anchore Engine's API as far as the probe and the attachable checks read it.

    `broken`: "catalog" makes the calls that cross into the catalog answer 500, as an engine
    whose internal calls fail does; "feeds" makes the sync bring no feed at all.
    """

    def __init__(self, password: str = PASSWORD, broken: frozenset[str] = frozenset()) -> None:
        self.password = password
        self.broken = broken
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, method: str, path: str) -> tuple[int, object]:
        catalog_down = (500, {"httpcode": 500, "message": f"failed get url=http://catalog:8228{path}"})
        crossing = catalog_down if "catalog" in self.broken else None
        routes: dict[tuple[str, str], tuple[int, object]] = {
            ("GET", "/version"): (200, VERSION),
            ("GET", "/v1/system"): (200, SYSTEM),
            ("GET", "/v1/system/services"): crossing or (200, []),
            ("GET", "/v1/images"): crossing or (200, []),
            ("GET", "/v1/events"): crossing or (200, {"results": []}),
            ("POST", "/v1/system/feeds"): (200, []),
            ("GET", "/v1/system/feeds"): (200, [] if "feeds" in self.broken else FEEDS),
            ("POST", "/v1/images"): (400, UNRESOLVABLE),
        }
        return routes.get((method, path), (404, {"httpcode": 404, "message": "not found"}))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self
        token = "Basic " + base64.b64encode(f"admin:{stub.password}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/health":
                    status, body, kind = 200, b"ok", "text/plain"
                elif path.startswith("/v1/") and self.headers.get("Authorization") != token:
                    status, body, kind = 401, b"Unauthorized", "text/plain"
                else:
                    code, document = stub._answer(method, path)
                    status, body, kind = code, json.dumps(document).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply("POST")

            def log_message(self, *args) -> None:
                pass  # quiet: the suite's reports are what the tests read

        return Handler

    def __enter__(self) -> StubEngine:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def stub_engine() -> Iterator[StubEngine]:
    with StubEngine() as stub:
        yield stub


@pytest.fixture(autouse=True)
def admin_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENGINE_URL", "ENGINE_PROXY", "ENGINE_USER", "ATTACH_IMAGE", "ENGINE_PROFILE"):
        monkeypatch.delenv(f"ANCHORE_COMPLIANCE_{name}", raising=False)
    monkeypatch.setenv("ANCHORE_COMPLIANCE_ADMIN_PASSWORD", PASSWORD)


def _run(pytester: pytest.Pytester, *args: str, checks: str | None = CHECKS) -> pytest.RunResult:
    if checks is not None:
        pytester.makepyfile(test_checks=checks)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--report-dir", "out", "--container-host", NO_CONTAINER_ENGINE, *args
    )


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def _one_line(result: pytest.RunResult, code: ExitCode, fragment: str) -> str:
    output = _output(result)
    assert result.ret == code, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if fragment in line]
    assert len(lines) == 1, output
    return lines[0]


def _results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "out" / "results.json").read_text())


def _statuses(pytester: pytest.Pytester) -> dict[str, str]:
    return {r["id"]: r["status"] for r in _results(pytester)["requirements"]}


@contextmanager
def _silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers: the engine hangs."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# options


@pytest.mark.parametrize(
    ("proxy", "problem"),
    [
        ("proxy.corp.example:3128", "it has no scheme"),
        ("socks5://proxy.corp.example:1080", "scheme socks5:// is neither http:// nor https://"),
        ("http://proxy.corp.example", "it has no port"),
        ("http://proxy.corp.example:99999", "port '99999' is not a number from 1 to 65535"),
        ("http://proxy.corp.example:31x8", "port '31x8' is not a number"),
        ('"http://proxy.corp.example:3128"', "quote characters"),
        ("http://proxy.corp.example :3128", "it holds whitespace"),
        ("http://proxy.corp.example:3128\n", "it holds whitespace"),
        (f"http://svc:{PROXY_PASSWORD}@proxy.corp.example", "it has no port"),
    ],
    ids=["no-scheme", "socks-scheme", "no-port", "port-out-of-range", "port-not-a-number", "quoted",
         "inner-space", "trailing-newline", "credentials-no-port"],
)  # fmt: skip
def test_invalid_declared_proxy_ends_the_run_with_one_line(pytester, proxy, problem):
    result = _run(pytester, "--engine-url", "http://127.0.0.1:9", "--engine-proxy", proxy)
    line = _one_line(result, ExitCode.BAD_CONFIG, "--engine-proxy")
    assert problem in line
    assert PROXY_PASSWORD not in _output(result)


def test_declared_proxy_from_the_environment_is_validated_too(pytester, monkeypatch):
    monkeypatch.setenv("ANCHORE_COMPLIANCE_ENGINE_PROXY", "proxy.corp.example:3128")
    result = _run(pytester, "--engine-url", "http://127.0.0.1:9")
    assert "it has no scheme" in _one_line(result, ExitCode.BAD_CONFIG, "--engine-proxy")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--engine-proxy", "http://proxy.corp.example:3128"), "--engine-proxy describes an attached engine"),
        (("--attach-image", "registry.corp/app:1"), "--attach-image describes an attached engine"),
        (("--engine-url", "anchore.corp:8228"), "--engine-url must be http(s)://HOST"),
        (("--engine-url", f"http://admin:{PASSWORD}@anchore.corp:8228"), "--engine-url holds credentials"),
        (
            ("--engine-url", "http://127.0.0.1:9", "--certification", "--vendor-declaration", "v.yaml"),
            "--certification cannot attach",
        ),
    ],
    ids=["proxy-without-url", "image-without-url", "url-without-scheme", "url-with-credentials", "certify"],
)
def test_bad_attach_option_is_one_line_and_exit_10(pytester, args, fragment):
    result = _run(pytester, *args)
    _one_line(result, ExitCode.BAD_CONFIG, fragment)
    assert PASSWORD not in _output(result)


def test_attach_mode_takes_the_password_only_from_the_environment(pytester, monkeypatch):
    monkeypatch.delenv("ANCHORE_COMPLIANCE_ADMIN_PASSWORD")
    result = _run(pytester, "--engine-url", "http://127.0.0.1:9")
    _one_line(result, ExitCode.BAD_CONFIG, "needs its password in ANCHORE_COMPLIANCE_ADMIN_PASSWORD")


# the probe before any check


@pytest.mark.parametrize("answer", ["refused", "silent"])
def test_unreachable_engine_ends_the_run_before_any_check(pytester, answer):
    with _silent_listener() as silent_port:
        port = _closed_port() if answer == "refused" else silent_port
        result = _run(pytester, "--engine-url", f"http://127.0.0.1:{port}")
    line = _one_line(result, ExitCode.ENGINE_UNREACHABLE, "did not answer")
    assert f"http://127.0.0.1:{port}" in line
    assert "ran against an attached engine" not in _output(result)
    results = _results(pytester)
    assert {r["status"] for r in results["requirements"]} == {"error"}
    assert "did not answer" in results["run"]["error"]


def test_rejected_credentials_end_the_run_with_their_own_exit_code(pytester):
    with StubEngine(password="another-password") as stub:
        result = _run(pytester, "--engine-url", stub.url)
    line = _one_line(result, ExitCode.ENGINE_CREDENTIALS_REJECTED, "refused user 'admin'")
    assert "401" in line
    assert PASSWORD not in _output(result)


# how checks are generated and reported


def test_checks_that_need_a_relaunch_are_not_applicable_and_name_their_scenarios(pytester, stub_engine):
    result = _run(pytester, "--engine-url", stub_engine.url)
    assert result.ret == ExitCode.OK, _output(result)
    results = _results(pytester)
    by_id = {r["id"]: r for r in results["requirements"]}
    assert by_id["SVC-1"]["status"] == "pass"
    (needs_relaunch,) = by_id["AUTH-1"]["tests"]
    assert needs_relaunch["nodeid"].endswith("test_needs_a_relaunch[AUTH-1-attached]")
    assert needs_relaunch["status"] == "not-applicable"
    description = SCENARIOS["proxy-auth"].description.rstrip(".")
    assert needs_relaunch["reason"] == (
        f"not-applicable: needs the engine relaunched under scenario(s) proxy-auth ({description}); "
        "an attached engine keeps its own network and environment"
    )
    assert results["run"]["mode"] == "attach"
    assert results["run"]["engine"]["engine_url"] == stub_engine.url
    assert results["run"]["timings"]["engine_launches"] == 0


def test_requirement_ids_still_select_attached_checks(pytester, stub_engine):
    result = _run(pytester, "--engine-url", stub_engine.url, "-k", "AUTH-1")
    assert result.ret == ExitCode.OK, _output(result)
    statuses = _statuses(pytester)
    assert statuses["AUTH-1"] == "not-applicable"
    assert statuses["SVC-1"] == "not-covered"


def test_launch_mode_does_not_generate_attached(pytester):
    result = _run(pytester, "--collect-only", "-q")
    collected = [line for line in result.stdout.lines if "::" in line]
    assert collected == [
        "test_checks.py::test_attachable[SVC-1-direct]",
        "test_checks.py::test_needs_a_relaunch[AUTH-1-proxy-auth]",
    ], _output(result)


def test_an_attach_only_check_is_not_applicable_when_launching():
    (param,) = scenario_params(["attached"], "SVC-1-", attach_mode=False)
    assert param.id == "SVC-1-attached"
    assert [mark.kwargs["reason"] for mark in param.marks] == [ONLY_ATTACHED]


def test_attached_checks_share_one_xdist_work_unit():
    assert scenario_of_nodeid("suites/test_feed_sync.py::test_x[FEED-1-attached]") == "attached"
    assert scenario_of_nodeid("suites/test_feed_sync.py::test_x[FEED-1-proxy-auth]") == "proxy-auth"


# the suite's own checks against the stub


def _suite(pytester: pytest.Pytester, engine: StubEngine, *args: str) -> pytest.RunResult:
    selected = [arg for rid in ("SVC-1", "FEED-1", "REG-1", "REG-2") for arg in ("--requirement", rid)]
    return _run(pytester, str(ROOT / "suites"), "--engine-url", engine.url, *selected, *args, checks=None)


def test_attachable_checks_judge_the_api_and_say_what_they_could_not_see(pytester, stub_engine):
    declared = f"http://svc:{PROXY_PASSWORD}@proxy.corp.example:3128"
    result = _suite(pytester, stub_engine, "--engine-proxy", declared)
    assert result.ret == ExitCode.OK, _output(result)
    results = _results(pytester)
    by_id = {r["id"]: r for r in results["requirements"]}
    assert {rid: by_id[rid]["status"] for rid in ("SVC-1", "FEED-1", "REG-1", "REG-2")} == {
        "SVC-1": "pass",
        "FEED-1": "pass",
        "REG-1": "not-applicable",  # no --attach-image
        "REG-2": "pass",  # the unresolvable name is judged; the name-only-DNS check needs a relaunch
    }
    assert "pass --attach-image PULLSTRING" in by_id["REG-1"]["reason"]
    feed_evidence = "\n".join(by_id["FEED-1"]["evidence"])
    assert "groups judged: those the engine itself lists after the sync" in feed_evidence
    assert "feed packages" not in feed_evidence  # disabled feeds never sync
    assert "not observed: the feed endpoint's log belongs to the attached deployment" in feed_evidence
    svc_evidence = "\n".join(by_id["SVC-1"]["evidence"])
    assert "from the declared proxy http://svc:***@proxy.corp.example:3128" in svc_evidence
    assert results["run"]["engine"]["declared_proxy"] == "http://svc:***@proxy.corp.example:3128"
    written = [p.read_text(errors="replace") for p in (pytester.path / "out").iterdir() if p.is_file()]
    for text in [_output(result), *written]:
        assert PROXY_PASSWORD not in text
        assert PASSWORD not in text


def test_attachable_checks_fail_on_the_api_evidence_alone(pytester):
    with StubEngine(broken=frozenset({"catalog", "feeds"})) as broken:
        result = _suite(pytester, broken)
    assert result.ret == ExitCode.TESTS_FAILED, _output(result)
    results = _results(pytester)
    by_id = {r["id"]: r for r in results["requirements"]}
    assert by_id["SVC-1"]["status"] == "fail"
    assert "GET /v1/system/services (apiext -> catalog) answered 500" in by_id["SVC-1"]["reason"]
    assert by_id["FEED-1"]["status"] == "fail"
    assert "no feed group to judge" in by_id["FEED-1"]["reason"]
