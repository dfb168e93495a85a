"""No proxy password leaves the suite in any spelling."""

from __future__ import annotations

import base64

import pytest

from anchore_compliance.redaction import MASK, Redactor

PASSWORD = "Pw@x1!#:%/"
ENCODED = "Pw%40x1%21%23%3A%25%2F"


@pytest.fixture
def redactor() -> Redactor:
    r = Redactor()
    r.add_secret(PASSWORD, user="compliance")
    return r


@pytest.mark.parametrize(
    "text",
    [
        f"password is {PASSWORD}",
        f"https_proxy=http://compliance:{ENCODED}@proxy:3128",
        "Proxy-Authorization: Basic " + base64.b64encode(f"compliance:{PASSWORD}".encode()).decode(),
        f"quoted {PASSWORD.replace('@', '%40')} partially",
    ],
    ids=["raw", "url-encoded", "basic-token", "userinfo-any-encoding"],
)
def test_every_spelling_is_masked(redactor, text):
    redacted = redactor.redact(text)
    assert not redactor.secrets_present([redacted])
    assert "x1" not in redacted or MASK in redacted


def test_userinfo_of_any_url_is_masked_even_for_unknown_secrets():
    assert Redactor().redact("http://u:whatever@h:1") == f"http://u:{MASK}@h:1"


def test_secret_keys_are_masked_in_data(redactor):
    data = {"api": {"password": "admin-pw"}, "env": {"https_proxy": f"http://compliance:{ENCODED}@p:3128"}}
    redacted = redactor.redact_data(data)
    assert redacted["api"]["password"] == MASK
    assert ENCODED not in str(redacted)


def test_unencoded_password_with_at_signs_is_masked_whole():
    redacted = Redactor().redact("https_proxy=https://user:F@o@Bar!@proxy.corp.example.com:8128")
    assert "oBar" not in redacted
    assert "Bar!" not in redacted
