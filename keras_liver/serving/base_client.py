"""`BaseClient`: whole-volume segmentation and series classification over any Predict transport."""

import numpy as np

from keras_liver.errors import ConfigError, ServingError
from keras_liver.io.volume import Volume


class BaseClient:
    """What `PredictClient` (gRPC) and `RestPredictClient` share.

    Subclasses provide ``predict(inputs, output_filter=None) -> dict`` and
    ``metadata() -> dict`` (``{"inputs": {name: {"shape", "dtype"}}, "outputs": ...}``).
    """

    def predict(self, inputs: dict, output_filter=None) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def metadata(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _input_shapes(self) -> dict:
        meta = self.metadata()
        return {name: tuple(info["shape"][1:]) for name, info in meta["inputs"].items()}

    def segment_volume(self, volume: Volume, *, patch_size=None, **options) -> Volume:
        """Segment a CT volume through the server; the mask comes back on ``volume``'s grid.

        Runs the same steps as `keras_liver.inference.predict_volume`, with
        each batch of sliding windows sent as one Predict request (only the
        ``probabilities`` output travels back). A served DCE segmenter
        (input ``sequence``) takes a 4D series in one request instead.

        Args:
            volume: 3D CT `Volume` in HU (or a 4D DCE series for a DCE segmenter).
            patch_size: Window ``(z, y, x)`` (2D models ``(1, y, x)``); default
                the signature's fixed size, else 1 x 128 x 128 or 32 x 96 x 96.
            **options: `segment_with_predictor` options (``overlap``,
                ``batch_size`` = windows per request, ``target_spacing``, ``flip_tta`` ...).

        Returns:
            uint8 label `Volume` on the input grid.
        """
        from keras_liver.inference import default_patch_size, dict_predictor, segment_with_predictor

        shapes = self._input_shapes()
        if "sequence" in shapes:
            if not volume.is_series:
                raise ConfigError(f"volume: the served model takes a 4D DCE series, got shape {volume.shape}")
            out = self.predict({"sequence": volume.array[None, ..., None].astype(np.float32)},
                               output_filter=["mask"])
            return volume.replace(np.asarray(out["mask"])[0].astype(np.uint8), modality="SEG")
        if "image" not in shapes:
            raise ServingError(f"served model takes {sorted(shapes)}, not 'image' or 'sequence'", "INVALID_ARGUMENT")
        predictor = dict_predictor(lambda feed: self.predict(feed, output_filter=["probabilities"]), shapes)
        if patch_size is None:
            patch_size = default_patch_size(shapes["image"], predictor[1])
        return segment_with_predictor(predictor, volume, patch_size=patch_size, **options)

    def classify_series(self, series) -> dict:
        """Classify one DCE series (`Volume` or ``(t, z, y, x)`` array) through the server.

        Returns:
            ``{"label": int, "class_name": str | None, "probabilities": ndarray}``.
        """
        array = series.array if isinstance(series, Volume) else np.asarray(series)
        if array.ndim != 4:
            raise ConfigError(f"series: a 4D (t, z, y, x) DCE series, got shape {array.shape}")
        out = self.predict({"sequence": array[None, ..., None].astype(np.float32)})
        if "label" not in out:
            raise ServingError(f"served model returns {sorted(out)}, not a class label", "INVALID_ARGUMENT")
        name = out.get("class_name")
        if name is not None:
            name = np.asarray(name).reshape(-1)[0]
            name = name.decode() if isinstance(name, bytes) else str(name)
        return {"label": int(np.asarray(out["label"]).reshape(-1)[0]), "class_name": name,
                "probabilities": np.asarray(out["probabilities"], np.float32)[0]}
