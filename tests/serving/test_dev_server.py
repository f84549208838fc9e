"""Export -> dev server -> gRPC/REST clients: equal outputs, metadata, errors, new versions, message sizes."""

import json
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest
from serving_models import DCE_CLASSES, tiny_segmenter

from keras_liver.errors import ServingError
from keras_liver.export import export_saved_model
from keras_liver.inference import predict_volume
from keras_liver.io.volume import Volume
from keras_liver.serving import DevServer, ModelRegistry, PredictClient, RestPredictClient


def _client(served, name="liver_seg", **kwargs):
    return PredictClient(f"127.0.0.1:{served['server'].port}", name, **kwargs)


def _hu(shape, seed=0):
    return np.random.default_rng(seed).uniform(-300, 400, shape).astype(np.float32)


def test_grpc_predict_equals_keras_predict(served):
    hu = _hu((3, 20, 12, 1))
    with _client(served) as client:
        out = client.predict({"image": hu})
    want = np.asarray(served["seg"].predict({"image": hu}, verbose=0)["probabilities"])
    assert np.max(np.abs(out["probabilities"] - want)) <= 1e-5
    np.testing.assert_array_equal(out["mask"], want.argmax(-1))

    series = np.random.default_rng(1).uniform(80, 400, (2, 6, 4, 12, 12, 1)).astype(np.float32)
    with _client(served, "dce_cls") as client:
        out = client.predict({"sequence": series})
        single = client.classify_series(series[0, ..., 0])
    want = served["dce"].predict({"sequence": series}, verbose=0)
    assert np.max(np.abs(out["probabilities"] - want["probabilities"])) <= 1e-5
    np.testing.assert_array_equal(out["label"], want["label"])
    assert single["label"] == int(want["label"][0])
    assert single["class_name"] == DCE_CLASSES[single["label"]]
    assert np.max(np.abs(single["probabilities"] - want["probabilities"][0])) <= 1e-5


def test_metadata_and_status_describe_the_export(served):
    with _client(served) as client:
        meta = client.metadata()
        status = client.status()
    assert meta["version"] == 1 and meta["signature"] == "serving_default"
    assert meta["inputs"] == {"image": {"dtype": "float32", "shape": [None, None, None, 1]}}
    assert meta["outputs"]["probabilities"] == {"dtype": "float32", "shape": [None, None, None, 3]}
    assert meta["outputs"]["mask"]["dtype"] == "uint8"
    assert status == [{"version": 1, "state": "AVAILABLE", "error": ""}]


@pytest.mark.parametrize("inputs, words", [
    ({"img": np.zeros((1, 16, 16, 1), np.float32)}, ["unknown input", "img", "missing", "image"]),
    ({"image": np.zeros((1, 16, 16, 1), np.float64)}, ["'image'", "float32", "float64"]),
    ({"image": np.zeros((1, 16, 16, 2), np.float32)}, ["'image'", "shape [1, 16, 16, 2]", "[-1, -1, -1, 1]"]),
    ({"image": np.zeros((16, 16, 1), np.float32)}, ["'image'", "shape [16, 16, 1]"]),
])
def test_bad_requests_get_invalid_argument_naming_the_problem(served, inputs, words):
    with _client(served, retries=0) as client, pytest.raises(ServingError) as caught:
        client.predict(inputs)
    assert caught.value.code == "INVALID_ARGUMENT"
    for word in words:
        assert word in str(caught.value)


def test_unknown_model_and_version_are_not_found(served):
    with _client(served, "no_such_model", retries=0) as client, pytest.raises(ServingError) as caught:
        client.predict({"image": _hu((1, 16, 16, 1))})
    assert caught.value.code == "NOT_FOUND" and "no_such_model" in str(caught.value)
    with _client(served, version=99, retries=0) as client, pytest.raises(ServingError) as caught:
        client.metadata()
    assert caught.value.code == "NOT_FOUND"


