"""``tierwise serve`` with the decision log switched off: only for the offers benchmark, to measure
what writing decision records costs in HTTP throughput. Never a way to run the service."""

from __future__ import annotations

import sys

from app import cli
from app.services import offers

offers.add_decisions = lambda session, records: None  # the one thing this entry point changes

if __name__ == "__main__":
    sys.exit(cli.main())
