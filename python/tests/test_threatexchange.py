"""hashsweep.threatexchange against the real python-threatexchange from PyPI: the same
photos hashed and matched through its built-in pdq signal type and through ours give the
same match sets, the index is exact at the threshold, serialisation round-trips, and the
threatexchange command loads the extension."""

import io
import os
import pickle
import random
import subprocess
import sys

import pytest

from conftest import TESTDATA, require, shared_images


@pytest.fixture(scope="module")
def tx():
    require("threatexchange")
    from hashsweep import threatexchange as ours
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return ours, PdqSignal, PDQIndex


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def ordinary_photos():
    """The shared images in the modes python-threatexchange hands pdqhash as they are
    (RGB and greyscale). For palette, CMYK, 1-bit and 16-bit files it passes the raw
    channels (palette indices, inverted CMYK), so its hashes there are not PDQ's."""
    from PIL import Image

    photos = []
    for p in shared_images():
        with Image.open(p) as im:
            if im.mode in ("RGB", "L"):
                photos.append(p)
    return photos


def matches(index, query):
    return {(m.metadata, m.similarity_info.distance) for m in index.query(query)}


def test_hashes_agree_with_the_builtin_pdq_within_the_reference_tolerance(tx):
    ours, PdqSignal, _ = tx
    photos = ordinary_photos()
    assert len(photos) >= 40
    theirs = [PdqSignal.hash_from_file(p) for p in photos]
    mine = ours.HashsweepPdqSignal.hash_from_files(photos)
    both = [(a, b) for a, b in zip(theirs, mine) if a and b]
    # The quality floor (50) rejects the same photos.
    assert [bool(a) for a in theirs] == [bool(b) for b in mine]
    d = [distance(a, b) for a, b in both]
    print(f"{len(d)} photos: max {max(d)} bits, mean {sum(d) / len(d):.3f}")
    assert max(d) <= 10 and sum(d) / len(d) <= 1.0


def test_match_sets_equal_the_builtin_pdqs_on_the_same_photos(tx):
    ours, PdqSignal, PDQIndex = tx
    photos = ordinary_photos()
    theirs = [PdqSignal.hash_from_file(p) for p in photos]
    mine = ours.HashsweepPdqSignal.hash_from_files(photos)
    # The list holds every other photo, hashed the way the exchanges hash.
    listed = [(theirs[i], photos[i].name) for i in range(0, len(photos), 2) if theirs[i]]
    builtin = PDQIndex.build(listed)
    index = ours.HashsweepPdqIndex.build(listed)
    found_builtin = {
        (p.name, m) for p, h in zip(photos, theirs) if h for m, _ in matches(builtin, h)
    }
    found_ours = {(p.name, m) for p, h in zip(photos, mine) if h for m, _ in matches(index, h)}
    assert found_builtin, "the listed photos match themselves"
    assert found_ours == found_builtin


def test_index_is_exact_at_the_threshold_and_shares_entries_of_one_hash(tx):
    ours, _, PDQIndex = tx
    rng = random.Random(7)
    refs = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    entries = [(h, f"entry{i}") for i, h in enumerate(refs)]
    entries.append((refs[0], "same hash, second entry"))
    queries = []
    for i, h in enumerate(refs[:60]):
        # Distances 27..35 around the threshold of 31, inclusive.
        bits = rng.sample(range(256), 27 + i % 9)
        queries.append(f"{int(h, 16) ^ sum(1 << b for b in bits):064x}")
    builtin = PDQIndex.build(entries)
    index = ours.HashsweepPdqIndex.build(entries)
    assert len(index) == len(entries)
    for q in queries:
        assert matches(index, q) == matches(builtin, q)
    assert {m for m, _ in matches(index, refs[0])} == {"entry0", "same hash, second entry"}
    batch = index.query_many(queries)
    assert [{(m.metadata, m.similarity_info.distance) for m in b} for b in batch] == [
        matches(index, q) for q in queries
    ]


def test_index_serialisation_round_trips(tx):
    ours, _, _ = tx
    rng = random.Random(11)
    refs = [f"{rng.getrandbits(256):064x}" for _ in range(200)]
    index = ours.HashsweepPdqIndex.build((h, {"id": i}) for i, h in enumerate(refs))
    queries = refs[::7] + [f"{rng.getrandbits(256):064x}"]
    buf = io.BytesIO()
    index.serialize(buf)
    buf.seek(0)
    back = ours.HashsweepPdqIndex.deserialize(buf)
    assert len(back) == len(index)
    for q in queries:
        assert [(m.metadata, m.similarity_info.distance) for m in back.query(q)] == [
            (m.metadata, m.similarity_info.distance) for m in index.query(q)
        ]
    # Still an index after the trip: entries can be added and found.
    extra = f"{rng.getrandbits(256):064x}"
    back.add(extra, {"id": "new"})
    assert {"id": "new"} in [m.metadata for m in back.query(extra)]
    # Plain pickling (what the base class's serialize does) keeps the entries too.
    again = pickle.loads(pickle.dumps(index))
    assert matches_list(again, refs[3]) == matches_list(index, refs[3])
    with pytest.raises(ValueError, match="not a serialized hashsweep index"):
        ours.HashsweepPdqIndex.deserialize(io.BytesIO(b"garbage!" * 4))
    whole = buf.getvalue()
    with pytest.raises(ValueError, match="truncated"):
        ours.HashsweepPdqIndex.deserialize(io.BytesIO(whole[:100]))


def matches_list(index, q):
    return [(str(m.metadata), m.similarity_info.distance) for m in index.query(q)]


def test_the_threatexchange_command_loads_and_matches_with_the_extension(tx, tmp_path):
    _, PdqSignal, _ = tx
    photo = TESTDATA / "misc-images" / "wee.jpg"
    if not photo.is_file():
        shared_images()
        pytest.fail(f"{photo} is missing from the shared test data")
    env = dict(os.environ, TX_STATEDIR=str(tmp_path / "state"), HASHSWEEP_BACKEND="cpu")

    def tx_cli(*args):
        r = subprocess.run(
            [sys.executable, "-m", "threatexchange", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert "hashsweep_pdq" in tx_cli("config", "extensions", "add", "hashsweep.threatexchange")
    kind, value = tx_cli("hash", "--signal-type", "hashsweep_pdq", "photo", str(photo)).split()
    assert kind == "hashsweep_pdq"
    assert distance(value, PdqSignal.hash_from_file(photo)) <= 10
    # The sample exchange lists PDQ examples; ours lists the same, so this photo (one of
    # them) matches under both signal types.
    tx_cli("fetch")
    out = tx_cli("match", "photo", str(photo))
    kinds = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"pdq", "hashsweep_pdq"} <= kinds, out
