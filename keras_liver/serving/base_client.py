"""`BaseClient`: what the gRPC and REST clients share, transport aside.

The fields, the retry loop with exponential backoff, `wait_until_available`,
`close`, the context manager, the signature parsing, and whole-volume
segmentation / series classification live here once; `PredictClient`
(gRPC) and `RestPredictClient` (REST) only move requests. Both therefore
behave the same: the same errors (`ServingError` with the gRPC status name
as ``code``), the same retries (only ``UNAVAILABLE`` is retried), the same
results.
"""

import logging
import time

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError, ServingError
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)


def tensor_info(dtype: str, dims, unknown_rank: bool = False) -> dict:
    """``{"dtype": "float32", "shape": [None, 64, ...]}`` of one signature tensor (sizes < 0 become ``None``)."""
    shape = None if unknown_rank else [None if int(d) < 0 else int(d) for d in dims]
    return {"dtype": dtype, "shape": shape}


class BaseClient:
    """A TF Serving client for keras-liver models, independent of the transport.

    Subclasses implement ``_predict(inputs, output_filter, signature)``, ``_metadata(signature)``
    and ``_status()``, each raising `ServingError` (code ``UNAVAILABLE`` when
    the server cannot be reached, which is retried with backoff).

    Args:
        target: Address of the server (gRPC ``host:8500``, REST ``host:8501`` or an ``http://`` URL).
        model_name: Servable name.
        signature: Signature name.
        timeout: Seconds per call.
        retries: Retries on UNAVAILABLE (not started yet, restarting).
        backoff_s: First retry delay, doubled each time.
        version: Ask for this version (default: the server's latest).
        version_label: Ask for a labelled version (``"stable"``, ``"canary"``).
    """

    def __init__(self, target: str, model_name: str, signature: str = "serving_default", *, timeout: float = 60.0,
                 retries: int = 4, backoff_s: float = 0.25, version: int | None = None,
                 version_label: str | None = None):
        if version is not None and version_label:
            raise ServingError("give version or version_label, not both", "INVALID_ARGUMENT")
        self.target = target
        self.model_name = model_name
        self.signature = signature
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.version = None if version is None else int(version)
        self.version_label = version_label or None

    # transport: implemented by subclasses -------------------------------------------------------------------------

    def _predict(self, inputs: dict, output_filter: list, signature: str | None = None) -> dict:  # pragma: no cover
        raise NotImplementedError

    def _metadata(self, signature: str | None = None) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _status(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection (a no-op for transports without one)."""

    # shared behaviour ----------------------------------------------------------------------------------------------

    def _retrying(self, call, what: str):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except ServingError as exc:
                if exc.code != "UNAVAILABLE" or attempt == self.retries:
                    raise
                delay = self.backoff_s * 2 ** attempt
                logger.warning("%s %s: server unavailable, retrying in %.2f s", what, self.target, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def error(self, what: str, code: str, message: str) -> ServingError:
        """A `ServingError` naming the call, the model and the server."""
        return ServingError(f"{what} {self.model_name!r} at {self.target}: {code}: {message}", code)

    def predict(self, inputs: dict, output_filter=None, signature: str | None = None) -> dict:
        """One Predict call.

        Args:
            inputs: ``{input name: array}``; sent with the arrays' own dtypes.
            output_filter: Output names to return (default all).
            signature: Another signature than the client's (``plan``, a cascade's ``liver``).

        Returns:
            ``{output name: ndarray}`` (strings as ``bytes`` objects).
        """
        inputs = {k: np.asarray(v) for k, v in inputs.items()}
        what = "Predict" if signature is None else f"Predict({signature})"
        return self._retrying(lambda: self._predict(inputs, list(output_filter or []), signature), what)

    def plan(self):
        """The served model's `keras_liver.plans.Plan`, from the export's ``plan`` signature.

        Returns:
            The plan, or ``None`` for an export without one (made before plans
            existed, or of a model saved without a plan).
        """
        plan = self._served_plan()
        return None if plan is None or plan.source == "legacy" else plan

    def class_names(self):
        """The served model's label or class names in index order (its export's), or ``None`` when unknown.

        A classifier's export records them in its ``plan`` signature even when the model has no
        plan of its own (a legacy plan), so a client can name every class, not only the winner.
        """
        plan = self._served_plan()
        return None if plan is None or not plan.stages[0].labels else [str(n) for n in plan.stages[0].labels]

    def _served_plan(self):
        """The ``plan`` signature's plan, legacy ones included; ``None`` for an export without that signature."""
        from keras_liver.plans import Plan

        try:
            out = self.predict({"plan_format": np.asarray(1, dtype=np.int32)}, ["plan"], signature="plan")
        except ServingError as exc:
            if exc.code == "INVALID_ARGUMENT" and "plan" in str(exc) and "not found" in str(exc):
                return None
            raise
        value = np.asarray(out["plan"]).reshape(-1)[0]
        text = value.decode() if isinstance(value, bytes) else str(value)
        return Plan.from_json(text, f"model {self.model_name!r} at {self.target}")

    def metadata(self, signature: str | None = None) -> dict:
        """A signature's inputs and outputs (default the client's signature).

        Returns:
            ``{"name", "version", "signature", "inputs", "outputs"}``.
        """
        return self._retrying(lambda: self._metadata(signature), "GetModelMetadata")

    def status(self) -> list:
        """``[{"version", "state", "error"}]`` of the model's versions (GetModelStatus)."""
        return self._retrying(self._status, "GetModelStatus")

    def task(self) -> tasks.Task:
        """The served model's `keras_liver.tasks.Task`, from its signature."""
        return tasks.task_of(self.metadata())

    def wait_until_available(self, timeout: float = 60.0, version: int | None = None) -> int:
        """Poll the model status until a version (or the given one) is AVAILABLE; return that version."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready = [s["version"] for s in self._status() if s["state"] == "AVAILABLE"]
                if ready and (version is None or version in ready):
                    return version if version is not None else max(ready)
            except ServingError as exc:
                if exc.code not in ("UNAVAILABLE", "NOT_FOUND"):
                    raise
            if time.monotonic() > deadline:
                raise ServingError(f"{self.model_name!r} at {self.target}: no AVAILABLE version"
                                   f"{'' if version is None else f' {version}'} after {timeout:.0f} s",
                                   "DEADLINE_EXCEEDED")
            time.sleep(0.2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def segment_volume(self, volume: Volume, *, patch_size=None, **options) -> Volume:
        """Segment a CT volume (or a DCE series) through the server; the mask comes back on ``volume``'s grid.

        A CT segmenter runs the same steps as `keras_liver.inference.predict_volume`,
        each batch of sliding windows sent as one Predict request (only the
        ``probabilities`` output travels back). A DCE segmenter takes the 4D
        series in one request (`keras_liver.inference.segment_series` locally).

        Args:
            volume: 3D CT `Volume` in HU (or a 4D DCE series for a DCE segmenter).
            patch_size: Window ``(z, y, x)`` (2D models ``(1, y, x)``); default
                the served plan's (`plan`), else the signature's fixed size,
                else 1 x 128 x 128 or 32 x 96 x 96.
            **options: `segment_with_predictor` options (``overlap``,
                ``batch_size`` = windows per request, ``flip_tta`` ...) and
                ``target_spacing``, which overrides the served plan's.

        Returns:
            uint8 label `Volume` on the input grid.
        """
        from keras_liver.inference import (
            default_patch_size,
            dict_predictor,
            mask_from_outputs,
            resolve_plan,
            segment_with_predictor,
            series_inputs,
        )
        from keras_liver.inference.sliding_window import ordered_shapes

        meta = self.metadata()
        task = tasks.task_of(meta)
        if not task.is_segmentation:
            raise ServingError(f"{self.model_name!r} at {self.target} is a {task.name} model, not a segmenter",
                               "INVALID_ARGUMENT")
        if task.modality == "DCE":
            served_plan = self.plan()
            if served_plan is not None and len(served_plan.stages) == 2:
                return self.segment_lesions(volume)[0]
            if served_plan is not None:  # trained on series patches: windows, as `segment_series` does locally
                from keras_liver.inference import segment_series_stage

                probs = segment_series_stage(self._series_predictor(None), volume, served_plan.stage,
                                             batch_size=options.get("batch_size", 2))
                return volume.replace(probs.argmax(-1).astype("uint8"), modality="SEG")
            return mask_from_outputs(self.predict(series_inputs(volume, task, "volume"), output_filter=["mask"]),
                                     volume)
        if volume.is_series:
            raise ConfigError(f"volume: the served model ({task.name}) takes a 3D volume, got a 4D series")
        shapes = ordered_shapes(task, {name: info["shape"][1:] for name, info in meta["inputs"].items()})
        predictor = dict_predictor(lambda feed: self.predict(feed, output_filter=["probabilities"]), shapes)
        served_plan = self.plan()
        if served_plan is not None and len(served_plan.stages) == 2:  # a cascade: stage 1 is the "liver" signature
            from keras_liver.inference import run_cascade

            if options.get("target_spacing") is not None or patch_size is not None:
                raise ConfigError("target_spacing/patch_size: a cascade runs each stage by its own plan")
            liver_meta = self.metadata("liver")
            liver_shapes = ordered_shapes(task, {n: i["shape"][1:] for n, i in liver_meta["inputs"].items()})
            liver = dict_predictor(lambda feed: self.predict(feed, ["probabilities"], signature="liver"), liver_shapes)
            options.pop("overlap", None)
            return run_cascade(liver, predictor, served_plan, volume, **options)
        plan = resolve_plan(served_plan, task.name, lambda: default_patch_size(next(iter(shapes.values())),
                                                                               predictor[1]),
                            f"served model {self.model_name!r}", spacing=options.pop("target_spacing", None),
                            patch_size=patch_size)
        return segment_with_predictor(predictor, volume, **{**plan.stage.inference_options(), **options})

    def _series_predictor(self, signature):
        """A window predictor (`series_window_predictor`) of a served DCE segmenter signature."""
        from keras_liver.inference import series_window_predictor

        meta = self.metadata(signature)
        dims = len(meta["inputs"]["sequence"]["shape"]) - 3
        return series_window_predictor(lambda feed: self.predict(feed, ["probabilities"], signature=signature),
                                       spatial_dims=dims)

    def segment_lesions(self, series: Volume, **options):
        """Run a served DCE pipeline on a series: ``(labels, instance, lesions)`` as `pipeline_predict` locally.

        The server holds the pipeline as one SavedModel: ``liver`` (stage 1), ``serving_default``
        (stage 2, in the liver box), ``classify`` (one class per lesion crop) and ``plan``; the
        steps between the requests run here (`run_dce_pipeline`).
        """
        from keras_liver.inference import run_dce_pipeline

        served_plan = self.plan()
        if served_plan is None or len(served_plan.stages) != 2 or tasks.get(served_plan.task).modality != "DCE":
            raise ServingError(f"{self.model_name!r} at {self.target} is not a DCE pipeline (no two-stage DCE plan)",
                               "INVALID_ARGUMENT")

        def classify(feed):
            return self.predict(feed, ["probabilities"], signature="classify")["probabilities"]

        return run_dce_pipeline(self._series_predictor("liver"), self._series_predictor(None), classify, served_plan,
                                series, **options)

    def classify_series(self, series) -> dict:
        """Classify one DCE series (`Volume` or ``(t, z, y, x)`` array) through the server.

        Returns:
            ``{"label": int, "class_name": str | None, "probabilities": ndarray}``, as
            `keras_liver.inference.classify_series` returns for a local model.
        """
        from keras_liver.inference import classification_from_outputs, series_inputs

        task = self.task()
        if task.is_segmentation:
            raise ServingError(f"{self.model_name!r} at {self.target} is a {task.name} model, not a classifier",
                               "INVALID_ARGUMENT")
        return classification_from_outputs(self.predict(series_inputs(series, task)))
