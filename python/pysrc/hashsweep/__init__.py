"""hashsweep: PDQ and pHash hashing in bulk (GPU and CPU) and exact matching against
memory-mapped reference sets. The same engine as the `hashsweep` command.

Submodules that need third-party packages are imported on demand:
``hashsweep.threatexchange`` (python-threatexchange extension) and
``hashsweep.backfill`` (Ray Data backfill).
"""

import os as _os
import tempfile as _tempfile


def _quiet_window_system() -> None:
    # Vulkan drivers probe Wayland when the engine opens the GPU, and libwayland prints
    # "XDG_RUNTIME_DIR is invalid or not set" on every process without one (batch jobs,
    # Ray workers, containers). As the command does: point it at a private empty folder.
    current = _os.environ.get("XDG_RUNTIME_DIR")
    if current and _os.path.isdir(current):
        return
    path = _os.path.join(_tempfile.gettempdir(), f"hashsweep-runtime-{_os.getuid()}")
    try:
        _os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return
    if _os.path.isdir(path):
        _os.environ["XDG_RUNTIME_DIR"] = path


_quiet_window_system()

from ._native import (  # noqa: E402  (after the environment is set)
    RefSet,
    __version__,
    hash_array,
    hash_bytes,
    hash_bytes_batch,
    hash_files,
    pdq_hex,
)

__all__ = [
    "RefSet",
    "__version__",
    "hash_array",
    "hash_bytes",
    "hash_bytes_batch",
    "hash_files",
    "pdq_hex",
]
