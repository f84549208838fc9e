import json

import numpy as np

from keras_liver.evaluation.reports import markdown_table, write_report


def test_markdown_and_json_report(tmp_path):
    md = markdown_table([{"m": "x", "v": 0.12345}], ["m", "v"])
    assert md.splitlines()[2] == "| x | 0.123 |"
    j, m = write_report(tmp_path / "r", "table", {"v": np.float32(0.5), "a": np.arange(2)}, md)
    assert json.loads(j.read_text()) == {"v": 0.5, "a": [0, 1]} and m.read_text() == md
