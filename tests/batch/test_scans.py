"""The Beam-free parts of batch inference: which scans, one scan's outputs and row, resuming, the table."""

import csv
import json

import numpy as np
import pytest
from helpers import write_dicom_series
from serving_models import tiny_segmenter

from keras_liver.batch import COLUMNS, Scan, finished_row, list_scans, process_scan, write_summary
from keras_liver.batch.scans import measure
from keras_liver.errors import ConfigError
from keras_liver.inference import predict_volume
from keras_liver.io import Volume, load_volume, save_volume
from keras_liver.phantoms import write_ct_dataset


def test_inputs_come_from_globs_folders_csvs_and_dicom_series_with_unique_ids(tmp_path):
    for name in ("a.nii.gz", "b.nii", "c.nrrd", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.nii.gz").write_bytes(b"x")  # the same name in another folder: its own id
    dicom = tmp_path / "series1"
    write_dicom_series(dicom, np.zeros((3, 8, 8), np.int16))
    (other / "a-2.nii").write_bytes(b"x")  # already named like a renamed clash
    scans = list_scans([str(tmp_path / "*.nii*"), str(other), str(dicom)])
    assert [s.scan_id for s in scans] == ["a", "b", "a-2", "a-3", "series1"]  # other/a-2.nii, then other/a.nii.gz
    assert scans[3].path == str(other / "a.nii.gz")
    assert len({s.scan_id for s in scans}) == len(scans)
    assert scans[0].path == str(tmp_path / "a.nii.gz") and scans[4].path == str(dicom)
    table = tmp_path / "list.csv"
    table.write_text("subject,path\n1,a.nii.gz\n2,/abs/missing.nii.gz\n3,a.nii.gz\n")
    listed = list_scans(str(table))
    assert [s.path for s in listed] == [str(tmp_path / "a.nii.gz"), "/abs/missing.nii.gz"]  # duplicates once
    plain = tmp_path / "plain.csv"
    plain.write_text("b.nii\nc.nrrd\n")
    assert [s.scan_id for s in list_scans(str(plain))] == ["b", "c"]
    with pytest.raises(ConfigError, match=r"\*\.mha: the pattern matches nothing"):
        list_scans(str(tmp_path / "*.mha"))
    (tmp_path / "empty.csv").write_text("path\n")
    with pytest.raises(ConfigError, match="empty.csv: no paths"):
        list_scans(str(tmp_path / "empty.csv"))


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct")
    write_ct_dataset(folder, 2, seed=10000, shape=(6, 32, 40))
    (folder / "volume-9.nii.gz").write_bytes(b"\x1f\x8b not really gzip")  # a corrupt scan
    return folder


def test_a_scan_is_predicted_written_measured_and_then_found_complete(phantoms, tmp_path):
    model = tiny_segmenter(3)
    scan = Scan("volume-0", str(phantoms / "volume-0.nii.gz"))
    row = process_scan(model, scan, tmp_path, model_name="tiny")
    assert list(row) == list(COLUMNS) and row["error"] is None and row["mask"] == "volume-0.nii.gz"
    image = load_volume(scan.path)
    expect = predict_volume(model, image)  # what keras-liver predict writes for the same scan
    mask = load_volume(tmp_path / "volume-0.nii.gz")
    np.testing.assert_array_equal(mask.array, expect.array)
    assert np.allclose(mask.affine, image.affine)  # the source geometry
    voxel_ml = float(np.prod(image.spacing)) / 1000
    assert row["liver_ml"] == pytest.approx(float((expect.array > 0).sum()) * voxel_ml, abs=1e-3)
    assert row["tumour_ml"] == pytest.approx(float((expect.array == 2).sum()) * voxel_ml, abs=1e-3)
    assert json.loads((tmp_path / "volume-0.row.json").read_text()) == row
    assert finished_row(tmp_path, scan) == row
    assert finished_row(tmp_path, Scan("volume-0", "elsewhere.nii.gz")) is None  # another input, same id
    (tmp_path / "volume-0.nii.gz").unlink()
    assert finished_row(tmp_path, scan) is None  # the mask is gone: not complete
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_a_bad_scan_becomes_a_row_with_its_one_line_error(phantoms, tmp_path):
    model = tiny_segmenter(3)
    for scan, words in ((Scan("volume-9", str(phantoms / "volume-9.nii.gz")), "volume-9.nii.gz"),
                        (Scan("gone", str(tmp_path / "gone.nii.gz")), "gone.nii.gz"),
                        (Scan("series", str(phantoms / "volume-0.nii.gz")), None)):
        if words is None:  # a 4D series for a CT model
            image = load_volume(scan.path)
            (tmp_path / "in").mkdir()
            save_volume(Volume(np.stack([image.array] * 3), np.eye(4)), tmp_path / "in" / "series.nii.gz")
            scan, words = Scan("series", str(tmp_path / "in" / "series.nii.gz")), "4D series"
        row = process_scan(model, scan, tmp_path)
        assert row["error"] and words in row["error"] and "\n" not in row["error"]
        assert row["error"].count(scan.path) == 1  # the file named once
        assert row["mask"] is None and not (tmp_path / f"{scan.scan_id}.nii.gz").exists()
        assert finished_row(tmp_path, scan) is None  # a failed scan is retried


def test_measure_counts_lesions_and_burden_and_the_table_is_csv_and_parquet(tmp_path):
    labels = np.zeros((5, 12, 13), np.uint8)
    labels[1:4, 2:10, 2:11] = 1
    labels[2, 3:5, 3:5] = 2
    labels[2:4, 7:9, 7:10] = 2
    volume = Volume(labels, np.diag([2.0, 1.5, 3.0, 1.0]))
    m = measure(volume)
    assert m["lesion_count"] == 2 and m["lesion_classes"] is None
    assert m["liver_ml"] == pytest.approx(3 * 8 * 9 * 9.0 / 1000) and m["tumour_ml"] == pytest.approx(16 * 9.0 / 1000)
    assert m["tumour_burden"] == pytest.approx(16 / (3 * 8 * 9), abs=1e-5)
    dce = measure(volume, [{"class": "hcc"}, {"class": "cyst"}])
    assert dce["lesion_count"] == 2 and dce["lesion_classes"] == "hcc;cyst"
    rows = [{**{c: None for c in COLUMNS}, "scan_id": "b", "input": "b.nii", "error": "b.nii: broken", "seconds": 0.1},
            {**{c: None for c in COLUMNS}, "scan_id": "a", "input": "a.nii", "mask": "a.nii.gz", **m, "seconds": 1.5}]
    paths = write_summary(rows, tmp_path)
    with open(paths["csv"], newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["scan_id"] for r in table] == ["a", "b"] and list(table[0]) == list(COLUMNS)
    assert float(table[0]["liver_ml"]) == pytest.approx(m["liver_ml"]) and table[1]["error"] == "b.nii: broken"
    pq = pytest.importorskip("pyarrow.parquet")
    frame = pq.read_table(paths["parquet"]).to_pylist()
    assert [r["scan_id"] for r in frame] == ["a", "b"] and frame[0]["lesion_count"] == 2
    assert frame[1]["liver_ml"] is None and frame[1]["error"] == "b.nii: broken"


def test_a_dce_series_row_counts_and_names_its_lesions_as_lesions_json_does(tmp_path):
    from serving_models import tiny_dce_pipeline

    from keras_liver.inference import pipeline_predict

    pipeline = tiny_dce_pipeline(biased=True, postprocess={"min_lesion_mm3": 0.0, "min_lesion_probability": None})
    rng = np.random.default_rng(4)
    series = Volume(rng.uniform(50, 150, (5, 7, 20, 22)).astype(np.float32), np.diag([2.5, 2.5, 4.0, 1.0]))
    path = save_volume(series, tmp_path / "dce-1.nii.gz")
    out = tmp_path / "out"
    out.mkdir()
    row = process_scan(pipeline, Scan("dce-1", str(path)), out, model_name="tiny_pipeline")
    labels, _, lesions = pipeline_predict(pipeline, load_volume(path))
    assert lesions, "the biased pipeline should find lesions"
    assert row["error"] is None and row["lesion_count"] == len(lesions)
    assert row["lesion_classes"] == ";".join(r["class"] for r in lesions)
    np.testing.assert_array_equal(load_volume(out / "dce-1.nii.gz").array, labels.array)
    record = json.loads((out / "dce-1.lesions.json").read_text())
    assert record["task"] == "dce_lesions" and record["lesions"] == json.loads(json.dumps(lesions))
