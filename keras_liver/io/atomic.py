"""Atomic writes: write to a temporary file in the same folder, then rename."""

import os
import pathlib
import tempfile


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_beside(path, suffix: str = "") -> tuple[int, str]:
    """A temporary file in ``path``'s folder, for writing before an atomic rename.

    ``tempfile.mkstemp`` creates files readable by their owner only; the
    permissions are widened to what a plain ``open`` would give (``0o666``
    less the umask), so the renamed file is readable as usual.

    Returns:
        ``(fd, temp_path)`` as ``tempfile.mkstemp`` does.
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())
    return fd, tmp


def write_bytes_atomic(path, data: bytes) -> pathlib.Path:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part.

    Args:
        path: Destination (its folder must exist).
        data: The whole content.

    Returns:
        The path written.
    """
    path = pathlib.Path(path)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path, text: str) -> pathlib.Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see `write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))
