"""gRPC and REST clients behave the same: one base class, two transports."""

import logging
import socket

import numpy as np
import pytest
from serving_models import DCE_CLASSES

from keras_liver.errors import ConfigError, ServingError
from keras_liver.inference import classify_series
from keras_liver.serving import PredictClient, RestPredictClient
from keras_liver.serving.model_config import ModelEntry


def _clients(served, name, **kwargs):
    server = served["server"]
    return [PredictClient(f"127.0.0.1:{server.port}", name, **kwargs),
            RestPredictClient(f"127.0.0.1:{server.rest_port}", name, **kwargs)]


def test_both_clients_answer_alike(served):
    series = np.random.default_rng(3).uniform(80, 400, (5, 4, 12, 12)).astype(np.float32)
    local = classify_series(served["dce"], series)
    results, metas = [], []
    for client in _clients(served, "dce_cls"):
        with client:
            results.append(client.classify_series(series))
            metas.append(client.metadata())
            assert client.wait_until_available(timeout=10) == 1
            assert client.task().name == "dce_classification"
    for got in results:
        assert got["label"] == local["label"] and got["class_name"] == DCE_CLASSES[local["label"]]
        np.testing.assert_allclose(got["probabilities"], local["probabilities"], atol=1e-5)
    assert metas[0] == metas[1]


def test_both_refuse_version_with_label_and_wrong_tasks(served):
    for cls, target in ((PredictClient, "127.0.0.1:1"), (RestPredictClient, "127.0.0.1:1")):
        with pytest.raises(ServingError, match="version or version_label") as caught:
            cls(target, "m", version=1, version_label="stable")
        assert caught.value.code == "INVALID_ARGUMENT"
    volume = np.zeros((5, 4, 12, 12), np.float32)
    for client in _clients(served, "liver_seg", retries=0):
        with client, pytest.raises(ServingError, match="not a classifier"):
            client.classify_series(volume)
    for client in _clients(served, "dce_cls", retries=0):
        with client, pytest.raises(ConfigError, match="4D"):
            client.classify_series(volume[0])


def test_both_retry_unavailable_the_same_number_of_times(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    codes = []
    for client in (PredictClient(f"127.0.0.1:{port}", "m", retries=2, backoff_s=0.01),
                   RestPredictClient(f"127.0.0.1:{port}", "m", retries=2, backoff_s=0.01)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="keras_liver.serving.base_client"), client:
            with pytest.raises(ServingError) as caught:
                client.status()
        codes.append(caught.value.code)
        assert sum("retrying" in r.getMessage() for r in caplog.records) == 2  # retries=2: three attempts
        assert "GetModelStatus 'm'" in str(caught.value)
    assert codes == ["UNAVAILABLE", "UNAVAILABLE"]


def test_not_found_is_not_retried_by_either(served, caplog):
    for client in _clients(served, "nope", retries=3, backoff_s=0.5):
        with caplog.at_level(logging.WARNING, logger="keras_liver.serving.base_client"), client:
            with pytest.raises(ServingError) as caught:
                client.metadata()
        assert caught.value.code == "NOT_FOUND"
    assert not any("retrying" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("policy, versions, present, wanted", [
    ("latest", (1,), [1, 2, 5], [5]),
    ("latest", (2,), [1, 2, 5], [2, 5]),
    ("latest", (1,), [], []),
    ("all", (), [1, 3], [1, 3]),
    ("specific", (1, 5), [1, 2, 5], [1, 5]),
])
def test_version_policies(tmp_path, policy, versions, present, wanted):
    entry = ModelEntry.from_dict({"name": "m", "base_path": tmp_path, "policy": policy, "versions": versions})
    assert entry.wanted(present) == wanted


def test_bad_model_entries_name_the_model(tmp_path):
    with pytest.raises(ConfigError, match="'m'.*newest"):
        ModelEntry.from_dict({"name": "m", "base_path": tmp_path, "policy": "newest"})
    with pytest.raises(ConfigError, match="'m'.*needs versions"):
        ModelEntry.from_dict({"name": "m", "base_path": tmp_path, "policy": "specific"})
