"""A static HTML report: headings, tables and pictures in one self-contained page.

The page needs no server and no other file: pictures are embedded as ``data:`` URIs, so the
report can be mailed or opened from any folder in any browser. Used by ``make demo``
(``demo_out/report.html``).
"""

import base64
import html
import mimetypes
import pathlib

from keras_liver.errors import ConfigError, MissingPathError
from keras_liver.io.atomic import write_text_atomic

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 520px; border: 1px solid #ddd; } figcaption { font-size: 0.85em; color: #555; }
p.note { color: #555; font-size: 0.9em; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape("" if value is None else str(value))


def html_table(rows, columns=None) -> str:
    """An HTML table of dict rows (floats with 3 decimals; every cell escaped).

    Args:
        rows: Sequence of dicts.
        columns: Keys to show, in order (default: the first row's keys).

    Returns:
        The ``<table>`` markup (an empty string for no rows).
    """
    rows = list(rows)
    if not rows:
        return ""
    columns = list(columns or rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def embedded_image(path, caption: str = "") -> str:
    """A ``<figure>`` with the picture at ``path`` embedded as a data URI (`MissingPathError` if absent)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: picture for the report not found")
    kind = mimetypes.guess_type(path.name)[0] or "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    text = html.escape(caption or path.stem)
    return f'<figure><img src="data:{kind};base64,{data}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def write_html_report(path, title: str, sections) -> pathlib.Path:
    """Write one self-contained HTML page (atomically).

    Args:
        path: The ``.html`` file to write.
        title: Page title and top heading.
        sections: Sequence of ``(heading, parts)``; each part is a dict with one of
            ``"table"`` (rows; optional ``"columns"``), ``"image"`` (a PNG path; optional
            ``"caption"``) or ``"text"`` (a paragraph, escaped).

    Returns:
        The path written.

    Example:
        >>> write_html_report("report.html", "Demo", [("CT", [{"table": [{"case": 0, "dice": 0.97}]}])])
    """
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for heading, parts in sections:
        out.append(f"<h2>{html.escape(heading)}</h2>")
        for part in parts:
            if "table" in part:
                out.append(html_table(part["table"], part.get("columns")))
            elif "image" in part:
                out.append(embedded_image(part["image"], part.get("caption", "")))
            elif "text" in part:
                out.append(f"<p class='note'>{html.escape(str(part['text']))}</p>")
            else:
                raise ConfigError(f"report part: needs 'table', 'image' or 'text', got {sorted(part)}")
    out.append("</body></html>\n")
    return write_text_atomic(pathlib.Path(path), "\n".join(out))
