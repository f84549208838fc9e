"""Atomic writes: write to a temporary file in the same folder, then rename."""

import os
import pathlib
import tempfile


def write_text_atomic(path, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never a part.

    Args:
        path: Destination (its folder must exist).
        text: The whole content.

    Returns:
        The path written.
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path
