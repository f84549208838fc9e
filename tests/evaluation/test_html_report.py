"""`write_html_report`: one self-contained page whose tables and pictures are what was given."""

import base64
import re

import numpy as np
import pytest

from keras_liver.errors import ConfigError, MissingPathError
from keras_liver.evaluation.html_report import html_table, write_html_report


def test_a_table_shows_every_cell_escaped_and_floats_rounded():
    table = html_table([{"scan": "<b>x</b>", "dice": 0.96666, "n": 3}, {"scan": "y", "dice": None, "n": 4}])
    assert "&lt;b&gt;x&lt;/b&gt;" in table and "<b>" not in table
    assert "<td>0.967</td>" in table and table.count("<tr>") == 3 and "<th>dice</th>" in table
    assert html_table([{"a": 1, "b": 2}], columns=["b"]).count("<td>") == 1
    assert html_table([]) == ""


def test_the_page_embeds_the_picture_bytes_and_needs_no_other_file(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = tmp_path / "curve.png"
    plt.imsave(png, np.arange(35, dtype=float).reshape(5, 7))
    page = write_html_report(tmp_path / "report.html", "Demo & co", [
        ("CT", [{"table": [{"case": 0, "liver_dice": 0.97}]}, {"image": png, "caption": "a curve"}]),
        ("Notes", [{"text": "1 < 2"}])])
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>Demo &amp; co</title>" in text and "1 &lt; 2" in text
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert base64.b64decode(data) == png.read_bytes()
    assert "a curve" in text and "<td>0.970</td>" in text
    assert not list(tmp_path.glob(".report.html*"))  # written atomically: no temporary left


def test_a_missing_picture_or_an_unknown_part_is_refused(tmp_path):
    with pytest.raises(MissingPathError, match="nope.png"):
        write_html_report(tmp_path / "r.html", "t", [("s", [{"image": tmp_path / "nope.png"}])])
    with pytest.raises(ConfigError, match="needs 'table'"):
        write_html_report(tmp_path / "r.html", "t", [("s", [{"video": 1}])])
    assert not (tmp_path / "r.html").exists()
