"""Keep secrets out of everything the suite writes.

A proxy password can leak in three spellings: raw (`p@ss!`), percent-encoded as it sits in a
proxy URL (`p%40ss%21`), and base64, inside a `Proxy-Authorization: Basic ...` value or a
Kubernetes Secret. The redactor knows every secret the run uses and replaces all spellings of
each. A password given raw in a URL that does not parse shows up in pieces in error messages
(a parser stops at its '#' or '/'): for secrets registered with `fragments=True`, every run of
six or more letters and digits is masked on its own too.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
_FRAGMENT = 6  # shortest run of letters and digits of a secret masked on its own
_SECRET_KEY = re.compile(r"(^|_)(password|passwd|secret|token|credentials?)($|_)", re.IGNORECASE)
# userinfo in any URL: scheme://user:password@host
# Greedy up to the last "@" of the word: an unencoded password may itself hold "@".
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>\S*)@")


def _any_encoding(secret: str) -> str:
    """A pattern matching the secret with each character raw or percent-encoded (any case)."""
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02X}" for byte in char.encode())
        options = {re.escape(char), re.escape(encoded), re.escape(encoded.lower())}
        if char == " ":
            options.add(re.escape("+"))
        parts.append("(?:" + "|".join(sorted(options)) + ")")
    return "".join(parts)


class Redactor:
    """Replaces known secrets (and the basic-auth tokens built from them) in text and data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._patterns: dict[str, re.Pattern[str]] = {}

    def add_secret(self, secret: str, *, user: str | None = None, fragments: bool = False) -> None:
        """Mask `secret` in every spelling; `fragments` for random secrets that may leak in pieces."""
        if not secret:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        forms |= {base64.b64encode(form.encode()).decode() for form in (secret, quote(secret, safe=""))}
        if fragments:
            forms |= set(re.findall(rf"[A-Za-z0-9]{{{_FRAGMENT},}}", secret))
        if user is not None:
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            forms |= {token, token.rstrip("=")}
        with self._lock:
            self._forms |= forms
            self._patterns[secret] = re.compile(_any_encoding(secret))

    def redact(self, text: str) -> str:
        if not text:
            return text
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        with self._lock:
            forms = sorted(self._forms, key=len, reverse=True)
            patterns = list(self._patterns.values())
        for form in forms:
            text = text.replace(form, MASK)
        for pattern in patterns:
            text = pattern.sub(MASK, text)
        return text

    def redact_data(self, value: Any) -> Any:
        """Redact a JSON-like structure; values under secret-looking keys are masked whole."""
        if isinstance(value, dict):
            return {
                key: (MASK if _SECRET_KEY.search(str(key)) and value[key] else self.redact_data(value[key]))
                for key in value
            }
        if isinstance(value, list | tuple):
            return [self.redact_data(item) for item in value]
        if isinstance(value, str):
            return self.redact(value)
        return value

    def secrets_present(self, texts: Iterable[str]) -> list[str]:
        """Return the texts that still hold a known secret form (for the project's own tests)."""
        with self._lock:
            forms = list(self._forms)
            patterns = list(self._patterns.values())
        return [
            text
            for text in texts
            if any(form in text for form in forms) or any(p.search(text) for p in patterns)
        ]


# One per process: fixtures register secrets as they create them; report writers redact.
REDACTOR = Redactor()
