"""Backfill on Ray Data: hash every file of a large listing and match it against a
reference set, writing Parquet (one row per file: hashes, status, matches).

The same code runs on a laptop (``ray.init()`` starts a local Ray) and on a cluster
(``RAY_ADDRESS`` or ``--address`` names it; see deploy/ray-backfill.md)::

    python -m hashsweep.backfill /data/photos s3://bucket/uploads/ \\
        --refs known.hsref --output s3://bucket/backfill/2026-11/ --concurrency 8

Inputs are local paths or URLs that pyarrow's filesystems open (``file://``, S3, GCS,
HDFS, ...); folders are listed recursively, and ``--listing`` reads paths one per line from
text files (for listings too large to walk from one machine). Each worker (a Ray actor)
opens the engine and maps the reference set once, then hashes whole batches: plain paths
through ``hash_files`` (read, decoded and hashed on the worker's cores), URLs read through
pyarrow and hashed with ``hash_bytes_batch``. A file that cannot be read or decoded is a
row with status "error" and its reason; the run goes on.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing as t

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from . import _native

# Columns of the output, in order; list columns hold one item per match.
SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("width", pa.uint32()),
        ("height", pa.uint32()),
        ("pdq", pa.string()),
        ("quality", pa.uint8()),
        ("phash", pa.string()),
        ("match_ids", pa.list_(pa.uint64())),
        ("match_distances", pa.list_(pa.uint32())),
        ("match_labels", pa.list_(pa.string())),
    ]
)


def is_local(path: str) -> bool:
    """A plain path, which the engine reads itself; a URL (file:// included) is read
    through pyarrow's filesystems, as an object store is."""
    return "://" not in path


def list_files(inputs: t.Iterable[str]) -> t.List[str]:
    """Every file under the inputs (folders recursively), as given: plain paths stay
    paths, URLs stay URLs. Sorted, so that two runs list the same order."""
    found = []
    for given in inputs:
        fs, root = (
            pafs.FileSystem.from_uri(given)
            if "://" in given
            else (pafs.LocalFileSystem(), os.path.abspath(given))
        )
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{given}: no such file or folder")
        if info.type == pafs.FileType.File:
            found.append(given)
            continue
        prefix = given.split("://", 1)[0] + "://" if "://" in given else ""
        for f in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
            if f.type == pafs.FileType.File:
                found.append(prefix + f.path)
    return sorted(found)


def _threads_as_granted() -> None:
    """Hash with as many threads as Ray granted this worker, not every core of the node:
    the engine's thread pool starts on first use and reads RAYON_NUM_THREADS then."""
    try:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # not inside Ray: the caller's own process, all cores
        return
    if cpus:
        os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, int(cpus))))


class HashAndMatch:
    """A Ray Data batch function (a callable class, so each actor sets up once)."""

    def __init__(
        self,
        refs: t.Optional[str] = None,
        algorithms: t.Sequence[str] = ("pdq",),
        backend: str = "auto",
        max_distance: t.Optional[int] = None,
    ) -> None:
        _threads_as_granted()
        self.algorithms = tuple(algorithms)
        self.backend = backend
        self.max_distance = max_distance
        self.refs = _native.RefSet.open(refs) if refs else None
        if self.refs is not None:
            ids = self.refs.ids()
            self._order = np.argsort(ids)
            self._sorted_ids = ids[self._order]

    def __call__(self, batch: pa.Table) -> pa.Table:
        paths = [str(p) for p in batch.column("path").to_pylist()]
        results = self._hash(paths)
        for p, r in zip(paths, results):
            r["path"] = p
        self._match(results)
        return pa.Table.from_pylist(results, schema=SCHEMA)

    def _hash(self, paths: t.List[str]) -> t.List[dict]:
        results: t.List[t.Optional[dict]] = [None] * len(paths)
        local = [i for i, p in enumerate(paths) if is_local(p)]
        remote = [i for i, p in enumerate(paths) if not is_local(p)]
        if local:
            hashed = _native.hash_files(
                [paths[i] for i in local], self.algorithms, backend=self.backend
            )
            for i, r in zip(local, hashed):
                results[i] = r
        if remote:
            datas, read = [], []
            for i in remote:
                try:
                    fs, key = pafs.FileSystem.from_uri(paths[i])
                    with fs.open_input_stream(key) as f:
                        datas.append(f.read())
                    read.append(i)
                except (OSError, ValueError) as e:
                    results[i] = {"status": "error", "error": f"read: {e}"}
            hashed = _native.hash_bytes_batch(datas, self.algorithms, backend=self.backend)
            for i, r in zip(read, hashed):
                results[i] = r
        return t.cast(t.List[dict], results)

    def _match(self, results: t.List[dict]) -> None:
        for r in results:
            r["match_ids"], r["match_distances"], r["match_labels"] = [], [], []
        if self.refs is None:
            return
        key = self.refs.algorithm
        rows = [i for i, r in enumerate(results) if r.get(key)]
        if not rows:
            return
        queries, ids, distances = self.refs.match(
            [results[i][key] for i in rows], max_distance=self.max_distance, backend=self.backend
        )
        entries = self._order[np.searchsorted(self._sorted_ids, ids)]
        for q, i, d, e in zip(queries.tolist(), ids.tolist(), distances.tolist(), entries.tolist()):
            r = results[rows[q]]
            r["match_ids"].append(i)
            r["match_distances"].append(d)
            r["match_labels"].append("\n".join(self.refs.labels(e)))


