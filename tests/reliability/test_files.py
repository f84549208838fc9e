"""Hostile files, DICOM folders and case stores: one line, exit 2, nothing written, nothing expanded.

Each case is read twice: by the library (a `KerasLiverError` naming the path) and by
``keras-liver info`` in this process (exit 2, one line). The memory bombs are also run as
real ``keras-liver info`` processes whose peak memory is measured.
"""

import gzip

import numpy as np
import pytest
from reliability.bad_files import FILES, SMALL, _header, write_raw
from reliability.checks import assert_one_line_error, cli_process, files_under, peak_rss_mib

from keras_liver.cli.main import main
from keras_liver.errors import KerasLiverError
from keras_liver.io import load_volume


@pytest.mark.parametrize("case", sorted(FILES))
def test_bad_file_gives_one_line_and_exit_2(case, tmp_path, capsys, casebook):
    build, words = FILES[case]
    path = build(tmp_path)
    before, rss = files_under(tmp_path), peak_rss_mib()
    with pytest.raises(KerasLiverError) as caught:
        load_volume(path)
    named = str(path.parent / path.name.split(".")[0])  # the file, or its side-car, or a file in the folder
    assert named in str(caught.value) and all(w in str(caught.value) for w in words), str(caught.value)
    assert main(["info", str(path)]) == 2
    line = assert_one_line_error(capsys.readouterr().err, "info", [named, *words])
    assert files_under(tmp_path) == before  # nothing written beside the input
    assert peak_rss_mib() - rss < 300  # nothing the size of the declared volume was allocated
    casebook(case.split(":")[0], case.split(": ", 1)[1], "exit 2", line.split(": error: ", 1)[1].replace(
        str(tmp_path) + "/", ""))


def _bomb(folder):
    """A 1 GiB volume of zeros in a file of about 1 MB, the issue's reproduction."""
    header = _header(np.zeros((1, 1, 1), np.uint8))
    header["dim"][:4] = [3, 1024, 1024, 1024]
    path = folder / "bomb.nii.gz"
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as fh:
            fh.write(bytes(header.binaryblock) + b"\0" * 4)
            zeros = bytes(1 << 24)
            for _ in range(4):  # the header's claim is checked before reading, so 64 MiB of zeros is enough
                fh.write(zeros)
    return path


def test_a_small_file_declaring_a_gigabyte_is_refused_by_a_real_process_in_little_memory(tmp_path, casebook):
    bomb = _bomb(tmp_path)
    code, err, peak = cli_process("info", bomb)
    line = assert_one_line_error(err, "info", ["bomb.nii.gz", "1,073,741,824 voxels", "KERAS_LIVER_MAX_VOXELS"])
    assert code == 2 and peak < 400, (code, peak)
    casebook("nifti", f"{bomb.stat().st_size // 1024} kB .nii.gz declaring 1 GiB (process)",
             f"exit 2, peak {peak:.0f} MiB", line.split(": error: ", 1)[1].replace(str(tmp_path) + "/", ""))


def test_the_limit_is_configurable_and_a_volume_under_it_reads(tmp_path, capsys, casebook):
    path = write_raw(tmp_path / "small.nii.gz", _header(), SMALL.tobytes(order="F"))
    assert load_volume(path).shape == (6, 5, 4)
    with pytest.raises(KerasLiverError, match="120 voxels, over the limit of 100"):
        load_volume(path, max_voxels=100)
    code, err, _ = cli_process("info", path, env={"KERAS_LIVER_MAX_VOXELS": "100"})
    line = assert_one_line_error(err, "info", ["over the limit of 100"])
    assert code == 2
    code, err, _ = cli_process("info", path, env={"KERAS_LIVER_MAX_VOXELS": "lots"})
    assert code == 2 and "KERAS_LIVER_MAX_VOXELS='lots'" in assert_one_line_error(err, "info", [])
    casebook("nifti", "volume over KERAS_LIVER_MAX_VOXELS=100 (process)", "exit 2",
             line.split(": error: ", 1)[1].replace(str(tmp_path) + "/", ""))


def test_a_volume_near_the_limit_is_summarised_without_copies_of_itself(tmp_path):
    """256 MiB of int16 voxels: `info` stays within 1.5x the volume (a float64 percentile copy alone is 4x)."""
    array = np.zeros((512, 512, 512), np.int16)
    array[::7, ::5, ::3] = np.random.default_rng(0).integers(-1000, 1000, array[::7, ::5, ::3].shape)
    path = tmp_path / "big.nii"
    write_raw(path, _header(array), array.tobytes(order="F"), gz=False)
    del array
    code, err, peak = cli_process("info", path)
    assert code == 0, err
    assert peak < 1.5 * 256 + 120, peak
