"""Network calls survive podman's transient "network inspection mismatch" answer, and only that."""

from __future__ import annotations

import docker.errors
import pytest

from anchore_compliance.errors import InfrastructureError
from anchore_compliance.fixtures.infra import backend
from anchore_compliance.fixtures.infra.backend import retry_network_race

# What podman 4.3 answered in CI while another worker's container joined its network.
RACE = (
    "network inspection mismatch: asked to join 1 network(s) map[acs-52b04d533c-gw0-outside:{...}], "
    "but have information on 2 network(s): internal libpod error"
)


def _api_error(explanation: str) -> docker.errors.APIError:
    return docker.errors.APIError("500 Server Error", explanation=explanation)


class Listing:
    """A listing call that fails with `errors` in turn, then answers `result`."""

    def __init__(self, *errors: Exception, result: object = ("net",)) -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_RACE_PAUSE", 0.0)


def test_the_listing_race_is_retried_until_the_engine_answers() -> None:
    listing = Listing(_api_error(RACE), _api_error(RACE))
    assert retry_network_race(listing) == ("net",)
    assert listing.calls == 3


def test_any_other_engine_error_goes_to_the_caller_at_once() -> None:
    listing = Listing(_api_error("no such network"))
    with pytest.raises(docker.errors.APIError, match="no such network"):
        retry_network_race(listing)
    assert listing.calls == 1


def test_a_race_that_does_not_end_is_the_suites_trouble_with_a_bound() -> None:
    listing = Listing(*[_api_error(RACE)] * backend._RACE_ATTEMPTS)
    with pytest.raises(InfrastructureError, match="kept failing to report networks or containers"):
        retry_network_race(listing)
    assert listing.calls == backend._RACE_ATTEMPTS
