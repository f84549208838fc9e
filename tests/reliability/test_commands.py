"""Hostile configs and arguments: exit 2, one line naming the argument or file, nothing half-written."""

import pytest
from reliability.bad_commands import ARGUMENTS, CONFIGS
from reliability.checks import assert_one_line_error, files_under

from keras_liver.cli.main import main
from keras_liver.phantoms import write_ct_dataset


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    from serving_models import tiny_segmenter

    from keras_liver.models import save_model

    folder = tmp_path_factory.mktemp("context")
    data = folder / "data"
    write_ct_dataset(data, 2, seed=0, shape=(8, 32, 32))
    for n in range(2):  # plain .nii copies, so a test can truncate one byte-exactly
        import nibabel as nib

        for kind in ("volume", "segmentation"):
            img = nib.load(str(data / f"{kind}-{n}.nii.gz"))
            nib.save(img, str(data / f"{kind}-{n}.nii"))
            (data / f"{kind}-{n}.nii.gz").unlink()
    model = save_model(tiny_segmenter(3), folder / "tiny.keras")
    return {"data": data, "model": model, "volume": data / "volume-0.nii", "label": data / "segmentation-0.nii"}


def _run(case, table, folder, ctx, capsys):
    build, words = table[case]
    argv, outputs = build(folder, ctx)
    before = files_under(folder)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (code, err)
    line = assert_one_line_error(err, argv[0], words)
    assert files_under(folder) == before, files_under(folder) - before  # nothing half-written, no temporaries
    for path in outputs:
        assert not path.exists(), path
    return line.split(": error: ", 1)[1].replace(str(folder) + "/", "").replace(str(ctx["data"]), "DATA")


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config_exits_2_before_anything_is_written(case, tmp_path, ctx, capsys, casebook):
    message = _run(case, CONFIGS, tmp_path, ctx, capsys)
    casebook("config", case.split(": ", 1)[1], "exit 2", message)


@pytest.mark.parametrize("case", sorted(ARGUMENTS))
def test_bad_argument_exits_2_with_one_line(case, tmp_path, ctx, capsys, casebook):
    message = _run(case, ARGUMENTS, tmp_path, ctx, capsys)
    casebook("cli", case, "exit 2", message)
