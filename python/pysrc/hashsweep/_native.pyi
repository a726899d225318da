"""The native module of hashsweep (re-exported by the package): PDQ and pHash hashing in
bulk (GPU and CPU) and exact matching against memory-mapped reference sets. The same
engine as the `hashsweep` command."""

from os import PathLike
from typing import Literal, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

Backend = Literal["auto", "gpu", "cpu"]
Algorithm = Literal["pdq", "phash"]

class HashResult(TypedDict, total=False):
    path: str
    status: Literal["ok", "error"]
    error: Optional[str]
    width: int
    height: int
    pdq: str
    quality: int
    phash: str
    dihedral: dict[str, str]

def hash_files(
    paths: Sequence[Union[str, PathLike[str]]],
    algorithms: Sequence[Algorithm] = ("pdq",),
    dihedral: bool = False,
    backend: Backend = "auto",
) -> list[HashResult]:
    """Hash image files in batches on the engine, the GIL released. One result per path,
    in order; a file that cannot be read or decoded has status "error" and its reason."""

def hash_bytes(
    data: bytes,
    algorithms: Sequence[Algorithm] = ("pdq",),
    dihedral: bool = False,
    backend: Backend = "auto",
) -> HashResult:
    """Hash one encoded image held in memory. Raises ValueError if it does not decode."""

def hash_bytes_batch(
    datas: Sequence[bytes],
    algorithms: Sequence[Algorithm] = ("pdq",),
    dihedral: bool = False,
    backend: Backend = "auto",
) -> list[HashResult]:
    """Hash many encoded images held in memory, decoded on all cores and hashed as one
    batch, the GIL released. One result per item, in order; an item that does not decode
    has status "error" and its reason."""

def hash_array(
    array: npt.NDArray[np.uint8],
    algorithms: Sequence[Algorithm] = ("pdq",),
    dihedral: bool = False,
    backend: Backend = "auto",
) -> HashResult:
    """Hash decoded RGB pixels, a uint8 array of shape (height, width, 3)."""

def pdq_hex(bytes: bytes) -> str:
    """The hex form of a PDQ hash given as its 32 bytes in hex order."""

class RefSet:
    """A reference set file, memory-mapped."""

    @staticmethod
    def open(path: Union[str, PathLike[str]]) -> "RefSet": ...
    @staticmethod
    def build(
        inputs: Sequence[Union[str, PathLike[str]]],
        output: Union[str, PathLike[str]],
        algo: Optional[Literal["pdq", "phash", "md5", "sha1", "sha256"]] = None,
    ) -> "RefSet":
        """Build a set from hash lists (any format `hashsweep refs build` reads)."""
    def __len__(self) -> int: ...
    @property
    def algorithm(self) -> str: ...
    def labels(self, i: int) -> list[str]: ...
    def ids(self) -> npt.NDArray[np.uint64]: ...
    def match(
        self,
        queries: Union[Sequence[str], npt.NDArray[np.uint8]],
        max_distance: Optional[int] = None,
        top_k: Optional[int] = None,
        backend: Backend = "auto",
        index: Literal["auto", "mih", "flat"] = "auto",
    ) -> Tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
        """Every (query, entry) pair within max_distance bits, exactly: arrays of query
        index, entry id and distance. ``index`` picks the set's multi-index ("mih"), a
        sweep ("flat") or the cheaper by the cost model ("auto"); the pairs are the same."""
