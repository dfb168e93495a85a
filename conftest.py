"""Root conftest: the suite itself is the `anchore_compliance` plugin (pytest11 entry point).

Only collection boundaries live here: the engine's and the infrastructure's own code are not
test modules, even though some of their names start with `test`.
"""

collect_ignore = ["reference_engine", "fixtures", "anchore_compliance", "reports"]
