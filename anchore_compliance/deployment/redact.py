"""Keep the passwords a deployment holds out of every finding.

Rules never put a value's password into a text (they print proxy URLs through
`semantics.redact_proxy_value`); this is the second line of defence. It collects every secret of
the input (passwords in proxy URLs, raw and decoded; values of variables with secret-looking names;
every value of a Kubernetes Secret), scrubs all their spellings from finding texts, and registers
them with the suite's process-wide redactor so evidence and reports are scrubbed too.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote

from anchore_compliance.deployment.model import PROXY_VARIABLES, EnvVar
from anchore_compliance.deployment.semantics import parse_proxy_url, unquote_outer
from anchore_compliance.redaction import MASK, REDACTOR

_SECRET_NAME = re.compile(r"pass(word)?|secret|token|credential|api_?key", re.IGNORECASE)
# Shorter values are not scrubbed from texts: masking every "ab" would garble the findings, and
# the rules never print values anyway.
_MIN_LENGTH = 3


def _spellings(secret: str, user: str | None) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms.add(base64.b64encode(secret.encode()).decode())
    if user is not None:
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        forms |= {token, token.rstrip("=")}
    return {form for form in forms if len(form) >= _MIN_LENGTH}


class SecretScrubber:
    """Knows the secrets of one input and removes them from text."""

    def __init__(self) -> None:
        self._forms: set[str] = set()

    def add(self, secret: str | None, user: str | None = None) -> None:
        if not secret or len(secret) < _MIN_LENGTH:
            return
        self._forms |= _spellings(secret, user)
        REDACTOR.add_secret(secret, user=user)

    def add_env(self, var: EnvVar) -> None:
        if var.value is None:
            return
        if var.syntax == "k8s-secret" or _SECRET_NAME.search(var.name):
            self.add(var.value)
        if var.name in PROXY_VARIABLES:
            url = parse_proxy_url(unquote_outer(var.value))
            if url.userinfo is None:
                return
            if url.password is None:  # a lone token: treat it as a secret
                self.add(url.userinfo)
                self.add(unquote(url.userinfo))
            else:
                self.add(url.password, user=url.user)
                self.add(unquote(url.password), user=unquote(url.user or ""))

    def add_all(self, variables: Iterable[EnvVar]) -> None:
        for var in variables:
            self.add_env(var)

    def __call__(self, text: str) -> str:
        for form in sorted(self._forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text
