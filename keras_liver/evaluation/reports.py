"""Reports: JSON + Markdown tables written side by side."""

import json
import logging
import pathlib

import numpy as np

from keras_liver.io.atomic import write_text_atomic

logger = logging.getLogger(__name__)


def markdown_table(rows, columns, headers=None) -> str:
    """A Markdown table of dict rows (floats with 3 decimals)."""
    headers = headers or columns
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.3f}" if isinstance(v, float) else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def write_report(out_dir, name: str, data: dict, markdown: str) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``<name>.json`` and ``<name>.md`` into ``out_dir`` (atomically)."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    j = write_text_atomic(out_dir / f"{name}.json", json.dumps(data, indent=2, default=_json_default) + "\n")
    m = write_text_atomic(out_dir / f"{name}.md", markdown)
    logger.info("wrote %s and %s", j, m)
    return j, m


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
