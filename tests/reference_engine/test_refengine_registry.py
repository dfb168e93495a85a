"""Image add and analysis against a real registry (Debian's docker-registry on loopback): the
catalog's `skopeo inspect`, the analyzer's `skopeo copy`, and every service in between."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from refengine_standins import EngineProcess, LocalRegistry, wait_until

pytestmark = pytest.mark.skipif(
    not Path(LocalRegistry.BINARY).exists(), reason="Debian's docker-registry is not installed"
)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    local = LocalRegistry(tmp_path / "registry")
    yield local
    local.close()


def _image(engine: EngineProcess, digest: str) -> dict:
    response = engine.api("GET", f"/v1/images/{digest}")
    assert response.status_code == 200, response.text
    (record,) = response.json()
    return record


def test_an_added_image_is_analysed(
    registry: LocalRegistry, engine_factory: Callable[..., EngineProcess]
) -> None:
    manifest_digest = registry.push_tiny_image("compliance/tiny", "1")
    engine = engine_factory()
    engine.wait_ready()
    pullstring = f"{registry.address}/compliance/tiny:1"
    added = engine.api("POST", "/v1/images", json={"source": {"tag": {"pullstring": pullstring}}})
    assert added.status_code == 200, added.text
    (record,) = added.json()
    assert record["imageDigest"] == manifest_digest
    assert record["analysis_status"] in ("not_analyzed", "analyzing", "analyzed")
    detail = record["image_detail"][0]
    assert (detail["registry"], detail["repo"], detail["tag"], detail["fulltag"]) == (
        registry.address,
        "compliance/tiny",
        "1",
        pullstring,
    )

    started = time.monotonic()
    final = wait_until(
        lambda: (
            (r := _image(engine, manifest_digest))["analysis_status"] in ("analyzed", "analysis_failed") and r
        ),
        60,
        "the analysis to finish",
    )
    print(f"analysis: {time.monotonic() - started:.2f} s")
    assert final["analysis_status"] == "analyzed", engine.log()
    assert final["image_content"]["metadata"]["layer_count"] == 1
    completed = engine.api("GET", "/v1/events", params={"event_type": "user.image.analysis.*"}).json()
    assert [r["event"]["type"] for r in completed["results"]] == ["user.image.analysis.completed"]
    assert completed["results"][0]["event"]["source"]["servicename"] == "analyzer"

    again = engine.api("POST", "/v1/images", json={"tag": pullstring})
    assert again.json()[0]["analysis_status"] == "analyzed", "an analysed digest must not be pulled again"
    forced = engine.api("POST", "/v1/images", params={"force": "true"}, json={"tag": pullstring})
    assert forced.json()[0]["analysis_status"] == "not_analyzed"
    wait_until(lambda: _image(engine, manifest_digest)["analysis_status"] == "analyzed", 60, "re-analysis")


def test_a_missing_tag_is_registry_image_not_found(
    registry: LocalRegistry, engine_factory: Callable[..., EngineProcess]
) -> None:
    registry.push_tiny_image("compliance/tiny", "1")
    engine = engine_factory()
    engine.wait_ready()
    response = engine.api("POST", "/v1/images", json={"tag": f"{registry.address}/compliance/tiny:missing"})
    assert response.status_code == 400
    assert response.json()["detail"]["error_codes"] == ["REGISTRY_IMAGE_NOT_FOUND"]
