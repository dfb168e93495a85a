"""The feed stand-in speaks the legacy feed protocol exactly, served on loopback in-process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from anchore_compliance.fixtures.infra import feed_server as feed_server_module
from anchore_compliance.fixtures.infra.feed_endpoint import parse_feed_log
from anchore_compliance.fixtures.infra.feed_server import BASE_PATH, serve_in_thread
from anchore_compliance.fixtures.infra.pki import PrivateCA


@dataclass(frozen=True)
class FeedServerInfo:
    https_url: str
    http_url: str
    ca_pem: Path
    events: list[dict[str, Any]]


def _serve(tmp_path: Path, page_size: int) -> Iterator[FeedServerInfo]:
    ca = PrivateCA(tmp_path)
    cert = ca.issue("feed", "127.0.0.1")
    events: list[dict[str, Any]] = []
    with serve_in_thread(
        cert=str(cert.cert_pem), key=str(cert.key_pem), page_size=page_size, emit=events.append
    ) as srv:
        assert srv.https_url
        assert srv.http_url
        yield FeedServerInfo(srv.https_url, srv.http_url, ca.ca_pem, events)


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[FeedServerInfo]:
    yield from _serve(tmp_path, page_size=0)


@pytest.fixture
def paged_feed_server(tmp_path: Path) -> Iterator[FeedServerInfo]:
    yield from _serve(tmp_path, page_size=1)


def _get(server: FeedServerInfo, path: str = "", **params: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(server.https_url + path, params=params, verify=str(server.ca_pem), timeout=5)


def test_feed_list_names_the_three_feeds_with_exact_content_type(feed_server: FeedServerInfo) -> None:
    response = _get(feed_server)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "feeds": [
            {
                "name": "vulnerabilities",
                "description": "Vulnerability data by distribution",
                "access_tier": 0,
            },
            {"name": "nvdv2", "description": "NVD v2 data", "access_tier": 0},
            {"name": "github", "description": "GitHub advisories", "access_tier": 0},
        ],
        "next_token": "",
    }


@pytest.mark.parametrize(
    ("feed", "group", "records"),
    [
        pytest.param("vulnerabilities", "debian:12", 1, id="vulnerabilities"),
        pytest.param("nvdv2", "nvdv2:cves", 0, id="nvdv2"),
        pytest.param("github", "github:python", 0, id="github"),
    ],
)
def test_each_feed_lists_one_group_whose_data_is_served(
    feed_server: FeedServerInfo, feed: str, group: str, records: int
) -> None:
    groups = _get(feed_server, f"/{feed}")
    assert groups.headers["Content-Type"] == "application/json"
    assert [g["name"] for g in groups.json()["groups"]] == [group]
    assert groups.json()["next_token"] == ""
    data = _get(feed_server, f"/{feed}/{group}")
    assert data.status_code == 200
    assert data.headers["Content-Type"] == "application/json"
    assert data.json()["next_token"] is None
    assert len(data.json()["data"]) == records


def test_the_debian_record_has_the_legacy_shape(feed_server: FeedServerInfo) -> None:
    (record,) = _get(feed_server, "/vulnerabilities/debian:12").json()["data"]
    vulnerability = record["Vulnerability"]
    assert set(vulnerability) == {"Name", "Severity", "Link", "Description", "Metadata", "FixedIn"}
    assert vulnerability["Name"].startswith("CVE-")
    assert vulnerability["Severity"] in {"Unknown", "Negligible", "Low", "Medium", "High", "Critical"}


def test_since_before_start_serves_the_record_and_after_start_serves_none(
    feed_server: FeedServerInfo,
) -> None:
    path = "/vulnerabilities/debian:12"
    assert len(_get(feed_server, path, since="2000-01-01T00:00:00Z").json()["data"]) == 1
    assert _get(feed_server, path, since="2999-01-01T00:00:00+00:00").json()["data"] == []
    # A group once listed is still served on later syncs.
    assert _get(feed_server, path, since="2999-01-01T00:00:00").status_code == 200


def test_pages_follow_next_token_until_it_is_empty(paged_feed_server: FeedServerInfo) -> None:
    names, token = [], None
    for _ in range(5):
        page = _get(paged_feed_server, **({"next_token": token} if token else {})).json()
        names += [feed["name"] for feed in page["feeds"]]
        token = page["next_token"]
        if not token:
            break
    assert names == ["vulnerabilities", "nvdv2", "github"]
    assert token == ""


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/nope", id="unknown-feed"),
        pytest.param("/vulnerabilities/debian:11", id="unknown-group"),
        pytest.param("/vulnerabilities/debian:12/extra", id="too-deep"),
    ],
)
def test_unknown_paths_under_the_base_answer_404(feed_server: FeedServerInfo, path: str) -> None:
    response = _get(feed_server, path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"


def test_paths_outside_the_base_answer_404_over_plain_http(feed_server: FeedServerInfo) -> None:
    root = feed_server.http_url.removesuffix(BASE_PATH)
    with requests.Session() as session:
        session.trust_env = False
        assert session.get(root + "/v1/service", timeout=5).status_code == 404
        assert session.get(feed_server.http_url, timeout=5).status_code == 200


def test_a_bad_next_token_is_a_client_error(feed_server: FeedServerInfo) -> None:
    assert _get(feed_server, next_token="bogus").status_code == 400


def test_every_request_is_logged_once_with_its_request_id(feed_server: FeedServerInfo) -> None:
    response = _get(feed_server, "/vulnerabilities", since="x y")
    text = "\n".join(json.dumps(event) for event in feed_server.events)
    (request,) = parse_feed_log(text)
    assert request.request_id == response.headers["X-Request-Id"]
    assert (request.method, request.path, request.status) == ("GET", f"{BASE_PATH}/vulnerabilities", 200)
    assert request.query == "since=x+y"
    assert request.scheme == "https"
    assert request.client == "127.0.0.1"
    assert request.user_agent.startswith("python-requests/")


def test_a_refused_handshake_is_logged_but_is_no_request(feed_server: FeedServerInfo) -> None:
    with requests.Session() as session, pytest.raises(requests.exceptions.SSLError):
        session.get(feed_server.https_url, verify=True, timeout=5)  # the machine's CAs: not ours
    # The server notices after the client hung up.
    deadline = time.monotonic() + 5
    while not any(e.get("event") == "connection_error" for e in feed_server.events):
        assert time.monotonic() < deadline, "the refused handshake was not logged"
        time.sleep(0.02)
    assert parse_feed_log("\n".join(json.dumps(e) for e in feed_server.events)) == []


def test_feed_log_parser_skips_noise() -> None:
    line = {
        "time": "t", "request_id": "r1", "peer": "10.213.3.20", "port": 443, "scheme": "https",
        "method": "GET", "path": BASE_PATH, "query": "", "status": 200, "user_agent": "ua",
        "host": "ancho.re",
    }  # fmt: skip
    text = "\n".join(["not json", json.dumps({"event": "listening", "port": 443}), json.dumps(line)])
    (record,) = parse_feed_log(text)
    assert (record.client, record.port, record.host) == ("10.213.3.20", 443, "ancho.re")


def test_the_script_runs_standalone_on_a_free_port() -> None:
    script = Path(feed_server_module.__file__)
    # A clean environment and no package on the path: only the standard library is available.
    with subprocess.Popen(
        [sys.executable, "-I", str(script), "--bind", "127.0.0.1", "--http-port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={},
    ) as process:
        try:
            assert process.stdout is not None
            listening = json.loads(process.stdout.readline())
            assert listening["event"] == "listening"
            with requests.Session() as session:
                session.trust_env = False
                response = session.get(f"http://127.0.0.1:{listening['port']}{BASE_PATH}/github", timeout=5)
            assert response.json()["groups"][0]["name"] == "github:python"
            (request,) = parse_feed_log(process.stdout.readline())
            assert (request.path, request.scheme, request.status) == (f"{BASE_PATH}/github", "http", 200)
        finally:
            process.terminate()
    assert process.returncode == 0  # SIGTERM ends it cleanly, as in a container