def backfill(
    inputs: t.Sequence[str] = (),
    output: str = "backfill",
    *,
    listings: t.Sequence[str] = (),
    refs: t.Optional[str] = None,
    algorithms: t.Sequence[str] = ("pdq",),
    backend: str = "auto",
    max_distance: t.Optional[int] = None,
    batch_size: int = 256,
    concurrency: int = 2,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
) -> int:
    """Hash and match every file; write Parquet under ``output``. Returns the number of
    rows written (one per file). Uses the running Ray, or starts a local one."""
    import ray

    if not ray.is_initialized():
        # RAY_ADDRESS (or ray.init(address=...) before this call) joins a cluster. A local
        # Ray gets a CPU beyond the workers' for Ray Data's read and write tasks: with every
        # CPU held by a hashing worker, reading a listing would wait forever.
        cpus = max(os.cpu_count() or 1, int(concurrency * cpus_per_worker) + 1)
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else cpus, include_dashboard=False)
    parts = []
    if inputs:
        parts.append(ray.data.from_items([{"path": p} for p in list_files(inputs)]))
    for listing in listings:
        lines = ray.data.read_text(listing)
        parts.append(
            lines.flat_map(lambda r: [{"path": r["text"].strip()}] * bool(r["text"].strip()))
        )
    if not parts:
        raise ValueError("nothing to do: give input folders, files or --listing")
    ds = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    hashed = ds.map_batches(
        HashAndMatch,
        fn_constructor_kwargs=dict(
            refs=refs, algorithms=algorithms, backend=backend, max_distance=max_distance
        ),
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker,
    )
    hashed.write_parquet(output)
    return int(ray.data.read_parquet(output).count())


def main(argv: t.Optional[t.Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m hashsweep.backfill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("inputs", nargs="*", help="files, folders or URLs to hash")
    ap.add_argument(
        "--listing", action="append", default=[], help="text file of paths or URLs, one per line"
    )
    ap.add_argument("--output", "-o", required=True, help="folder (or URL) for the Parquet files")
    ap.add_argument("--refs", help="reference set (.hsref) to match against")
    ap.add_argument("--algo", default="pdq", help="pdq, phash or pdq,phash")
    ap.add_argument("--backend", default="auto", choices=["auto", "gpu", "cpu"])
    ap.add_argument("--max-distance", type=int)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=2, help="number of workers")
    ap.add_argument("--cpus-per-worker", type=float, default=1)
    ap.add_argument("--gpus-per-worker", type=float, default=0)
    ap.add_argument(
        "--address", help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray)"
    )
    a = ap.parse_args(argv)
    if a.address:
        import ray

        ray.init(address=a.address)
    rows = backfill(
        a.inputs,
        a.output,
        listings=a.listing,
        refs=a.refs,
        algorithms=a.algo.split(","),
        backend=a.backend,
        max_distance=a.max_distance,
        batch_size=a.batch_size,
        concurrency=a.concurrency,
        cpus_per_worker=a.cpus_per_worker,
        gpus_per_worker=a.gpus_per_worker,
    )
    print(f"hashsweep backfill: {rows} files -> {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
