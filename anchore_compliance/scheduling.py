"""pytest-xdist scheduling that keeps every check of one scenario on one worker.

A scenario's engine is expensive and session-scoped on its worker; split across workers it would
be launched once per worker. xdist's own `loadgroup` cannot be used for this: it renames node ids
through an attribute pytest 9 no longer reads. This scheduler groups by the scenario named in
the check's id (`...[REQ-ID-scenario]`) and otherwise behaves like `--dist loadscope`.
"""

from __future__ import annotations

import re

from xdist.scheduler import LoadScopeScheduling

from anchore_compliance.fixtures.attached import ATTACHED
from anchore_compliance.fixtures.scenarios import SCENARIOS

# The id the plugin gives a scenario check: [<REQUIREMENT>-<scenario>], e.g. [REG-1-proxy-auth];
# in attach mode [<REQUIREMENT>-attached], all of them sharing the one attached engine.
_NAMES = sorted([*SCENARIOS, ATTACHED], key=len, reverse=True)
_SCENARIO_ID = re.compile(r"\[[A-Z]+-\d+-(" + "|".join(map(re.escape, _NAMES)) + r")\]$")


def scenario_of_nodeid(nodeid: str) -> str | None:
    match = _SCENARIO_ID.search(nodeid)
    return match.group(1) if match else None


class ScenarioScheduling(LoadScopeScheduling):
    """One work unit per scenario; checks without a scenario are grouped by module."""

    def _split_scope(self, nodeid: str) -> str:
        scenario = scenario_of_nodeid(nodeid)
        return f"scenario:{scenario}" if scenario else super()._split_scope(nodeid)
