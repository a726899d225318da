"""Reference hashes of HEIC and AVIF files, as Python users compute them.

HEIC goes through pillow-heif (libheif), AVIF through Pillow's own AVIF plugin; the pixels
are then hashed by PyPI `pdqhash` (the reference PDQ core) and `imagehash.phash`, as the
shared test data's references were made. Deeper-than-8-bit greyscale (Pillow mode I;16)
is scaled to 8 bits, as the shared reference does for 16-bit PNG.

Usage: python3 reference.py FILE... ; prints one JSON object per file.
"""

import json
import sys

import imagehash
import numpy as np
import pdqhash
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()


def rgb_of(im):
    if im.mode in ("I;16", "I;16L", "I;16B", "I"):
        grey = np.asarray(im, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8)).convert("RGB")
    return im.convert("RGB")


def hex_of(bits):
    return "".join("%x" % int("".join(str(int(b)) for b in bits[i:i + 4]), 2)
                   for i in range(0, 256, 4))


def main(paths):
    for path in paths:
        row = {"path": path}
        try:
            with Image.open(path) as im:
                im.load()
                rgb = rgb_of(im)
                bits, quality = pdqhash.compute(np.asarray(rgb))
                row.update(width=im.width, height=im.height, mode=im.mode,
                           pdq=hex_of(bits), quality=int(quality),
                           phash=str(imagehash.phash(rgb)))
        except Exception as e:  # a file the reference cannot open is reported, not fatal
            row["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
