"""The analyzer: polls the simplequeue for analysis jobs and pulls each image with `skopeo copy`.

A job crosses every service: the analyzer reads the image record from the catalog and reports
analyzing / analyzed / analysis_failed there, pulls the image from its registry (skopeo, Go's proxy
rules), stores the analysis in the catalog's archive, has the policy engine load it, and delivers
`user.image.analysis.*` events to the catalog.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from reference_engine import events, skopeo
from reference_engine.service import Service

ANALYSIS_QUEUE = "images_to_analyze"
# Long polls, as the engine's queue client can make them: a job is taken as soon as it is queued.
LONG_POLL_SECONDS = 2
POLL_PAUSE = 0.05  # between two polls
FAILING_PAUSE = 1.0  # while the queue cannot be reached
VISIBILITY_TIMEOUT = 900


class Analyzer(Service):
    name = "analyzer"

    def background_loops(self) -> list[tuple[str, Any]]:
        return [("analysis-loop", self._poll_loop)]

    def _poll_loop(self) -> None:
        failing = False
        while not self.stopping.wait(FAILING_PAUSE if failing else POLL_PAUSE):
            try:
                message = self.call(
                    "simplequeue",
                    "GET",
                    f"queues/{ANALYSIS_QUEUE}",
                    params={"wait_max_seconds": LONG_POLL_SECONDS, "visibility_timeout": VISIBILITY_TIMEOUT},
                )
            except Exception as err:
                if not failing:
                    self.log.warning("cannot poll the analysis queue (repeats not logged): %s", err)
                failing = True
                continue
            if failing:
                self.log.info("polling the analysis queue works again")
                failing = False
            if not message:
                continue
            try:
                self.analyze(message.get("data") or {})
            except Exception:
                self.log.exception("analysis job failed unexpectedly")
            finally:
                try:
                    self.call(
                        "simplequeue",
                        "DELETE",
                        f"queues/{ANALYSIS_QUEUE}",
                        params={"receipt_handle": message.get("receipt_handle")},
                    )
                except Exception as err:
                    self.log.warning("queue message not deleted (it will come back): %s", err)

    def analyze(self, job: dict[str, Any]) -> None:
        digest = job["imageDigest"]
        record = self.call("catalog", "GET", f"image/{digest}")[0]
        detail = record["image_detail"][0]
        self.call("catalog", "PUT", f"image/{digest}", body={"analysis_status": "analyzing"})
        self.log.info("analyzing %s (%s)", detail["fulltag"], digest)
        try:
            with tempfile.TemporaryDirectory(prefix="reference-engine-analysis-") as workdir:
                oci_dir = Path(workdir) / "oci"
                skopeo.copy(detail["fulldigest"], str(oci_dir), self._credentials(detail["registry"]))
                analysis = summarize(oci_dir, digest, detail["imageId"])
            self.call("catalog", "POST", f"archive/analysis_data/{digest}", body={"document": analysis})
            self.call(
                "policy_engine",
                "POST",
                "images",
                body={
                    "user_id": "admin",
                    "image_id": detail["imageId"],
                    "fetch_url": f"catalog://admin/analysis_data/{digest}",
                },
            )
            metadata = {
                "arch": analysis["arch"],
                "distro": None,
                "distro_version": None,
                "dockerfile_mode": "Guessed",
                "image_size": analysis["image_size"],
                "layer_count": analysis["layer_count"],
            }
            self.call(
                "catalog",
                "PUT",
                f"image/{digest}",
                body={
                    "analysis_status": "analyzed",
                    "analyzed_at": events.now_iso(),
                    "image_content": {"metadata": metadata},
                },
            )
        except Exception as err:
            self.log.error("analysis of %s failed: %s", detail["fulltag"], err)
            try:
                self.call("catalog", "PUT", f"image/{digest}", body={"analysis_status": "analysis_failed"})
            except Exception as put_err:
                self.log.warning("analysis_failed not recorded: %s", put_err)
            self.emit(
                self.event(
                    "user.image.analysis.failed",
                    "Failed to analyze image",
                    level="ERROR",
                    resource_id=detail["fulltag"],
                    resource_type="image_tag",
                    details={"imageDigest": digest, "cause": str(err)},
                )
            )
            return
        self.log.info("analyzed %s", detail["fulltag"])
        self.emit(
            self.event(
                "user.image.analysis.completed",
                "Image analysis available",
                resource_id=detail["fulltag"],
                resource_type="image_tag",
                details={
                    "imageDigest": digest,
                    "last_eval": {"analysis_status": "analyzing"},
                    "curr_eval": {"analysis_status": "analyzed"},
                },
            )
        )

    def _credentials(self, registry: str) -> skopeo.Credentials:
        """The registry record's credentials and TLS setting; none: --src-tls-verify=false."""
        for record in self.call("catalog", "GET", "system/registries") or []:
            if record.get("registry") == registry:
                return skopeo.Credentials(
                    record.get("registry_user"),
                    record.get("registry_pass"),
                    bool(record.get("registry_verify")),
                )
        return skopeo.Credentials()


def summarize(oci_dir: Path, digest: str, image_id: str) -> dict[str, Any]:
    """What this stand-in "analyses": the layout skopeo wrote (layers, size, platform)."""
    index = json.loads((oci_dir / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    blobs = oci_dir / "blobs" / "sha256"
    manifest = json.loads((blobs / manifest_digest.split(":", 1)[1]).read_text())
    config = json.loads((blobs / manifest["config"]["digest"].split(":", 1)[1]).read_text())
    layers = manifest.get("layers", [])
    return {
        "imageDigest": digest,
        "imageId": image_id,
        "layer_count": len(layers),
        "image_size": sum(int(layer.get("size", 0)) for layer in layers),
        "arch": config.get("architecture"),
        "os": config.get("os"),
        "analyzed_at": events.now_iso(),
    }
