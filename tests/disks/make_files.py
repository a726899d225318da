"""The files put into the test disk images: JPEGs of 50-90 KB (larger than an EWF chunk, so
a damaged chunk touches few files), a PNG with a long name, text, a ZIP holding a JPEG."""
import os
import random
import sys
import zipfile

from PIL import Image

out = sys.argv[1]
random.seed(1)
os.makedirs(f"{out}/DCIM/sub", exist_ok=True)
os.makedirs(f"{out}/docs", exist_ok=True)
for i in range(6):
    w, h = 320 + i * 40, 240 + i * 30
    im = Image.effect_mandelbrot((w, h), (-2 + i * 0.1, -1.2, 1, 1.2), 60 + i * 10).convert("RGB")
    px = im.load()
    for _ in range(3000):
        x, y = random.randrange(w), random.randrange(h)
        px[x, y] = (random.randrange(256),) * 3
    d = f"{out}/DCIM" if i < 3 else f"{out}/DCIM/sub"
    im.save(f"{d}/IMG_{i:04d}.jpg", quality=95)
Image.effect_mandelbrot((200, 150), (-1, -1, 1, 1), 40).convert("RGB").save(f"{out}/docs/a long name.png")
with open(f"{out}/docs/notes.txt", "w") as f:
    f.write("hello\n" * 100)
with zipfile.ZipFile(f"{out}/docs/pics.zip", "w") as z:
    z.write(f"{out}/DCIM/IMG_0000.jpg", "in/IMG_0000.jpg")
