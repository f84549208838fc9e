"""NRRD (``.nrrd``, or a ``.nhdr`` header with its data file), the format 3D Slicer users exchange.

Our reader and writer of the teem NRRD format (http://teem.sourceforge.net/nrrd/format.html),
NumPy only. What is read: NRRD magic ``NRRD0001``..``NRRD0005``; types int8..uint64, float,
double; encodings raw, gzip, bzip2 and ascii; little and big endian; ``space`` (RAS, LAS, LPS,
their long names, or ``3D-right-handed``) or ``space dimension: 3``, ``space directions`` and
``space origin`` (or the older per-axis ``spacings``); 3D volumes and 4D series with one
non-spatial axis (``space directions`` ``none``, kind ``list``/``time``...), which becomes
``t``; ``line skip`` and ``byte skip`` (``-1`` for raw data: the data ends the file); a
detached header's single ``data file``. Files are written with space ``left-posterior-superior``
(Slicer's convention), gzip encoding and, for a series, the time axis last with kind ``list``
and the frame times in the key ``frame_times_s``.
"""

import bz2
import gzip
import logging
import os
import pathlib
import re

import numpy as np

from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.io.atomic import write_bytes_atomic
from keras_liver.io.limits import check_voxel_count
from keras_liver.io.orientation import DEFAULT_ORIENTATION, array_to_write, orientation_code, reorient
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)
NRRD_SUFFIXES = (".nrrd", ".nhdr")
_MAX_HEADER_BYTES = 1 << 20
_TYPES = {}
for _names, _dtype in (
    (("signed char", "int8", "int8_t"), "i1"),
    (("uchar", "unsigned char", "uint8", "uint8_t"), "u1"),
    (("short", "short int", "signed short", "signed short int", "int16", "int16_t"), "i2"),
    (("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), "u2"),
    (("int", "signed int", "int32", "int32_t"), "i4"),
    (("uint", "unsigned int", "uint32", "uint32_t"), "u4"),
    (("longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t"),
     "i8"),
    (("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"), "u8"),
    (("float",), "f4"),
    (("double",), "f8"),
):
    for _name in _names:
        _TYPES[_name] = _dtype
_WRITE_TYPES = {"i1": "int8", "u1": "uint8", "i2": "int16", "u2": "uint16", "i4": "int32", "u4": "uint32",
                "i8": "int64", "u8": "uint64", "f4": "float", "f8": "double"}
# The sign that turns each space's (x, y, z) into RAS.
_SPACES = {"right-anterior-superior": (1, 1, 1), "ras": (1, 1, 1), "3d-right-handed": (1, 1, 1),
           "scanner-xyz": (1, 1, 1), "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1),
           "left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1)}
_VECTOR = re.compile(r"\(([^)]*)\)|none")


def is_nrrd_path(path) -> bool:
    """Whether ``path`` names an NRRD file (``.nrrd``) or detached header (``.nhdr``)."""
    return pathlib.Path(path).suffix.lower() in NRRD_SUFFIXES


def _read_header(path: pathlib.Path):
    """``(fields, key_values, data_offset)`` of an NRRD file's text header."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_HEADER_BYTES)
    if not re.match(rb"NRRD000[1-5]\r?\n", head):
        raise FileFormatError(f"{path}: not an NRRD file (no NRRD0001..NRRD0005 magic line)")
    fields, pairs, offset = {}, {}, None
    pos = head.index(b"\n") + 1
    while True:
        end = head.find(b"\n", pos)
        if end < 0:
            if path.suffix.lower() == ".nhdr" and pos < len(head):  # a detached header may end without a newline
                end = len(head)
            elif path.suffix.lower() == ".nhdr":
                break
            else:
                raise FileFormatError(f"{path}: the NRRD header has no blank line before the data "
                                      f"(or is over {_MAX_HEADER_BYTES} bytes)")
        line = head[pos:end].rstrip(b"\r").decode("latin-1")
        pos = end + 1
        if not line:
            offset = pos
            break
        if line.startswith("#"):
            continue
        if ":=" in line:
            key, value = line.split(":=", 1)
            pairs[key] = value
        elif ": " in line:
            key, value = line.split(": ", 1)
            fields[key.strip().lower()] = value.strip()
        else:
            raise FileFormatError(f"{path}: NRRD header line {line[:60]!r} is neither 'field: value' nor 'key:=value'")
    return fields, pairs, offset


def _numbers(path, field, text, kind=float) -> list:
    try:
        return [kind(v) for v in text.split()]
    except ValueError:
        raise FileFormatError(f"{path}: NRRD field {field!r} = {text[:60]!r} is not a list of numbers") from None


def _geometry(path, fields, ndim):
    """``(spatial axes, affine (4 x 4, file axes -> RAS))`` of the header."""
    space = fields.get("space", "").lower()
    if space and space not in _SPACES:
        raise FileFormatError(f"{path}: NRRD space {fields['space']!r} is not one keras-liver reads "
                              f"(RAS, LAS, LPS or 3D-right-handed)")
    if not space and fields.get("space dimension", "3") != "3":
        raise FileFormatError(f"{path}: NRRD space dimension {fields['space dimension']} (expected 3)")
    sign = np.array(_SPACES.get(space, (1, 1, 1)), float)
    if "space directions" in fields:
        vectors = []
        for match in _VECTOR.finditer(fields["space directions"]):
            if match.group(0) == "none":
                vectors.append(None)
            else:
                v = _numbers(path, "space directions", match.group(1).replace(",", " "))
                if len(v) != 3:
                    raise FileFormatError(f"{path}: NRRD space direction {match.group(0)} is not 3 numbers")
                vectors.append(np.array(v))
        if len(vectors) != ndim:
            raise FileFormatError(f"{path}: NRRD 'space directions' lists {len(vectors)} axes for dimension {ndim}")
        spatial = [i for i, v in enumerate(vectors) if v is not None]
        matrix = np.stack([vectors[i] for i in spatial], axis=1) if len(spatial) == 3 else None
    elif "spacings" in fields:
        spacings = [s for s in fields["spacings"].split()]
        spatial = [i for i, s in enumerate(spacings) if s.lower() != "nan"]
        values = _numbers(path, "spacings", " ".join(spacings[i] for i in spatial))
        matrix = np.diag(values) if len(spatial) == 3 else None
    else:
        spatial, matrix = [i for i in range(ndim)][:3], np.eye(3)
        if ndim == 4:
            raise FileFormatError(f"{path}: 4D NRRD without 'space directions' or 'spacings' (which axis is time?)")
    if matrix is None:
        raise FileFormatError(f"{path}: NRRD with {len(spatial)} spatial axes (keras-liver reads 3D volumes "
                              f"and 4D series)")
    origin = np.zeros(3)
    if "space origin" in fields:
        found = _VECTOR.search(fields["space origin"])
        if not found or found.group(0) == "none":
            raise FileFormatError(f"{path}: NRRD 'space origin' {fields['space origin'][:60]!r} is not (x,y,z)")
        origin = np.array(_numbers(path, "space origin", found.group(1).replace(",", " ")))
        if origin.size != 3:
            raise FileFormatError(f"{path}: NRRD 'space origin' is not 3 numbers")
    affine = np.eye(4)
    affine[:3, :3] = sign[:, None] * matrix
    affine[:3, 3] = sign * origin
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise FileFormatError(f"{path}: NRRD geometry is singular or not finite (space directions "
                              f"{fields.get('space directions', fields.get('spacings'))!r})")
    return spatial, affine


def _payload(path, fields, offset, count, dtype):
    """The ``count`` voxels of ``dtype`` the header describes, as a flat array."""
    if "data file" in fields or "datafile" in fields:
        name = fields.get("data file", fields.get("datafile"))
        if name.startswith("LIST") or len(name.split()) > 1:
            raise FileFormatError(f"{path}: NRRD 'data file' {name!r}: only one detached data file is supported")
        source = pathlib.Path(name) if pathlib.Path(name).is_absolute() else path.parent / name
        if not source.is_file():
            raise MissingPathError(f"{path}: its data file {source} does not exist")
        offset = 0
    elif offset is None:
        raise FileFormatError(f"{path}: a detached NRRD header without a 'data file'")
    else:
        source = path
    encoding = fields.get("encoding", "").lower()
    line_skip = int(fields.get("line skip", fields.get("lineskip", "0")))
    byte_skip = int(fields.get("byte skip", fields.get("byteskip", "0")))
    nbytes = count * dtype.itemsize
    with open(source, "rb") as fh:
        fh.seek(offset)
        for _ in range(line_skip):
            fh.readline()
        if encoding == "raw":
            if byte_skip == -1:  # the data are the last bytes of the file
                fh.seek(max(os.path.getsize(source) - nbytes, 0))
            else:
                fh.seek(byte_skip, os.SEEK_CUR)
            raw = fh.read(nbytes + 1)
        elif encoding in ("gzip", "gz", "bzip2", "bz2"):
            opener = gzip.GzipFile if encoding.startswith("g") else bz2.BZ2File
            try:
                with opener(fileobj=fh) as stream:
                    stream.read(max(byte_skip, 0))
                    raw = stream.read(nbytes + 1)
            except (OSError, EOFError, ValueError) as exc:
                raise FileFormatError(f"{source}: NRRD {encoding} data is corrupt ({exc})") from None
        elif encoding in ("ascii", "text", "txt"):
            text = fh.read().decode("latin-1")
            try:
                values = np.array(text.split(), dtype=np.float64)
            except ValueError:
                raise FileFormatError(f"{source}: NRRD ascii data holds something that is not a number") from None
            if values.size != count:
                raise FileFormatError(f"{source}: NRRD ascii data holds {values.size} values, the header {count}")
            return values.astype(dtype)
        else:
            raise FileFormatError(f"{path}: NRRD encoding {encoding or '(none)'!r} is not one keras-liver reads "
                                  f"(raw, gzip, bzip2, ascii)")
    if len(raw) < nbytes:
        raise FileFormatError(f"{source}: NRRD data is truncated ({len(raw):,} of {nbytes:,} bytes)")
    if len(raw) > nbytes and encoding != "raw":
        raise FileFormatError(f"{source}: NRRD data decompresses to more than the {nbytes:,} bytes its header declares")
    return np.frombuffer(raw[:nbytes], dtype=dtype).copy()


def read_nrrd(path, orientation: str | None = DEFAULT_ORIENTATION, dtype=None, max_voxels: int | None = None) -> Volume:
    """Read a 3D volume or a 4D series from NRRD.

    Args:
        path: ``.nrrd`` file or ``.nhdr`` detached header.
        orientation: Axis codes to reorient to (default ``"LPS"``); ``None`` keeps the file's order.
        dtype: Output dtype (``None``: as stored).
        max_voxels: Largest voxel count read (`keras_liver.io.limits`).

    Returns:
        A `Volume` ``(z, y, x)`` or ``(t, z, y, x)`` whose affine maps to RAS.

    Raises:
        MissingPathError: the file (or its data file) does not exist.
        FileFormatError: not NRRD, an unknown type, encoding or space, a truncated or
            oversized payload, or a geometry that is singular or not 3D.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file")
    fields, pairs, offset = _read_header(path)
    for required in ("type", "dimension", "sizes", "encoding"):
        if required not in fields:
            raise FileFormatError(f"{path}: NRRD header has no '{required}' field")
    kind = _TYPES.get(fields["type"].lower())
    if kind is None:
        raise FileFormatError(f"{path}: NRRD type {fields['type']!r} is not one keras-liver reads")
    ndim = int(_numbers(path, "dimension", fields["dimension"], int)[0])
    sizes = _numbers(path, "sizes", fields["sizes"], int)
    if len(sizes) != ndim or ndim not in (3, 4):
        raise FileFormatError(f"{path}: NRRD dimension {ndim} with sizes {sizes} (keras-liver reads 3D and 4D)")
    check_voxel_count(path, sizes, max_voxels)
    spatial, affine = _geometry(path, fields, ndim)
    endian = fields.get("endian", "little").lower()
    if endian not in ("little", "big"):
        raise FileFormatError(f"{path}: NRRD endian {endian!r} (expected little or big)")
    numpy_type = np.dtype(("<" if endian == "little" else ">") + kind)
    flat = _payload(path, fields, offset, int(np.prod(sizes)), numpy_type)
    array = flat.reshape(sizes[::-1]).astype(numpy_type.newbyteorder("="), copy=False)  # file axis 0 last
    if ndim == 4:
        (time_axis,) = set(range(4)) - set(spatial)
        array = np.moveaxis(array, 3 - time_axis, 0)  # (t, z, y, x)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    array = np.ascontiguousarray(array)
    source_orientation = orientation_code(affine)
    if orientation is not None:
        array, affine = reorient(array, affine, orientation, in_place=True)
    meta = {"source": str(path), "format": "nrrd", "source_orientation": source_orientation,
            "orientation": orientation_code(affine)}
    if array.ndim == 4:
        times = pairs.get("frame_times_s")
        meta["frame_times_s"] = (_numbers(path, "frame_times_s", times) if times is not None
                                 else [float(i) for i in range(array.shape[0])])
        if len(meta["frame_times_s"]) != array.shape[0]:
            raise FileFormatError(f"{path}: frame_times_s lists {len(meta['frame_times_s'])} times for "
                                  f"{array.shape[0]} frames")
    return Volume(array, affine, meta=meta)


def _vector(v) -> str:
    return "(" + ",".join(repr(float(x)) for x in v) + ")"


def write_nrrd(volume: Volume, path, orientation: str | None = "source") -> pathlib.Path:
    """Write a `Volume` as a gzip-encoded ``.nrrd``, atomically (temporary file, then rename).

    Args:
        volume: What to write (``bool`` becomes ``uint8``).
        path: Destination ending in ``.nrrd``.
        orientation: ``"source"`` (default) writes the voxel order of the file the volume came
            from; an axis code forces one; ``None`` writes the array as it is.

    Returns:
        The path written.
    """
    path = pathlib.Path(path)
    if path.suffix.lower() != ".nrrd":
        raise ConfigError(f"{path}: an NRRD output must end in .nrrd")
    if not path.parent.is_dir():
        raise MissingPathError(f"{path.parent}: output folder does not exist")
    array, affine = array_to_write(volume, orientation)
    if array.dtype.str.lstrip("<>=|") not in _WRITE_TYPES:
        raise ConfigError(f"{path}: NRRD cannot hold {array.dtype} voxels")
    array = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    lps = np.array([-1.0, -1.0, 1.0])
    directions = [_vector(lps * affine[:3, i]) for i in range(3)]
    sizes = list(array.shape[::-1])  # x fastest: the C order of (z, y, x) or (t, z, y, x)
    lines = ["NRRD0004", "# written by keras-liver", f"type: {_WRITE_TYPES[array.dtype.str.lstrip('<>=|')]}",
             f"dimension: {array.ndim}", "space: left-posterior-superior", f"sizes: {' '.join(map(str, sizes))}",
             "space directions: " + " ".join(directions + (["none"] if array.ndim == 4 else [])),
             "kinds: domain domain domain" + (" list" if array.ndim == 4 else ""),
             "endian: little", "encoding: gzip", f"space origin: {_vector(lps * affine[:3, 3])}"]
    if array.ndim == 4 and volume.meta.get("frame_times_s") is not None:
        lines.append("frame_times_s:=" + " ".join(repr(float(t)) for t in volume.meta["frame_times_s"]))
    data = ("\n".join(lines) + "\n\n").encode("latin-1") + gzip.compress(array.tobytes(), compresslevel=4)
    write_bytes_atomic(path, data)
    logger.debug("wrote %s %s %s", path, array.shape, orientation_code(affine))
    return path
