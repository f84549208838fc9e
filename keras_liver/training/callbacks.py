"""Small callbacks used by `train`."""

import math

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


class Diverged(Exception):
    """Raised out of ``fit`` by `StopOnNonFinite` (``epoch``, ``batch``, ``loss``)."""

    def __init__(self, epoch: int, batch: int, loss: float):
        super().__init__(f"epoch {epoch + 1}, batch {batch + 1}: loss {loss}")
        self.epoch, self.batch, self.loss = epoch, batch, loss


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first non-finite training loss by raising `Diverged`.

    Raising (rather than ``stop_training``) skips every ``on_train_end``, so
    ``BackupAndRestore`` keeps the backup of the last finished epoch and a
    rerun resumes from it; nothing after the bad step is saved.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise Diverged(self.epoch, batch, float(loss))
