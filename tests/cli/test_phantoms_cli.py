from keras_liver.cli.main import main
from keras_liver.io import find_lits_cases, load_volume


def test_phantoms_ct_writes_lits_folder_and_preview(tmp_path):
    out, png = tmp_path / "ct", tmp_path / "ct.png"
    assert main(["phantoms", "ct", "--cases", "2", "--out", str(out), "--seed", "5", "--shape", "9,40,36",
                 "--preview", str(png)]) == 0
    cases = find_lits_cases(out)
    assert [c.case_id for c in cases] == [0, 1] and all(c.label_path for c in cases)
    assert load_volume(cases[1].image_path).shape == (9, 40, 36)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_phantoms_dce_balanced_with_preview(tmp_path):
    out, png = tmp_path / "dce", tmp_path / "dce.png"
    assert main(["phantoms", "dce", "--cases", "5", "--balanced", "--out", str(out), "--shape", "8,40,40",
                 "--preview", str(png)]) == 0
    assert load_volume(out / "dce-4.nii.gz").shape[1:] == (8, 40, 40)
    assert (out / "cases.csv").read_text().splitlines()[5].split(",")[1] == "fnh"
    assert png.stat().st_size > 10_000


def test_phantoms_bad_arguments(tmp_path, capsys):
    assert main(["phantoms", "ct", "--cases", "0", "--out", str(tmp_path)]) == 2
    assert "--cases 0" in capsys.readouterr().err


def test_phantoms_phase_is_written_and_refused_for_dce(tmp_path, capsys):
    import json

    assert main(["phantoms", "ct", "--cases", "2", "--seed", "1", "--shape", "9,40,37", "--phase", "non-contrast",
                 "--out", str(tmp_path / "ct")]) == 0
    info = json.loads((tmp_path / "ct" / "cases.json").read_text())
    assert [case["phase"] for case in info.values()] == ["non-contrast", "non-contrast"]
    assert main(["phantoms", "dce", "--cases", "1", "--phase", "arterial", "--out", str(tmp_path / "dce")]) == 2
    err = capsys.readouterr().err
    assert "--phase arterial" in err and not (tmp_path / "dce").exists()
