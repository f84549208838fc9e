"""`split_cases`: a seeded train/validation split by case, optionally stratified."""

import numpy as np

from keras_liver.errors import ConfigError


def split_cases(ids, val_fraction: float, seed: int, val_cases=None, strata=None):
    """``(train_ids, val_ids)``: a seeded split by case (stratified when ``strata`` are given).

    Args:
        ids: Case ids.
        val_fraction: Share of cases (of each stratum) held out.
        seed: Seed of the permutation.
        val_cases: Explicit validation ids (override ``val_fraction``).
        strata: One label per id; each stratum with more than one case gives at least one validation case.
    """
    ids = [str(i) for i in ids]
    if val_cases is not None:
        val = [str(v) for v in val_cases]
        missing = sorted(set(val) - set(ids))
        if missing:
            raise ConfigError(f"val_cases: {missing} are not in the data")
        return [i for i in ids if i not in val], val
    rng = np.random.default_rng(seed)
    groups = {}
    for i, s in zip(ids, strata if strata is not None else [0] * len(ids)):
        groups.setdefault(s, []).append(i)
    val = []
    for members in groups.values():
        members = list(rng.permutation(members))
        k = int(round(val_fraction * len(members)))
        if val_fraction > 0 and len(ids) > 1:
            k = max(k, 1) if len(members) > 1 else k
        val += members[:k]
    train = [i for i in ids if i not in set(val)]
    if not train:
        raise ConfigError("val_fraction leaves no training case")
    return train, val
