"""A dev server over freshly exported tiny models, shared by the serving tests of one module."""

import pytest
from serving_models import tiny_classifier, tiny_segmenter

from keras_liver.export import export_saved_model
from keras_liver.export.float32 import float32_copy


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``{"server", "base", "seg", "dce"}``: models exported to BASE/{liver_seg,dce_cls}/1 and served."""
    from keras_liver.serving import DevServer, ModelRegistry

    base = tmp_path_factory.mktemp("models")
    seg = float32_copy(tiny_segmenter(11)).inference_model()
    dce = tiny_classifier(12)
    export_saved_model(seg, base, "liver_seg", 1, patch_size=(1, 16, 16))
    export_saved_model(dce, base, "dce_cls", 1)
    registry = ModelRegistry([{"name": "liver_seg", "base_path": base / "liver_seg"},
                              {"name": "dce_cls", "base_path": base / "dce_cls"}])
    server = DevServer(registry, port=0, rest_port=0, poll_seconds=0.2).start()
    yield {"server": server, "base": base, "seg": seg, "dce": dce}
    server.stop()
