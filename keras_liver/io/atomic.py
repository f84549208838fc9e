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


def remove_stale_temporaries(folder, prefixes, older_than_s: float = 0.0) -> list:
    """Delete the hidden temporaries a killed writer left in ``folder``; return their paths.

    A temporary of `temp_beside` is named ``.<final name>.<random>``; one of an
    export is a folder ``.tmp-<version>-<random>``. Only hidden entries whose
    name (after the dot) starts with one of ``prefixes`` are touched, and only
    those last changed more than ``older_than_s`` seconds ago (a writer that
    may still be running elsewhere keeps its files).
    """
    import shutil
    import time

    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for entry in folder.iterdir():
        name = entry.name
        if not name.startswith(".") or not any(name[1:].startswith(p) for p in prefixes):
            continue
        try:
            if now - entry.lstat().st_mtime < older_than_s:
                continue
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        except FileNotFoundError:
            continue
    return removed
