"""Decompression bombs for tests/containers.rs, written in bounded memory:
- zeros.gz: 2 GiB of zeros in one gzip stream (no size declared anywhere);
- zeros.zip: one member of 2 GiB of zeros (its size declared in the headers);
- nest.zip: 42.zip's shape: 16 ZIPs in a ZIP, four levels, each leaf 256 MiB of zeros.

Usage: bombs.py OUT"""

import io
import os
import sys
import zipfile
import zlib

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
MiB = 1 << 20
chunk = bytes(MiB)

# The same 1 MiB of zeros deflates to the same bytes every time: compress it once and
# repeat (a raw deflate stream may be cut after any sync-flushed block).
c = zlib.compressobj(9, zlib.DEFLATED, -15)
block = c.compress(chunk) + c.flush(zlib.Z_SYNC_FLUSH)
tail = c.flush()


def raw_deflate(mib, f):
    for _ in range(mib):
        f.write(block)
    f.write(tail)


with open(os.path.join(out, "zeros.gz"), "wb") as f:
    # gzip header, raw deflate, CRC32 and size of 2 GiB of zeros.
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
    raw_deflate(2048, f)
    crc = 0
    for _ in range(2048):
        crc = zlib.crc32(chunk, crc)
    f.write(crc.to_bytes(4, "little") + (0).to_bytes(4, "little"))


def zip_of_zeros(mib):
    """A ZIP with one member `zeros` of `mib` MiB of zeros, written by zipfile."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        with z.open("zeros", "w", force_zip64=True) as f:
            for _ in range(mib):
                f.write(chunk)
    return b.getvalue()


open(os.path.join(out, "zeros.zip"), "wb").write(zip_of_zeros(2048))
level = zip_of_zeros(256)
for depth in range(4):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(16):
            z.writestr(f"{i:x}.zip", level)
    level = b.getvalue()
open(os.path.join(out, "nest.zip"), "wb").write(level)