def test_request_over_4_mib_needs_and_gets_raised_limits(served):
    big = _hu((1, 1088, 1088, 1))  # 4.5 MiB of float32
    assert big.nbytes > 4 * 1024 * 1024
    with _client(served) as client:
        out = client.predict({"image": big}, output_filter=["mask"])
    assert set(out) == {"mask"} and out["mask"].shape == (1, 1088, 1088)
    with _client(served, max_message_mb=4, retries=0) as small, pytest.raises(ServingError) as caught:
        small.predict({"image": big}, output_filter=["mask"])
    assert caught.value.code == "RESOURCE_EXHAUSTED"


def test_segment_volume_through_the_server_equals_local_prediction(served):
    rng = np.random.default_rng(3)
    volume = Volume(rng.uniform(-200, 300, (5, 37, 29)).astype(np.float32), spacing=(2.5, 0.8, 0.8))
    options = dict(patch_size=(1, 16, 16), overlap=0.5, batch_size=3, postprocess=False)
    local = predict_volume(served["seg"], volume, **options)
    with _client(served) as client:
        remote = client.segment_volume(volume, **options)
    assert remote.spatial_shape == volume.spatial_shape
    np.testing.assert_allclose(remote.affine, volume.affine)
    np.testing.assert_array_equal(remote.array, local.array)


def test_rest_api_matches_grpc(served):
    url = f"127.0.0.1:{served['server'].rest_port}"
    hu = _hu((2, 12, 16, 1), seed=4)
    rest = RestPredictClient(url, "liver_seg")
    with _client(served) as client:
        grpc_out = client.predict({"image": hu})
        assert rest.metadata()["inputs"] == client.metadata()["inputs"]
    rest_out = rest.predict({"image": hu})
    assert np.max(np.abs(rest_out["probabilities"] - grpc_out["probabilities"])) <= 1e-6
    np.testing.assert_array_equal(rest_out["mask"], grpc_out["mask"])
    assert rest.status() == [{"version": 1, "state": "AVAILABLE", "error": ""}]

    body = json.dumps({"instances": [{"sequence": np.full((5, 4, 12, 12, 1), 100.0).tolist()}]}).encode()
    request = urllib.request.Request(f"http://{url}/v1/models/dce_cls:predict", data=body)
    with urllib.request.urlopen(request, timeout=30) as response:
        row = json.loads(response.read())["predictions"][0]
    assert row["class_name"] == DCE_CLASSES[row["label"]] and len(row["probabilities"]) == 5

    with pytest.raises(ServingError) as caught:
        RestPredictClient(url, "liver_seg", retries=0).predict({"image": np.zeros((1, 16, 16, 3))})
    assert caught.value.code == "INVALID_ARGUMENT" and "shape" in str(caught.value)
    with pytest.raises(ServingError) as caught:
        RestPredictClient(url, "nope", retries=0).status()
    assert caught.value.code == "NOT_FOUND"


def test_new_version_written_while_serving_is_picked_up(served):
    hu = _hu((1, 16, 16, 1), seed=5)
    newer = tiny_segmenter(13, deep_supervision=False)
    export_saved_model(newer, served["base"], "liver_seg", 2)
    with _client(served) as client:
        assert client.wait_until_available(timeout=60, version=2) == 2
        deadline = time.monotonic() + 30
        while [s["version"] for s in client.status()] != [2] and time.monotonic() < deadline:
            time.sleep(0.1)  # the latest-1 policy unloads version 1
        assert [s["version"] for s in client.status()] == [2]
        out = client.predict({"image": hu})
        assert client.metadata()["version"] == 2
    want = np.asarray(newer.predict({"image": hu}, verbose=0)["probabilities"])
    assert np.max(np.abs(out["probabilities"] - want)) <= 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_retries_until_a_late_server_is_up(served):
    port = _free_port()
    with PredictClient(f"127.0.0.1:{port}", "dce_cls", retries=1, backoff_s=0.05) as client:
        with pytest.raises(ServingError) as caught:
            client.status()
        assert caught.value.code == "UNAVAILABLE"

    registry = ModelRegistry([{"name": "dce_cls", "base_path": served["base"] / "dce_cls"}])
    late = DevServer(registry, port=port)
    timer = threading.Timer(1.0, late.start)
    timer.start()
    try:
        with PredictClient(f"127.0.0.1:{port}", "dce_cls", retries=8, backoff_s=0.1) as client:
            assert client.status()[0]["state"] == "AVAILABLE"
    finally:
        timer.join()
        late.stop()


