"""The riskcast command line: parses arguments, calls a job, returns an exit code.

``root`` holds the app, its global options and what the commands share; each other module holds
the commands for one kind of work. Importing a command module registers its commands on ``app``,
so the imports below are what makes the commands exist, and their order is the order ``riskcast
--help`` lists them in.
"""

from __future__ import annotations

from riskcast.cli.root import app, main

# isort: off
from riskcast.cli import runs, fetch, stages, tools  # noqa: F401 - registers the commands, in this order
# isort: on

__all__ = ["app", "main"]
