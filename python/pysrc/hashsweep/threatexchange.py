"""A python-threatexchange extension: PDQ hashed by hashsweep (GPU or all CPU cores) and
matched exactly by hashsweep's matcher over a memory-mapped reference set.

Load it into the ``threatexchange`` command (and HMA, which reads the same manifests)::

    threatexchange config extensions add hashsweep.threatexchange

It adds the signal type ``hashsweep_pdq``. Its hashes are PDQ hex strings, interchangeable
with the built-in ``pdq`` type's; the exchanges' clients file what they fetch under the
name ``pdq``, so to match fetched lists with this type, list them as ``hashsweep_pdq``
(for example through the ``local_file`` exchange). ``HASHSWEEP_BACKEND`` (auto, gpu or
cpu; default auto) chooses where hashing and matching run.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import random
import re
import shutil
import struct
import tempfile
import typing as t

from threatexchange.content_type.content_base import ContentType
from threatexchange.content_type.photo import PhotoContent
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type import signal_base
from threatexchange.signal_type.index import (
    IndexMatchUntyped,
    SignalSimilarityInfoWithIntDistance,
    SignalTypeIndex,
)
from threatexchange.signal_type.pdq.signal import PdqSignal

from . import _native

T = t.TypeVar("T")

# The distance up to which the built-in PDQ index reports matches.
PDQ_MATCH_THRESHOLD = 31

_PDQ_HEX = re.compile("^[0-9a-f]{64}$")
# Marks a serialized index: this module's format, version 1.
_MAGIC = b"HSWTXIX1"


def _backend() -> str:
    return os.environ.get("HASHSWEEP_BACKEND", "auto")


class HashsweepPdqSignal(
    signal_base.SimpleSignalType,
    signal_base.BytesHasher,
    signal_base.CanGenerateRandomSignal,
):
    """PDQ, hashed and matched by hashsweep. Same hash strings, same distance and the
    same quality floor as the built-in ``pdq`` signal type."""

    QUALITY_THRESHOLD = PdqSignal.QUALITY_THRESHOLD

    @classmethod
    def get_content_types(cls) -> t.List[t.Type[ContentType]]:
        return [PhotoContent]

    @classmethod
    def get_index_cls(cls) -> t.Type["HashsweepPdqIndex"]:
        return HashsweepPdqIndex

    @classmethod
    def validate_signal_str(cls, signal_str: str) -> str:
        """64 lower-case hex digits, as the built-in type requires."""
        if not _PDQ_HEX.match(signal_str):
            raise ValueError("invalid PDQ hash")
        return signal_str

    @classmethod
    def compare_hash(
        cls, hash1: str, hash2: str, pdq_dist_threshold: int = PDQ_MATCH_THRESHOLD
    ) -> signal_base.SignalComparisonResult:
        dist = bin(int(hash1, 16) ^ int(hash2, 16)).count("1")
        return signal_base.SignalComparisonResult.from_simple_dist(dist, pdq_dist_threshold)

    @classmethod
    def _accepted(cls, result: t.Mapping[str, t.Any]) -> str:
        if result["status"] != "ok":
            raise ValueError(result["error"])
        return result["pdq"] if result["quality"] >= cls.QUALITY_THRESHOLD else ""

    @classmethod
    def hash_from_bytes(cls, bytes_: bytes) -> str:
        """The PDQ hex of an encoded image, or "" when its quality is under the floor."""
        return cls._accepted(_native.hash_bytes(bytes_, backend=_backend()))

    @classmethod
    def hash_from_file(cls, file: pathlib.Path) -> str:
        return cls.hash_from_files([file])[0]

    @classmethod
    def hash_from_files(cls, files: t.Sequence[t.Union[str, pathlib.Path]]) -> t.List[str]:
        """Many files in one engine batch: what a backfill should call. A file that does
        not decode raises ValueError naming it."""
        results = _native.hash_files([str(f) for f in files], backend=_backend())
        return [cls._accepted(r) for r in results]

    @classmethod
    def get_random_signal(cls) -> str:
        return f"{random.randrange(16**64):064x}"

    @staticmethod
    def get_examples() -> t.List[str]:
        return PdqSignal.get_examples()


class HashsweepPdqIndex(SignalTypeIndex[T]):
    """A SignalTypeIndex over a hashsweep reference set: every entry within
    PDQ_MATCH_THRESHOLD bits, found exactly (no approximate search), on the GPU or CPU.

    Entries with the same hash share one set entry; the set is rebuilt on the first query
    after an add. ``serialize`` writes the set itself, so ``deserialize`` maps it back
    without rebuilding."""

    def __init__(self, entries: t.Iterable[t.Tuple[str, T]] = ()) -> None:
        super().__init__()
        self._hashes: t.List[str] = []
        self._entries: t.List[t.List[T]] = []
        self._position: t.Dict[str, int] = {}
        self._set: t.Optional[_native.RefSet] = None
        self._dir: t.Optional[tempfile.TemporaryDirectory] = None
        self.add_all(entries)

    @classmethod
    def get_match_threshold(cls) -> int:
        return PDQ_MATCH_THRESHOLD

    def __len__(self) -> int:
        return sum(len(e) for e in self._entries)

    def add(self, signal_str: str, entry: T) -> None:
        HashsweepPdqSignal.validate_signal_str(signal_str)
        i = self._position.setdefault(signal_str, len(self._hashes))
        if i == len(self._hashes):
            self._hashes.append(signal_str)
            self._entries.append([])
        self._entries[i].append(entry)
        self._set = None

    def query(self, hash: str) -> t.List[IndexMatchUntyped[SignalSimilarityInfoWithIntDistance, T]]:
        return self.query_many([hash])[0]

    def query_many(
        self, hashes: t.Sequence[str]
    ) -> t.List[t.List[IndexMatchUntyped[SignalSimilarityInfoWithIntDistance, T]]]:
        """Matches of each query, in one call to the matcher."""
        found: t.List[t.List[IndexMatchUntyped[SignalSimilarityInfoWithIntDistance, T]]] = [
            [] for _ in hashes
        ]
        if not self._hashes or not hashes:
            return found
        queries, ids, distances = self._refset().match(
            list(hashes), max_distance=self.get_match_threshold(), backend=_backend()
        )
        for q, i, d in zip(queries.tolist(), ids.tolist(), distances.tolist()):
            info = SignalSimilarityInfoWithIntDistance(int(d))
            found[q].extend(IndexMatchUntyped(info, e) for e in self._entries[i])
        return found

    def _refset(self) -> _native.RefSet:
        if self._set is None:
            self._set = self._build()
        return self._set

    def _set_path(self) -> pathlib.Path:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="hashsweep-tx-")
        return pathlib.Path(self._dir.name) / "index.hsref"

    def _build(self) -> _native.RefSet:
        # The set's entry ids are positions in self._hashes, so a match leads back to the
        # entries that share that hash.
        listing = self._set_path().with_suffix(".csv")
        with open(listing, "w") as f:
            f.write("pdq,id\n")
            f.writelines(f"{h},{i}\n" for i, h in enumerate(self._hashes))
        built = _native.RefSet.build([str(listing)], str(self._set_path()), algo="pdq")
        listing.unlink()
        return built

    def serialize(self, fout: t.BinaryIO) -> None:
        """Magic, the set file's length and bytes, then the hashes and entries pickled."""
        self._refset()
        path = self._set_path()
        fout.write(_MAGIC)
        fout.write(struct.pack("<Q", path.stat().st_size))
        with open(path, "rb") as f:
            shutil.copyfileobj(f, fout)
        pickle.dump((self._hashes, self._entries), fout, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def deserialize(cls, fin: t.BinaryIO) -> "HashsweepPdqIndex[T]":
        if fin.read(len(_MAGIC)) != _MAGIC:
            raise ValueError("not a serialized hashsweep index")
        (size,) = struct.unpack("<Q", fin.read(8))
        index: HashsweepPdqIndex[T] = cls()
        path = index._set_path()
        with open(path, "wb") as f:
            _copy_exactly(fin, f, size)
        index._set = _native.RefSet.open(str(path))
        index._hashes, index._entries = pickle.load(fin)
        index._position = {h: i for i, h in enumerate(index._hashes)}
        if len(index._set) != len(index._hashes):
            raise ValueError("serialized hashsweep index: the set and its entries disagree")
        return index

    # Pickling an index directly (the base class's default serialize does) keeps the
    # entries; the set is rebuilt on the first query.
    def __getstate__(self) -> t.Tuple[t.List[str], t.List[t.List[T]]]:
        return (self._hashes, self._entries)

    def __setstate__(self, state: t.Tuple[t.List[str], t.List[t.List[T]]]) -> None:
        self.__init__()
        self._hashes, self._entries = state
        self._position = {h: i for i, h in enumerate(self._hashes)}


def _copy_exactly(src: t.BinaryIO, dst: t.BinaryIO, size: int) -> None:
    while size:
        chunk = src.read(min(size, 1 << 20))
        if not chunk:
            raise ValueError("serialized hashsweep index is truncated")
        dst.write(chunk)
        size -= len(chunk)


TX_MANIFEST = ThreatExchangeExtensionManifest(signal_types=(HashsweepPdqSignal,))
