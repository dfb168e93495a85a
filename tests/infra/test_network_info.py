"""Addresses inside a suite network, and the MAC derived from each."""

from __future__ import annotations

import ipaddress

import pytest

from anchore_compliance.fixtures.infra.network import SUBNET_POOL, NetworkInfo, mac_for

NETWORK = NetworkInfo(name="n", subnet=ipaddress.IPv4Network("10.213.7.0/24"), internal=True)


def test_host_numbers_map_into_the_subnet() -> None:
    assert NETWORK.host(10) == "10.213.7.10"
    assert NETWORK.gateway == "10.213.7.1"
    assert NETWORK.subnet.subnet_of(SUBNET_POOL)


@pytest.mark.parametrize("number", [pytest.param(0, id="network"), pytest.param(255, id="broadcast")])
def test_host_numbers_outside_the_usable_range_are_refused(number: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        NETWORK.host(number)


def test_mac_is_derived_from_the_address_like_docker_does() -> None:
    assert mac_for("10.213.7.12") == "02:42:0a:d5:07:0c"
    assert mac_for(NETWORK.host(12)) != mac_for(NETWORK.host(11))
