"""Small callbacks used by `train`."""

import keras


class MetricAliases(keras.callbacks.Callback):
    """Copy output-prefixed metric names to short ones (``val_probabilities_dice_2`` -> ``val_dice_2``).

    Keras 3 prefixes metrics of dict outputs with the output name; the
    short names keep configs (``monitor: val_dice_2``) and CSV logs stable.
    Must come first in the callback list so later callbacks see the aliases.
    """

    def __init__(self, prefix: str = "probabilities_"):
        super().__init__()
        self.prefix = prefix

    def _alias(self, logs):
        if logs is None:
            return
        for key in list(logs):
            for head in ("val_", ""):
                if key.startswith(head + self.prefix):
                    logs.setdefault(head + key[len(head + self.prefix):], logs[key])

    def on_epoch_end(self, epoch, logs=None):
        self._alias(logs)
