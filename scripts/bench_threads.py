"""Seconds a scan of a model in one warm process, by TensorFlow thread count and processes side by side.

    python scripts/bench_threads.py --model ct_liver_tumour --inputs A.nii.gz B.nii.gz ... \\
        [--threads 1,2,0] [--processes 1,2]

For each (processes, threads) pair, starts that many processes side by side; each imports TensorFlow,
sets its intra- and inter-op threads (0: TensorFlow's default, every core), loads the model, predicts
the first input once to warm up, then times predicting all inputs (`keras_liver.batch.scans.predict_labels`,
the model's own plan) and prints its seconds a scan. Measures what `predict-batch --workers N` can gain
on this machine: whether one process already uses every core (issue 21, docs/RESULTS.md).
"""

import argparse
import json
import os
import subprocess
import sys
import time


def one_process(model: str, inputs: list, threads: int) -> float:
    from keras_liver.cli.quiet import import_tensorflow_quietly, quiet_tensorflow

    tf = import_tensorflow_quietly(quiet_tensorflow(False))
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras_liver.batch.scans import predict_labels
    from keras_liver.io import load_volume
    from keras_liver.models import load_model

    net = load_model(model, compile=False)
    volumes = [load_volume(p) for p in inputs]
    predict_labels(net, volumes[0])
    start = time.perf_counter()
    for volume in volumes:
        predict_labels(net, volume)
    return (time.perf_counter() - start) / len(volumes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", nargs="+", required=True)
    parser.add_argument("--threads", default="1,2,0")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps({"seconds_per_scan": round(one_process(args.model, args.inputs, args.child), 2)}))
        return 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for processes in (int(p) for p in args.processes.split(",")):
        for threads in (int(t) for t in args.threads.split(",")):
            argv_child = [sys.executable, __file__, "--model", args.model, "--inputs", *args.inputs,
                          "--child", str(threads)]
            procs = [subprocess.Popen(argv_child, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
                     for _ in range(processes)]
            each = [json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds_per_scan"] for p in procs]
            print(json.dumps({"processes": processes, "threads": threads or "default", "seconds_per_scan_each": each,
                              "seconds_per_scan_together": round(max(each) / processes, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
