"""The files in serving/ parse as what TF Serving reads."""

import pathlib
import re

import pytest
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_liver.serving import ModelRegistry

SERVING = pathlib.Path(__file__).parents[2] / "serving"


def _message(name: str, fields: list, nested=()):
    """A protobuf message class for text-format checks of configs whose protos the pip package lacks.

    Field names follow TF Serving's session_bundle_config.proto (BatchingParameters)
    and monitoring_config.proto (MonitoringConfig, PrometheusConfig).
    """
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name=f"{name}.proto", package="check",
                                              dependency=["google/protobuf/wrappers.proto"])
    for msg_name, msg_fields in [(name, fields), *nested]:
        msg = file.message_type.add(name=msg_name)
        for number, (field, kind, type_name, repeated) in enumerate(msg_fields, 1):
            entry = msg.field.add(name=field, number=number, type=kind,
                                  label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if type_name:
                entry.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    from google.protobuf import wrappers_pb2

    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"check.{name}"))


def test_models_config_parses_with_the_serving_protos():
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((SERVING / "models.config").read_text(), config)
    models = {m.name: m for m in config.model_config_list.config}
    assert set(models) == {"liver_seg", "dce_classifier"}
    seg = models["liver_seg"]
    assert seg.base_path == "/models/liver_seg" and seg.model_platform == "tensorflow"
    assert list(seg.model_version_policy.specific.versions) == [1, 2]
    assert dict(seg.version_labels) == {"stable": 1, "canary": 2}
    assert set(seg.version_labels.values()) <= set(seg.model_version_policy.specific.versions)
    assert models["dce_classifier"].model_version_policy.latest.num_versions == 1


def test_dev_server_reads_the_same_models_config():
    registry = ModelRegistry.from_config_file(SERVING / "models.config")
    assert registry.names == ["liver_seg", "dce_classifier"]
    assert registry.poll() is False  # /models does not exist here: nothing to load, no crash


def test_batching_and_monitoring_configs_parse():
    F = descriptor_pb2.FieldDescriptorProto
    int64 = (F.TYPE_MESSAGE, ".google.protobuf.Int64Value", False)
    batching = _message("BatchingParameters", [
        ("max_batch_size", *int64), ("batch_timeout_micros", *int64), ("max_enqueued_batches", *int64),
        ("num_batch_threads", *int64), ("allowed_batch_sizes", F.TYPE_INT64, None, True),
        ("pad_variable_length_inputs", F.TYPE_BOOL, None, False)])()
    text_format.Parse((SERVING / "batching.config").read_text(), batching)
    assert list(batching.allowed_batch_sizes)[-1] == batching.max_batch_size.value  # TF Serving requires this
    assert list(batching.allowed_batch_sizes) == sorted(batching.allowed_batch_sizes)

    monitoring = _message("MonitoringConfig", [("prometheus_config", F.TYPE_MESSAGE, ".check.PrometheusConfig",
                                                False)],
                          nested=[("PrometheusConfig", [("enable", F.TYPE_BOOL, None, False),
                                                        ("path", F.TYPE_STRING, None, False)])])()
    text_format.Parse((SERVING / "monitoring.config").read_text(), monitoring)
    assert monitoring.prometheus_config.enable and monitoring.prometheus_config.path.startswith("/monitoring/")
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_sise { value: 3 }", batching)  # the check does catch typos


def _flags(args) -> dict:
    return dict(a.lstrip("-").split("=", 1) for a in args)


def test_docker_compose_pins_serving_and_raises_message_limits():
    service = yaml.safe_load((SERVING / "docker-compose.yml").read_text())["services"]["tf-serving"]
    assert re.fullmatch(r"tensorflow/serving:2\.21\.\d+", service["image"])
    assert {p.split(":")[0].strip('"') for p in service["ports"]} == {"8500", "8501"}
    flags = _flags(service["command"])
    assert flags["port"] == "8500" and flags["rest_api_port"] == "8501"
    limits = dict(kv.split("=") for kv in flags["grpc_channel_arguments"].split(","))
    assert int(limits["grpc.max_receive_message_length"]) > 4 * 1024 * 1024
    assert int(limits["grpc.max_send_message_length"]) > 4 * 1024 * 1024
    for key in ("model_config_file", "batching_parameters_file", "monitoring_config_file"):
        mounted = {v.split(":")[1] for v in service["volumes"]}
        assert flags[key] in mounted


def test_kubernetes_manifest_has_deployment_service_and_readiness():
    docs = {d["kind"]: d for d in yaml.safe_load_all((SERVING / "k8s" / "tf-serving.yaml").read_text())}
    assert set(docs) == {"Deployment", "Service"}
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert re.fullmatch(r"tensorflow/serving:2\.21\.\d+", container["image"])
    probe = container["readinessProbe"]["httpGet"]
    assert re.fullmatch(r"/v1/models/[a-z_]+/metadata", probe["path"])
    assert {p["port"] for p in docs["Service"]["spec"]["ports"]} == {8500, 8501}
    assert _flags(container["args"])["model_config_file"].startswith("/config/")
