"""A model's plan through export and TF Serving's API: metadata.json, the ``plan`` signature, clients."""

import json
import logging

import numpy as np
import pytest
from serving_models import tiny_segmenter

from keras_liver.export import export_saved_model
from keras_liver.export.float32 import float32_copy
from keras_liver.inference import predict_volume
from keras_liver.io import Volume
from keras_liver.plans import Plan, StagePlan
from keras_liver.serving import DevServer, ModelRegistry, PredictClient, RestPredictClient

PLAN = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", (2.0, 2.5, 2.5), (1, 16, 16)),),
            fingerprint={"n_cases": 7})


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    base = tmp_path_factory.mktemp("plan_models")
    model = float32_copy(tiny_segmenter(21)).inference_model()
    with_plan = tiny_segmenter(21)
    with_plan.plan = PLAN
    export_saved_model(with_plan, base, "planned", 1)
    export_saved_model(model, base, "old", 1, patch_size=(1, 16, 16))
    registry = ModelRegistry([{"name": "planned", "base_path": base / "planned"},
                              {"name": "old", "base_path": base / "old"}])
    with DevServer(registry, port=0, rest_port=0) as server:
        yield {"server": server, "base": base, "model": with_plan}


def _volume():
    hu = np.random.default_rng(3).uniform(-100, 200, (5, 24, 24)).astype(np.float32)
    return Volume(hu, np.diag([1.0, 1.0, 2.0, 1.0]))


def test_the_export_holds_the_plan_in_metadata_and_behind_its_signature(planned):
    meta = json.loads((planned["base"] / "planned" / "1" / "metadata.json").read_text())
    assert Plan.from_dict(meta["plan"]) == PLAN and meta["spacing_mm"] == [2.0, 2.5, 2.5]
    assert meta["patch_size"] == [1, 16, 16]  # the plan's window when no --patch is given
    old = json.loads((planned["base"] / "old" / "1" / "metadata.json").read_text())
    assert old["plan"]["source"] == "legacy" and old["plan"]["stages"][0]["target_spacing"] is None


def test_clients_read_the_plan_over_grpc_and_rest(planned):
    server = planned["server"]
    with PredictClient(f"127.0.0.1:{server.port}", "planned") as client:
        assert client.plan() == PLAN
    assert RestPredictClient(f"127.0.0.1:{server.rest_port}", "planned").plan() == PLAN
    with PredictClient(f"127.0.0.1:{server.port}", "old") as client:
        assert client.plan() is None  # an export of a model saved without a plan


def test_segment_volume_applies_the_served_plan_as_predict_volume_does(planned, caplog):
    server, volume = planned["server"], _volume()
    local = predict_volume(planned["model"], volume)
    with PredictClient(f"127.0.0.1:{server.port}", "planned") as client:
        served = client.segment_volume(volume)
        np.testing.assert_array_equal(served.array, local.array)
        unplanned = predict_volume(planned["model"], volume, target_spacing=(1.0, 1.0, 2.0))
        np.testing.assert_array_equal(client.segment_volume(volume, target_spacing=(1.0, 1.0, 2.0)).array,
                                      unplanned.array)  # --spacing overrides the served plan
    with caplog.at_level(logging.WARNING), PredictClient(f"127.0.0.1:{server.port}", "old") as client:
        client.segment_volume(volume, patch_size=(1, 16, 16))
    assert [r for r in caplog.records if "'old' has no plan" in r.getMessage()]
