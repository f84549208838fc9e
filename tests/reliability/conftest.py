"""The reliability corpus: shared checks and the casebook that becomes the table in docs/RESULTS.md.

Set ``KERAS_LIVER_RELIABILITY_TABLE=PATH`` to have the session write one Markdown row per case
(``scripts/reliability_table.py`` does that and prints it).
"""

import os
import pathlib
import traceback

import pytest

TABLE_ENV = "KERAS_LIVER_RELIABILITY_TABLE"
_ROWS = []


@pytest.fixture
def casebook(request):
    """``casebook(kind, case, outcome, message)`` records one row of the corpus table."""

    def record(kind: str, case: str, outcome: str, message: str = ""):
        _ROWS.append({"kind": kind, "case": case, "outcome": outcome, "message": message,
                      "test": request.node.nodeid})
    return record


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get(TABLE_ENV)
    if not path or not _ROWS:
        return
    try:
        lines = ["| # | kind | bad input | result | message (first 110 characters) |", "|---|---|---|---|---|"]
        for n, row in enumerate(sorted(_ROWS, key=lambda r: (r["kind"], r["case"])), 1):
            message = row["message"].replace("|", "\\|").replace("\n", " ")
            if len(message) > 110:
                message = message[:107] + "..."
            lines.append(f"| {n} | {row['kind']} | {row['case']} | {row['outcome']} | {message} |")
        pathlib.Path(path).write_text("\n".join(lines) + "\n")
    except OSError:
        traceback.print_exc()
