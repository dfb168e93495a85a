"""A small stand-in for Anchore Engine 1.1.0, used as the engine under test by the compliance suite.

It copies the conventions of the official engine that a network compliance suite can observe: the
five service names and their registration rows, the public API shapes, which HTTP stack makes which
outbound call (Python requests for feeds and calls between services, a `skopeo` child process for
registries), and the engine's quiet failures. Everything else is left out on purpose.
"""

ENGINE_VERSION = "1.1.0"
API_VERSION = "0.1.16"
DB_SCHEMA_VERSION = "0.0.15"
# The version a service registers in its row. The official engine stores its API version ("v1")
# there and builds every internal URL as base_url + "/" + version.
SERVICE_API_VERSION = "v1"

SERVICE_NAMES = ("apiext", "catalog", "simplequeue", "analyzer", "policy_engine")
