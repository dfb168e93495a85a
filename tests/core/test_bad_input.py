"""Bad input gets one clear line and a distinct exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import docker.errors
import pytest

from anchore_compliance.errors import ExitCode
from anchore_compliance.fixtures.infra.backend import discover_backend
from anchore_compliance.fixtures.infra.images import PUBLIC_IMAGES

pytest_plugins = ["pytester"]

NEVER_READY_PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "never-ready.yaml"
MISSING_IMAGE_PROFILE = """\
name: missing-image
image: localhost/anchore-compliance/no-such-image:never
services: [apiext]
api: {container: api, password: unused}
containers: [{name: api}]
"""

CHECK = """
import pytest

@pytest.mark.requirement("{rid}")
@pytest.mark.scenarios("direct")
def test_check(scenario, engine_run):
    pass
"""


def _run(pytester: pytest.Pytester, *args: str, rid: str = "REG-1") -> pytest.RunResult:
    pytester.makepyfile(test_check=CHECK.format(rid=rid))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--report-dir", "out", *args)


def _assert_one_line(result: pytest.RunResult, code: ExitCode, fragment: str) -> None:
    assert result.ret == code, result.stdout.str() + result.stderr.str()
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if fragment in line]
    assert len(lines) >= 1, output


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("--engine-profile", "no-such-profile"), ExitCode.BAD_CONFIG, "unknown engine profile"),
        (("--requirement", "REG-99"), ExitCode.UNKNOWN_REQUIREMENT, "unknown requirement ID 'REG-99'"),
        (("--ready-timeout", "-1"), ExitCode.BAD_CONFIG, "--ready-timeout must be a positive number"),
        (("--engine-env", "NOEQUALS"), ExitCode.BAD_CONFIG, "--engine-env expects KEY=VALUE"),
        (("--image-set", "local", "--deployment", "no/such/path"), ExitCode.DEPLOYMENT_INPUT, "no/such/path"),
    ],
    ids=["unknown-profile", "unknown-requirement", "bad-timeout", "bad-engine-env", "missing-deployment"],
)
def test_bad_option_is_one_line_and_its_own_exit_code(pytester, args, code, fragment):
    _assert_one_line(_run(pytester, *args), code, fragment)


def test_malformed_profile_file_names_the_line(pytester):
    profile = pytester.makefile(".yaml", profile="name: x\napi: [unclosed\n")
    result = _run(pytester, "--engine-profile", str(profile))
    _assert_one_line(result, ExitCode.BAD_CONFIG, "not valid YAML line")


def test_unknown_requirement_on_a_check_stops_collection(pytester):
    result = _run(pytester, "--collect-only", rid="NOPE-1")
    _assert_one_line(result, ExitCode.UNKNOWN_REQUIREMENT, "unknown requirement ID 'NOPE-1'")


def test_unreachable_container_engine_ends_the_run_as_error(pytester):
    result = _run(pytester, "--container-host", "unix:///nonexistent/docker.sock")
    _assert_one_line(result, ExitCode.CONTAINER_ENGINE_UNREACHABLE, "no container engine answered")
    results = json.loads((pytester.path / "out" / "results.json").read_text())
    assert {r["status"] for r in results["requirements"]} == {"error"}
    assert "no container engine answered" in results["run"]["error"]


def _results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "out" / "results.json").read_text())


def test_profile_image_that_is_missing_ends_the_run_before_any_container_starts(pytester):
    profile = pytester.makefile(".yaml", profile=MISSING_IMAGE_PROFILE)
    result = _run(pytester, "--image-set", "local", "--engine-profile", str(profile))
    _assert_one_line(result, ExitCode.IMAGE_MISSING, "image localhost/anchore-compliance/no-such-image:never")
    assert {r["status"] for r in _results(pytester)["requirements"]} == {"error"}


def test_public_image_that_cannot_be_pulled_ends_the_run_naming_it(pytester):
    client = discover_backend().client()
    try:
        client.images.get(PUBLIC_IMAGES.squid)
        pytest.skip("the public proxy image is present here: nothing is missing")
    except docker.errors.ImageNotFound:
        pass
    finally:
        client.close()
    result = _run(pytester, "--image-set", "public")
    _assert_one_line(result, ExitCode.IMAGE_MISSING, f"image {PUBLIC_IMAGES.squid}")


@pytest.mark.parametrize(
    ("workers", "engine"),
    [
        # Under xdist (as tox -e compliance runs), the readiness wait runs out...
        ("2", ("--engine-profile", str(NEVER_READY_PROFILE), "--ready-timeout", "2")),
        # ...and in one process, the engine exits at start (an unknown fault stops it).
        ("0", ("--engine-env", "REFERENCE_ENGINE_FAULTS=no-such-fault")),
    ],
    ids=["xdist-never-answers", "serial-exits-at-start"],
)
def test_engine_that_never_becomes_ready_ends_the_run_with_its_own_code(pytester, workers, engine):
    # Local images: this machine kind pulls nothing (tox sets it too; a bare pytest does not).
    result = _run(pytester, "--image-set", "local", *engine, "-n", workers, rid="SVC-1")
    _assert_one_line(result, ExitCode.ENGINE_NOT_READY, "engine never became ready (scenario direct)")
    statuses = {r["id"]: r["status"] for r in _results(pytester)["requirements"]}
    # The launch failed, not the requirement: ERROR, never FAIL.
    assert statuses["SVC-1"] == "error"
    assert (pytester.path / "out" / "engine-output" / "direct.log").is_file()
