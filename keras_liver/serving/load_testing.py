"""`load_test`: concurrent Predict clients against a model server, with latency percentiles."""

import threading
import time

import numpy as np

from keras_liver.errors import ConfigError, ServingError


def load_test(target: str, model_name: str, payload: dict, *, clients: int = 8, requests: int = 25,
              output_filter=("probabilities",), timeout: float = 120.0) -> dict:
    """Send ``clients`` x ``requests`` Predict calls from concurrent threads, each with its own channel.

    One warm-up request goes first (not counted). Errors are counted, not
    retried, so the figure shows what a client without retries would see.

    Args:
        target: ``host:port`` of the gRPC endpoint.
        model_name: Servable name.
        payload: ``{input: array}`` sent in every request.
        clients: Concurrent client threads.
        requests: Requests per client.
        output_filter: Outputs to ask for.
        timeout: Seconds per request.

    Returns:
        dict with ``clients``, ``requests``, ``ok``, ``errors``, ``first_error``,
        ``wall_s``, ``requests_per_s``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``request_mib``.
    """
    from keras_liver.serving.client import PredictClient

    if clients < 1 or requests < 1:
        raise ConfigError(f"clients ({clients}) and requests ({requests}) must be positive")
    with PredictClient(target, model_name, timeout=timeout) as warm:
        warm.wait_until_available(timeout=timeout)
        warm.predict(payload, output_filter=list(output_filter))
    latencies, errors = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker():
        with PredictClient(target, model_name, timeout=timeout, retries=0) as client:
            barrier.wait()
            for _ in range(requests):
                start = time.perf_counter()
                try:
                    client.predict(payload, output_filter=list(output_filter))
                except ServingError as exc:
                    with lock:
                        errors.append(str(exc))
                    continue
                with lock:
                    latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000.0
    pct = {f"p{q}_ms": float(np.percentile(ms, q)) if len(ms) else float("nan") for q in (50, 95, 99)}
    return {"clients": clients, "requests": clients * requests, "ok": len(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else "", "wall_s": wall, "requests_per_s": len(latencies) / wall,
            **pct, "request_mib": sum(np.asarray(v).nbytes for v in payload.values()) / 2 ** 20}
