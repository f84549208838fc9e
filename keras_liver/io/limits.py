"""The largest volume a reader will load, checked from the header before any voxel is read.

A 1 MB ``.nii.gz`` of zeros can declare a gigabyte of voxels and a header can
declare ``32767 ** 3``; both are refused before memory is allocated. The limit is
a voxel count (all frames of a series together):

* default ``DEFAULT_MAX_VOXELS`` = 2**29 = 536,870,912 voxels, e.g. 2,048
  slices of 512 x 512 (1 GiB as ``int16``, 2 GiB as ``float32``), larger than any
  liver CT or DCE-MRI series we know of;
* the environment variable ``KERAS_LIVER_MAX_VOXELS`` (a positive integer)
  replaces it for every reader, the CLI included;
* the ``max_voxels=`` argument of `load_volume` / `read_nifti` /
  `read_dicom_series` replaces it for one call.
"""

import math
import os

from keras_liver.errors import ConfigError, FileFormatError

DEFAULT_MAX_VOXELS = 1 << 29
ENV = "KERAS_LIVER_MAX_VOXELS"


def max_voxels(override: int | None = None) -> int:
    """The voxel limit in force: ``override``, else ``$KERAS_LIVER_MAX_VOXELS``, else the default.

    Raises:
        ConfigError: the override or the environment variable is not a positive integer.
    """
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, int) or override <= 0:
            raise ConfigError(f"max_voxels must be a positive integer; got {override!r}")
        return override
    text = os.environ.get(ENV)
    if text is None or not text.strip():
        return DEFAULT_MAX_VOXELS
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{ENV}={text!r}: must be a positive integer (a voxel count)")
    return value


def check_voxel_count(source, shape, limit: int | None = None) -> int:
    """Refuse a declared shape with a negative extent or more voxels than the limit.

    Args:
        source: The file or folder, for the message.
        shape: Declared extents (any order).
        limit: ``max_voxels`` override.

    Returns:
        The voxel count.

    Raises:
        FileFormatError: a negative extent, or more voxels than the limit.
    """
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise FileFormatError(f"{source}: header declares a negative dimension {list(shape)}")
    count = math.prod(shape)
    cap = max_voxels(limit)
    if count > cap:
        raise FileFormatError(
            f"{source}: header declares {' x '.join(map(str, shape))} = {count:,} voxels, over the limit of "
            f"{cap:,} (set {ENV} to read larger volumes)"
        )
    return count
