"""The Python package against the command line: same hashes, same matches, errors as
exceptions, and the GIL released while the engine works."""

import json
import subprocess
import threading

import numpy as np
import pytest

import hashsweep
from conftest import BIN, shared_images


def test_hashes_equal_the_binarys_on_the_shared_images():
    images = shared_images()
    assert images
    out = subprocess.run(
        [BIN, "hash", "--format", "jsonl", "--algo", "pdq,phash", "--backend", "cpu", *map(str, images)],
        check=True, capture_output=True, text=True,
    ).stdout
    want = {r["path"]: r for r in map(json.loads, out.splitlines())}
    got = hashsweep.hash_files([str(p) for p in images], algorithms=("pdq", "phash"), backend="cpu")
    assert len(got) == len(images)
    for r in got:
        w = want[r["path"]]
        assert (r["status"], r.get("pdq"), r.get("quality"), r.get("phash")) == (
            w["status"], w.get("pdq"), w.get("quality"), w.get("phash")), r["path"]


def test_bytes_and_arrays_hash_like_files(tmp_path):
    rng = np.random.default_rng(3)
    pixels = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    png = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(pixels).save(png)
    from_file = hashsweep.hash_files([png], backend="cpu")[0]
    from_bytes = hashsweep.hash_bytes(png.read_bytes(), backend="cpu")
    from_array = hashsweep.hash_array(pixels, backend="cpu", dihedral=True)
    assert from_file["pdq"] == from_bytes["pdq"] == from_array["pdq"]
    assert len(from_array["dihedral"]) == 7


def test_bad_inputs_raise_clear_exceptions(tmp_path):
    with pytest.raises(ValueError, match="unrecognised image format"):
        hashsweep.hash_bytes(b"not an image at all", backend="cpu")
    with pytest.raises(OSError, match="nope.hsref"):
        hashsweep.RefSet.open(tmp_path / "nope.hsref")
    with pytest.raises(ValueError, match="backend"):
        hashsweep.hash_files([], backend="tpu")
    with pytest.raises(ValueError, match="shape"):
        hashsweep.hash_array(np.zeros((4, 4, 4), np.uint8), backend="cpu")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 junk")
    r = hashsweep.hash_files([broken], backend="cpu")[0]
    assert r["status"] == "error" and r["error"]


def test_matching_returns_arrays_equal_for_hex_and_bytes(tmp_path):
    rng = np.random.default_rng(5)
    refs = rng.integers(0, 256, size=(500, 32), dtype=np.uint8)
    listing = tmp_path / "refs.txt"
    listing.write_text("".join(f"{bytes(r).hex()} entry{i}\n" for i, r in enumerate(refs)))
    s = hashsweep.RefSet.build([listing], tmp_path / "refs.hsref")
    assert (len(s), s.algorithm) == (500, "pdq")
    queries = refs[[7, 42]].copy()
    queries[0, 0] ^= 0b1011  # 3 bits from entry 7
    q1, ids1, d1 = s.match([bytes(r).hex() for r in queries], max_distance=10, backend="cpu")
    q2, ids2, d2 = s.match(queries, max_distance=10, backend="cpu")
    assert q1.dtype == np.uint32 and ids1.dtype == np.uint64
    assert list(q1) == list(q2) == [0, 1]
    assert list(d1) == list(d2) == [3, 0]
    assert list(ids1) == list(ids2)
    index = {int(i): n for n, i in enumerate(s.ids())}
    assert s.labels(index[int(ids1[0])]) == ["entry7"]


def test_match_through_the_index_equals_the_sweep(tmp_path):
    rng = np.random.default_rng(3)
    refs = rng.integers(0, 256, size=(300_000, 32), dtype=np.uint8)
    listing = tmp_path / "big.txt"
    listing.write_text("".join(f"{h}\n" for h in map(bytes.hex, map(bytes, refs))))
    s = hashsweep.RefSet.build([listing], tmp_path / "big.hsref")
    queries = refs[rng.integers(0, len(refs), size=200)].copy()
    queries[:, :2] ^= rng.integers(0, 256, size=(200, 2), dtype=np.uint8)  # 0-16 bits away
    flat = s.match(queries, backend="cpu", index="flat")
    mih = s.match(queries, backend="cpu", index="mih")
    assert len(flat[0]) >= 200
    for a, b in zip(flat, mih):
        assert list(a) == list(b)
    small = tmp_path / "small.txt"
    small.write_text("".join(f"{bytes(r).hex()}\n" for r in refs[:100]))
    plain = hashsweep.RefSet.build([small], tmp_path / "small.hsref")
    with pytest.raises(ValueError, match="has no index"):
        plain.match(queries[:1], index="mih")
    with pytest.raises(ValueError, match="expected auto, mih or flat"):
        s.match(queries[:1], index="fast")


def test_large_batches_do_not_hold_the_gil(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(9)
    paths = []
    for i in range(60):
        p = tmp_path / f"{i}.png"
        Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8)).save(p)
        paths.append(p)
    started, done = threading.Event(), threading.Event()
    results = []

    def work():
        started.set()
        results.extend(hashsweep.hash_files(paths, algorithms=("pdq", "phash"), backend="cpu"))
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    t.join()
    assert len(results) == 60 and all(r["status"] == "ok" for r in results)
    # With the GIL held for the whole batch this loop could not run while it worked.
    assert ticks > 10_000, ticks


def test_a_list_of_several_kinds_is_refused_before_anything_is_written(tmp_path):
    from conftest import ROOT

    ncmec = ROOT / "docs" / "examples" / "ncmec.xml"
    out = tmp_path / "ncmec.hsref"
    with pytest.raises(ValueError, match="several kinds"):
        hashsweep.RefSet.build([str(ncmec)], str(out))
    assert list(tmp_path.iterdir()) == []
    s = hashsweep.RefSet.build([str(ncmec)], str(out), algo="pdq")
    assert (len(s), s.algorithm) == (4, "pdq")
