"""Multi-worker training with `MultiWorkerMirroredStrategy` and a custom training loop.

Keras 3's ``Model.fit`` does not work under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585), so this loop drives the steps itself: each
worker reads its own shard of the patch stream, computes the loss scaled by
the global batch size, and the Keras optimizer all-reduces the gradients
across workers before applying them, so every worker holds the same
weights after every step. Batch normalisation is switched to synchronised
batch normalisation (statistics over the global batch), or the moving
averages would differ between workers.

Run one process per worker with ``TF_CONFIG`` set::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python -m keras_liver.training.multi_worker --config configs/ct_fused_unet.yaml

The chief (worker 0) writes ``model.keras`` and ``history.csv`` into
``out_dir``; every worker writes its final weights to
``out_dir/workers/worker_<index>.npz``.
"""

import argparse
import json
import logging
import os
import pathlib
import sys

import numpy as np
import tensorflow as tf

from keras_liver import losses, tasks
from keras_liver.errors import ConfigError
from keras_liver.io.atomic import write_text_atomic
from keras_liver.models import save_model
from keras_liver.training.datasets import ct_patch_samplers
from keras_liver.training.model_setup import build_model, output_keys
from keras_liver.training.train_config import TrainConfig

logger = logging.getLogger(__name__)


def _task():
    info = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = info.get("task", {})
    workers = info.get("cluster", {}).get("worker", [])
    return int(task.get("index", 0)), max(1, len(workers))


def train_multi_worker(config: TrainConfig | dict | str) -> pathlib.Path:
    """Train a CT segmentation model on all workers of ``TF_CONFIG`` (see the module notes).

    Args:
        config: `TrainConfig`, dict or YAML/JSON path (a task trained on a CT folder: ``ct_segmentation``).

    Returns:
        The run directory.
    """
    import keras

    from keras_liver import data

    config = TrainConfig.coerce(config)
    if tasks.get(config.task).data != "ct_folder":
        raise ConfigError(f"task: multi-worker training takes CT patch tasks, not {config.task}")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index, n_workers = _task()
    run_dir = pathlib.Path(config.out_dir)
    own_dir = run_dir / "workers" / f"worker_{index}"
    own_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)

    samplers = ct_patch_samplers(config, own_dir / "cache.h5")
    sampler = samplers["train"]
    keys = output_keys(config)
    global_batch = int(config.batch_size)

    def dataset_fn(context):
        per_replica = context.get_per_replica_batch_size(global_batch)
        return data.patch_dataset(sampler, per_replica, seed=config.seed, augment=config.augment,
                                  augment_options=config.augment_args, output_keys=keys,
                                  shard=(context.input_pipeline_id, context.num_input_pipelines))

    dist_data = strategy.distribute_datasets_from_function(dataset_fn)
    if config.model_args.get("norm", "batch") == "batch":
        # per-replica batch statistics would give every worker different moving averages
        config.model_args = {**config.model_args, "norm": "sync_batch"}
    with strategy.scope():
        model = build_model(config, (None,) * len(config.patch_size) + (2 * config.context_slices + 1,))
        optimizer = keras.optimizers.Adam(config.learning_rate)
        loss_fn = losses.get(config.loss, reduction=None, **config.loss_args)
    heads = [k for k in keys if k.startswith("head_")] or ["probabilities"]
    weights = losses.deep_supervision_weights(len(heads), config.deep_supervision_scheme) if heads[0] != \
        "probabilities" else {"probabilities": 1.0}

    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            out = model(inputs, training=True)
            per_example = sum(weights[k] * loss_fn(targets[k], out[k]) for k in heads)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(iterator):
        inputs, targets = next(iterator)
        per_replica = strategy.run(replica_step, args=(inputs, targets))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    iterator = iter(dist_data)
    steps = int(config.steps_per_epoch or 50)
    rows = []
    for epoch in range(int(config.epochs)):
        total = 0.0
        for _ in range(steps):
            total += float(train_step(iterator))
        rows.append((epoch, total / steps))
        logger.info("worker %d epoch %d loss %.4f", index, epoch, total / steps)
    np.savez(own_dir.parent / f"worker_{index}.npz", *[np.asarray(w) for w in model.weights])
    if index == 0:
        write_text_atomic(run_dir / "history.csv", "epoch,loss\n" + "".join(f"{e},{v}\n" for e, v in rows))
        model.plan = samplers["plan"]
        save_model(model, run_dir / "model.keras")
    return run_dir


def main(argv=None) -> int:
    """``python -m keras_liver.training.multi_worker --config FILE``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train_multi_worker(args.config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
