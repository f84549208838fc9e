"""Run the notebooks top to bottom at their stored (default) settings and time them.

Usage:
    python scripts/run_notebooks.py [01_ct_tumour_segmentation.ipynb ...]   (default: all three)

Each notebook is executed with nbclient in a fresh kernel from the
repository root (so its outputs land in ``notebook_out/``); the executed copy,
with outputs, is written to ``notebook_out/executed/`` and never over the
stored notebook, which stays without outputs.
"""

import os
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    done = ROOT / "notebook_out" / "executed"
    done.mkdir(parents=True, exist_ok=True)
    for name in names:
        start = time.perf_counter()
        book = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        NotebookClient(book, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
        nbformat.write(book, done / name)
        print(f"{name}: {time.perf_counter() - start:.0f} s at default settings; executed copy in {done / name}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
