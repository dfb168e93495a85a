"""The registry's JSON log lines parse into RegistryRecords from structured fields only."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from anchore_compliance.fixtures.infra.registry import _layer, parse_registry_log

COMPLETED = {
    "go.version": "go1.19.8",
    "http.request.host": "registry.compliance.test:5000",
    "http.request.id": "f74974ab-4417-43f1-ba0a-b0baef7a41bf",
    "http.request.method": "GET",
    "http.request.remoteaddr": "10.213.8.12:38256",
    "http.request.uri": "/v2/compliance/test/manifests/v1",
    "http.request.useragent": "skopeo/1.9.3",
    "http.response.status": 200,
    "level": "info",
    "msg": "response completed",
    "time": "2026-11-29T20:31:35.992240907Z",
}
WITH_ERROR = COMPLETED | {
    "http.request.uri": "/v2/nope/tags/list?n=1",
    "http.response.status": 404,
    "http.request.remoteaddr": "[fd00::7]:4000",
    "msg": "response completed with error",
    "err.code": "name unknown",
}
ACCESS_LINE = '10.213.8.1 - - [29/Nov/2026:20:31:35 +0000] "PUT /v2/x/manifests/v1 HTTP/1.1" 201 0 "" "ua"'
STARTUP = {"level": "info", "msg": "listening on [::]:5000, tls", "time": "2026-11-29T20:31:35Z"}


def test_response_completed_entries_become_records() -> None:
    (record,) = parse_registry_log(json.dumps(COMPLETED))
    assert record.client == "10.213.8.12"
    assert (record.method, record.path, record.status) == ("GET", "/v2/compliance/test/manifests/v1", 200)
    assert record.user_agent == "skopeo/1.9.3"
    assert record.request_id == "f74974ab-4417-43f1-ba0a-b0baef7a41bf"


def test_error_entries_keep_query_and_ipv6_client() -> None:
    (record,) = parse_registry_log(json.dumps(WITH_ERROR))
    assert (record.client, record.path, record.status) == ("fd00::7", "/v2/nope/tags/list?n=1", 404)


def test_access_log_startup_and_broken_lines_are_skipped() -> None:
    text = "\n".join([ACCESS_LINE, json.dumps(STARTUP), "{not json", "[1, 2]", json.dumps(COMPLETED)])
    assert [r.status for r in parse_registry_log(text)] == [200]


def test_test_image_layer_is_reproducible_and_holds_os_release() -> None:
    files = {"etc/os-release": b"ID=debian\n", "opt/compliance/IMAGE": b"a:b\n"}
    raw, compressed = _layer(files)
    assert _layer(files) == (raw, compressed)
    assert gzip.decompress(compressed) == raw
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
        os_release = tar.extractfile("etc/os-release")
        assert os_release is not None
        assert os_release.read() == b"ID=debian\n"
    assert names == ["etc", "opt", "opt/compliance", "etc/os-release", "opt/compliance/IMAGE"]
