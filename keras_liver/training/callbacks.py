"""Small callbacks used by `train`."""

import math
import time

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


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of training have passed; optionally decay the rate over that time.

    The clock starts at ``on_train_begin`` (data caching and model building
    before ``fit`` do not count). Training stops after the batch at which
    the budget runs out; Keras then still validates that epoch, so the
    checkpoint callbacks see it. With ``cosine_from`` set, the learning
    rate at each batch is ``cosine_from * (1 + cos(pi * elapsed / seconds)) / 2``:
    a cosine decay over time rather than steps, so runs of different speed
    each finish their schedule inside the same budget (equal-time comparisons).

    Args:
        seconds: Training time allowed.
        cosine_from: Initial learning rate of the time-based cosine decay, or
            ``None`` to leave the optimizer's rate alone.
        clock: Time source (seconds); for tests.
    """

    def __init__(self, seconds: float, cosine_from: float | None = None, clock=None):
        super().__init__()
        self.seconds, self.cosine_from = float(seconds), cosine_from
        self.clock = clock or time.perf_counter
        self.start = None
        self.stopped = False
        self.steps = 0  # training steps run under the budget

    def fraction(self) -> float:
        """Share of the budget used so far (0 before training starts)."""
        return 0.0 if self.start is None else min(1.0, (self.clock() - self.start) / self.seconds)

    def on_train_begin(self, logs=None):
        self.start = self.clock()

    def on_train_batch_begin(self, batch, logs=None):
        if self.cosine_from is not None:
            rate = float(self.cosine_from) * 0.5 * (1.0 + math.cos(math.pi * self.fraction()))
            self.model.optimizer.learning_rate.assign(rate)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.fraction() >= 1.0:
            self.stopped = True
            self.model.stop_training = True