def test_model_config_file_with_labels(tmp_path, served):
    config = tmp_path / "models.config"
    config.write_text(f"""
model_config_list {{
  config {{
    name: "dce"
    base_path: "{served['base'] / 'dce_cls'}"
    model_platform: "tensorflow"
    model_version_policy {{ specific {{ versions: 1 }} }}
    version_labels {{ key: "stable" value: 1 }}
  }}
}}
""")
    registry = ModelRegistry.from_config_file(config)
    with DevServer(registry, port=0) as server:
        with PredictClient(f"127.0.0.1:{server.port}", "dce", version_label="stable") as client:
            assert client.status() == [{"version": 1, "state": "AVAILABLE", "error": ""}]
            assert client.metadata()["version"] == 1
        with PredictClient(f"127.0.0.1:{server.port}", "dce", version_label="canary", retries=0) as client:
            with pytest.raises(ServingError, match="canary") as caught:
                client.metadata()
            assert caught.value.code == "INVALID_ARGUMENT"


def test_eight_concurrent_clients_get_no_errors(served):
    from keras_liver.serving.load_testing import load_test

    payload = {"image": _hu((2, 16, 16, 1), seed=6)}
    result = load_test(f"127.0.0.1:{served['server'].port}", "liver_seg", payload,
                       clients=8, requests=3)
    assert result["errors"] == 0, result["first_error"]
    assert result["ok"] == 24 and result["requests"] == 24
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]


def test_broken_new_version_does_not_take_the_model_down(tmp_path):
    import shutil

    export_saved_model(tiny_segmenter(14, deep_supervision=False), tmp_path, "m", 1, warmup=False)
    registry = ModelRegistry([{"name": "m", "base_path": tmp_path / "m"}])
    registry.poll()
    broken = tmp_path / "m" / "2"
    shutil.copytree(tmp_path / "m" / "1", broken)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    registry.poll()
    states = {s["version"]: s for s in registry.status("m")}
    assert states[1]["state"] == "AVAILABLE"
    assert states[2]["state"] == "END" and states[2]["error"]
    version, _, out = registry.predict("m", {"image": _hu((1, 16, 16, 1))})
    assert version == 1 and out["probabilities"].shape == (1, 16, 16, 3)
    shutil.rmtree(broken)
    export_saved_model(tiny_segmenter(15, deep_supervision=False), tmp_path, "m", 3, warmup=False)
    registry.poll()
    assert [s["version"] for s in registry.status("m")] == [3]  # version 1 goes once 3 serves


def test_a_version_caught_mid_copy_is_loaded_once_the_copy_completes(served, tmp_path):
    import shutil

    base = tmp_path / "liver_seg"
    (base / "1").mkdir(parents=True)
    complete = served["base"] / "liver_seg" / "1"
    (base / "1" / "saved_model.pb").write_bytes((complete / "saved_model.pb").read_bytes()[:100])  # half copied
    registry = ModelRegistry([{"name": "liver_seg", "base_path": base}])
    registry.poll()
    assert registry.status("liver_seg")[0]["state"] == "END"
    assert not registry.poll()  # unchanged files: no reload on every poll
    shutil.rmtree(base / "1")
    shutil.copytree(complete, base / "1")  # the copy finishes
    assert registry.poll()
    assert registry.status("liver_seg") == [{"version": 1, "state": "AVAILABLE", "error": ""}]
