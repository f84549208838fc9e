"""A real Beam pipeline (DirectRunner) over tiny phantoms: masks equal `predict`'s, a corrupt scan is a row
with its error, a rerun skips what is complete and a killed run loses nothing."""

import csv
import json

import numpy as np
import pytest
from serving_models import tiny_segmenter

pytest.importorskip("apache_beam")

from keras_liver.batch import run_batch  # noqa: E402
from keras_liver.cli.main import main  # noqa: E402
from keras_liver.errors import ConfigError  # noqa: E402
from keras_liver.inference import predict_volume  # noqa: E402
from keras_liver.io import load_volume  # noqa: E402
from keras_liver.models import save_model  # noqa: E402
from keras_liver.phantoms import write_ct_dataset  # noqa: E402


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    write_ct_dataset(folder, 3, seed=10000, shape=(5, 24, 28))
    (folder / "volume-3.nii.gz").write_bytes(b"not a NIfTI file")  # a corrupt scan among them
    model = save_model(tiny_segmenter(5), folder / "model.keras")
    return folder, model


def _mtimes(out):
    return {p.name: p.stat().st_mtime_ns for p in out.glob("*.row.json")}


def test_a_batch_run_writes_every_mask_and_one_table_and_a_rerun_skips_what_is_done(archive, tmp_path):
    folder, model_path = archive
    out = tmp_path / "out"
    summary = run_batch(str(model_path), str(folder / "volume-*.nii.gz"), out)
    assert summary["scans"] == 4 and summary["failed"] == 1 and summary["skipped"] == 0
    rows = {r["scan_id"]: r for r in summary["rows"]}
    assert set(rows) == {f"volume-{n}" for n in range(4)}
    assert "volume-3.nii.gz" in rows["volume-3"]["error"] and rows["volume-3"]["mask"] is None
    from keras_liver.models import load_model

    model = load_model(model_path, compile=False)
    for n in range(3):
        image = load_volume(folder / f"volume-{n}.nii.gz")
        mask = load_volume(out / f"volume-{n}.nii.gz")
        np.testing.assert_array_equal(mask.array, predict_volume(model, image).array)
        assert np.allclose(mask.affine, image.affine) and rows[f"volume-{n}"]["error"] is None
    with open(out / "summary.csv", newline="") as fh:
        table = {r["scan_id"]: r for r in csv.DictReader(fh)}
    assert set(table) == set(rows)
    for scan_id, row in rows.items():
        assert table[scan_id]["liver_ml"] == ("" if row["liver_ml"] is None else str(row["liver_ml"]))
    dead = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [d["scan_id"] for d in dead] == ["volume-3"]
    if summary["parquet"]:
        import pyarrow.parquet as pq

        assert sorted(pq.read_table(summary["parquet"]).column("scan_id").to_pylist()) == sorted(rows)

    before = _mtimes(out)
    again = run_batch(str(model_path), str(folder / "volume-*.nii.gz"), out)
    assert again["skipped"] == 3 and again["failed"] == 1  # the corrupt scan is retried, and fails again
    after = _mtimes(out)
    assert all(after[f"volume-{n}.row.json"] == before[f"volume-{n}.row.json"] for n in range(3))
    assert [r["scan_id"] for r in again["rows"]] == [r["scan_id"] for r in summary["rows"]]

    # a run killed after two scans: one mask written, its row never; the third scan not started
    (out / "volume-1.row.json").unlink()
    (out / "volume-2.row.json").unlink()
    (out / "volume-2.nii.gz").unlink()
    resumed = run_batch(str(model_path), str(folder / "volume-*.nii.gz"), out)
    assert resumed["skipped"] == 1 and resumed["failed"] == 1
    assert {r["scan_id"] for r in resumed["rows"] if r["error"] is None} == {"volume-0", "volume-1", "volume-2"}
    assert _mtimes(out)["volume-0.row.json"] == before["volume-0.row.json"]


def test_predict_batch_command_and_its_one_line_errors(archive, tmp_path, capsys):
    folder, model_path = archive
    listing = tmp_path / "scans.csv"
    listing.write_text(f"path\n{folder / 'volume-0.nii.gz'}\n{tmp_path / 'missing.nii.gz'}\n")
    assert main(["predict-batch", "--model", str(model_path), "--input", str(listing),
                 "--output-dir", str(tmp_path / "o")]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["scans"] == 2 and printed["failed"] == 1 and "rows" not in printed
    assert (tmp_path / "o" / "volume-0.nii.gz").is_file()
    assert main(["predict-batch", "--model", str(tmp_path / "nope.keras"), "--input", str(listing),
                 "--output-dir", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "nope.keras" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="--workers 0"):
        run_batch(str(model_path), str(listing), tmp_path / "o3", workers=0)


def test_local_workers_share_the_cores_and_each_worker_tensorflow_keeps_to_its_share(archive, tmp_path,
                                                                                      monkeypatch):
    import os
    import subprocess
    import sys

    from keras_liver.batch import run as batch_run

    monkeypatch.setattr(batch_run.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4}, raising=False)
    assert [batch_run.cores_per_worker(n) for n in (1, 2, 3, 5, 8)] == [5, 2, 1, 1, 1]
    _, model_path = archive
    code = ("import tensorflow as tf; from keras_liver.batch.handler import ScanModelHandler; "
            f"ScanModelHandler({str(model_path)!r}, {str(tmp_path)!r}, threads=1).load_model(); "
            "print(tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "1"]  # TensorFlow's default is 0 (all cores)
