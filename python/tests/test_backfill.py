"""The Ray Data backfill (hashsweep.backfill) in local mode with 2 workers: every file
exactly once in the Parquet output, hashes equal to hash_files', matches equal to the
reference set's own matcher, bad files as error rows, and URLs read like object stores."""

import numpy as np
import pytest

import hashsweep
from conftest import require

FILES = 300
LISTED = 100


@pytest.fixture(scope="module")
def ray():
    ray = require("ray")
    require("pyarrow")
    # Two hashing workers of one CPU each, and one CPU for Ray Data's own read and write
    # tasks: with every CPU held by the workers, reading a listing would wait forever.
    ray.init(num_cpus=3, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """FILES distinct JPEGs in nested folders, one corrupt file, and a reference set
    listing the first LISTED of them by their hashes."""
    from PIL import Image

    root = tmp_path_factory.mktemp("backfill")
    images = root / "images"
    rng = np.random.default_rng(17)
    paths = []
    for i in range(FILES):
        folder = images / f"d{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        # Blocks of random colour, scaled up: distinct images under PDQ.
        small = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
        p = folder / f"img{i:04}.jpg"
        Image.fromarray(small).resize((320, 240), Image.BILINEAR).save(p, quality=90)
        paths.append(str(p))
    corrupt = images / "d0" / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    hashed = hashsweep.hash_files(paths[:LISTED], backend="cpu")
    listing = root / "known.csv"
    listing.write_text(
        "pdq,label\n" + "".join(f"{r['pdq']},known-{i}\n" for i, r in enumerate(hashed))
    )
    refs = root / "known.hsref"
    hashsweep.RefSet.build([listing], refs)
    return root, images, sorted(paths + [str(corrupt)]), refs


def rows_of(output):
    import pyarrow.parquet as pq

    return pq.read_table(output).to_pylist()


def expected_matches(refs, rows):
    """(path, entry id, distance) of every match, by the set's own matcher."""
    s = hashsweep.RefSet.open(refs)
    ok = [r for r in rows if r["status"] == "ok"]
    q, ids, d = s.match([r["pdq"] for r in ok], backend="cpu")
    return {(ok[i]["path"], int(e), int(x)) for i, e, x in zip(q, ids, d)}


def found_matches(rows):
    return {
        (r["path"], int(e), int(x))
        for r in rows
        for e, x in zip(r["match_ids"], r["match_distances"])
    }


def test_backfill_of_a_folder_records_every_file_once_with_its_hashes_and_matches(ray, corpus):
    from hashsweep.backfill import backfill

    root, images, paths, refs = corpus
    out = root / "out-folder"
    written = backfill(
        [str(images)], str(out), refs=str(refs), backend="cpu", batch_size=64, concurrency=2
    )
    rows = rows_of(out)
    assert written == len(rows) == len(paths)
    assert sorted(r["path"] for r in rows) == paths
    by_path = {r["path"]: r for r in rows}
    bad = by_path[str(images / "d0" / "corrupt.jpg")]
    assert bad["status"] == "error" and bad["error"]
    good = [p for p in paths if p != bad["path"]]
    direct = hashsweep.hash_files(good, backend="cpu")
    assert [by_path[p]["pdq"] for p in good] == [r["pdq"] for r in direct]
    matches = found_matches(rows)
    assert matches == expected_matches(refs, rows)
    # Each listed image matches its own entry exactly, and carries the list's label.
    exact = [r for r in rows if 0 in r["match_distances"]]
    assert len(exact) >= 100
    labels = {lab for r in rows for lab in r["match_labels"]}
    assert {f"known-{i}" for i in range(LISTED)} <= labels


def test_backfill_of_a_url_listing_reads_like_an_object_store_and_agrees(ray, corpus):
    from hashsweep.backfill import backfill

    root, images, paths, refs = corpus
    listing = root / "listing.txt"
    urls = ["file://" + p for p in paths[::3]]
    listing.write_text("\n".join(urls) + "\n\n")
    out = root / "out-urls"
    written = backfill(
        listings=[str(listing)], output=str(out), refs=str(refs), backend="cpu", batch_size=32
    )
    rows = rows_of(out)
    assert written == len(urls)
    assert sorted(r["path"] for r in rows) == sorted(urls)
    direct = {r["path"]: r for r in hashsweep.hash_files(paths[::3], backend="cpu")}
    for r in rows:
        want = direct[r["path"][len("file://") :]]
        assert (r["status"], r["pdq"], r["quality"]) == (
            want["status"],
            want.get("pdq"),
            want.get("quality"),
        )
    assert found_matches(rows) == expected_matches(refs, rows)
