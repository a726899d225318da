"""Fixtures for tests/containers.rs: pictures loose, and the same pictures inside every kind
of container hashsweep opens. Writes OUT/loose/ (the pictures), OUT/ev/ (the containers)
and OUT/manifest.json: for each container, the names of the members it holds (directories
apart), as paths relative to OUT/ev with the `!` steps of docs/paths.md.

Usage: make.py OUT"""

import bz2
import gzip
import io
import json
import lzma
import os
import random
import subprocess
import sys
import tarfile
import zipfile

from PIL import Image, ImageDraw

out = sys.argv[1]
loose = os.path.join(out, "loose")
ev = os.path.join(out, "ev")
os.makedirs(loose, exist_ok=True)
os.makedirs(ev, exist_ok=True)
manifest = {}
rng = random.Random(7)


def r(n):
    return rng.randrange(n)


def picture(w, h):
    im = Image.new("RGB", (w, h), (r(256), r(256), r(256)))
    d = ImageDraw.Draw(im)
    for _ in range(40):
        x, y = r(w - 10), r(h - 10)
        d.ellipse([x, y, x + 5 + r(w // 3), y + 5 + r(h // 3)], fill=(r(256), r(256), r(256)))
    return im


pics = {}
for i in range(6):
    p = os.path.join(loose, f"p{i}.jpg")
    picture(320, 240).save(p, quality=90)
    pics[f"p{i}.jpg"] = open(p, "rb").read()
png_path = os.path.join(loose, "q.png")
picture(200, 150).save(png_path)
pics["q.png"] = open(png_path, "rb").read()


def at(name):
    return os.path.join(ev, name)


def zip_of(name, members, method=zipfile.ZIP_DEFLATED, **kw):
    with zipfile.ZipFile(at(name), "w", method, **kw) as z:
        for m, data in members:
            z.writestr(m, data)
    manifest[name] = [m for m, _ in members]


zip_of("deflate.zip", [("x/p0.jpg", pics["p0.jpg"]), ("x/p1.jpg", pics["p1.jpg"]), ("notes.txt", b"hello")])
zip_of("stored.zip", [("p2.jpg", pics["p2.jpg"])], zipfile.ZIP_STORED)
zip_of("bzip2.zip", [("p3.jpg", pics["p3.jpg"])], zipfile.ZIP_BZIP2)
zip_of("lzma.zip", [("p3.jpg", pics["p3.jpg"])], zipfile.ZIP_LZMA)
with zipfile.ZipFile(at("zip64.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    with z.open("p4.jpg", "w", force_zip64=True) as f:
        f.write(pics["p4.jpg"])
manifest["zip64.zip"] = ["p4.jpg"]
# A name with every separator of the path grammar in it.
zip_of("odd names.zip", [("50%: final!#@.jpg", pics["p5.jpg"])])


def tar_bytes(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for m, data in members:
            info = tarfile.TarInfo(m)
            info.size = len(data)
            info.mtime = 1_700_000_000
            t.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link-to-p0")
        link.type = tarfile.SYMTYPE
        link.linkname = "p0.jpg"
        t.addfile(link)
    return b.getvalue()


tar_members = [("p0.jpg", pics["p0.jpg"]), ("sub/p1.jpg", pics["p1.jpg"]), ("q.png", pics["q.png"])]
plain_tar = tar_bytes(tar_members)
names = [m for m, _ in tar_members] + ["link-to-p0"]
for name, data in [
    ("plain.tar", plain_tar),
    ("t.tar.gz", gzip.compress(plain_tar)),
    ("t.tar.bz2", bz2.compress(plain_tar)),
    ("t.tar.xz", lzma.compress(plain_tar)),
]:
    open(at(name), "wb").write(data)
    manifest[name] = names
open(at("t.tar"), "wb").write(plain_tar)
subprocess.run(["zstd", "-q", "-f", at("t.tar"), "-o", at("t.tar.zst")], check=True)
os.remove(at("t.tar"))
manifest["t.tar.zst"] = names

# Single compressed files.
open(at("p5.jpg.gz"), "wb").write(gzip.compress(pics["p5.jpg"]))
open(at("p5.jpg.bz2"), "wb").write(bz2.compress(pics["p5.jpg"]))
open(at("p5.jpg.xz"), "wb").write(lzma.compress(pics["p5.jpg"]))
subprocess.run(["zstd", "-q", "-f", os.path.join(loose, "p5.jpg"), "-o", at("p5.jpg.zst")], check=True)
for s in ["gz", "bz2", "xz", "zst"]:
    manifest[f"p5.jpg.{s}"] = ["p5.jpg"]

# Nested: a ZIP holding a tar.gz holding a ZIP.
deep = io.BytesIO()
with zipfile.ZipFile(deep, "w") as z:
    z.writestr("p0.jpg", pics["p0.jpg"])
mid = io.BytesIO()
with tarfile.open(fileobj=mid, mode="w:gz") as t:
    info = tarfile.TarInfo("deep.zip")
    info.size = len(deep.getvalue())
    t.addfile(info, io.BytesIO(deep.getvalue()))
zip_of("nested.zip", [("inner/t.tar.gz", mid.getvalue()), ("p1.jpg", pics["p1.jpg"])])
manifest["nested.zip!inner/t.tar.gz"] = ["deep.zip"]
manifest["nested.zip!inner/t.tar.gz!deep.zip"] = ["p0.jpg"]

# 7z, plain and encrypted (content only; names too), and an encrypted ZIP.
p = lambda n: os.path.join(loose, n)
subprocess.run(["7zz", "a", "-bd", "-bso0", at("s.7z"), p("p0.jpg"), p("p1.jpg")], check=True)
manifest["s.7z"] = ["p0.jpg", "p1.jpg"]
subprocess.run(["7zz", "a", "-bd", "-bso0", "-pSECRET", at("enc.7z"), p("p2.jpg")], check=True)
manifest["enc.7z"] = ["p2.jpg"]
subprocess.run(["7zz", "a", "-bd", "-bso0", "-pSECRET", "-mhe=on", at("enc-names.7z"), p("p2.jpg")], check=True)
subprocess.run(["7zz", "a", "-bd", "-bso0", "-tzip", "-pSECRET", at("enc.zip"), p("p2.jpg")], check=True)
manifest["enc.zip"] = ["p2.jpg"]
subprocess.run(["7zz", "a", "-bd", "-bso0", "-tzip", "-mm=Deflate64", at("deflate64.zip"), p("p3.jpg")], check=True)
manifest["deflate64.zip"] = ["p3.jpg"]

# Documents. The DOCX is Word's own layout (python-docx); the others hold the parts that
# name their kind and a picture where each format keeps them.
import docx

d = docx.Document()
d.add_paragraph("a picture")
d.add_picture(p("p2.jpg"))
d.save(at("w.docx"))
manifest["w.docx"] = zipfile.ZipFile(at("w.docx")).namelist()
ct = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
zip_of("x.xlsx", [("[Content_Types].xml", ct), ("xl/workbook.xml", b"<workbook/>"), ("xl/media/image1.jpg", pics["p3.jpg"])])
zip_of("p.pptx", [("[Content_Types].xml", ct), ("ppt/presentation.xml", b"<p/>"), ("ppt/media/image1.png", pics["q.png"])])
zip_of("o.odt", [("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<c/>"), ("Pictures/1.jpg", pics["p4.jpg"])], zipfile.ZIP_STORED)
zip_of("e.epub", [("mimetype", b"application/epub+zip"), ("OEBPS/content.opf", b"<package/>"), ("OEBPS/images/c.jpg", pics["p5.jpg"])], zipfile.ZIP_STORED)

# PDFs: img2pdf embeds JPEGs unchanged (DCTDecode); reportlab stores a PNG's pixels as a
# Flate image; and one encrypted.
subprocess.run(["img2pdf", p("p0.jpg"), p("p1.jpg"), "-o", at("img.pdf")], check=True)
manifest["img.pdf"] = ["image-0", "image-1"]
from reportlab.pdfgen import canvas

c = canvas.Canvas(at("flate.pdf"), pageCompression=1)
c.drawImage(png_path, 10, 10, 200, 150)
c.showPage()
c.save()
manifest["flate.pdf"] = ["image-0"]
# A picture drawn only through a form XObject (as page templates and stamps are).
c = canvas.Canvas(at("form.pdf"), pageCompression=1)
c.beginForm("stamp")
c.drawImage(p("p2.jpg"), 0, 0, 120, 90)
c.endForm()
c.doForm("stamp")
c.showPage()
c.save()
manifest["form.pdf"] = ["image-0"]
c = canvas.Canvas(at("enc.pdf"), encrypt="SECRET")
c.drawImage(png_path, 10, 10, 200, 150)
c.showPage()
c.save()

# Thumbnails: one that is its picture made small and letterboxed (as cameras do for wide
# photos), one of another picture.
big = Image.open(p("p0.jpg"))
small = big.resize((160, 120))
box = Image.new("RGB", (160, 160), (0, 0, 0))
box.paste(small, (0, 20))
box.save(os.path.join(out, "t0.jpg"), quality=90)
Image.open(p("p1.jpg")).resize((160, 120)).save(os.path.join(out, "t1.jpg"), quality=90)
for name, thumb in [("thumb.jpg", "t0.jpg"), ("edited.jpg", "t1.jpg")]:
    open(at(name), "wb").write(pics["p0.jpg"])
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-ThumbnailImage<={os.path.join(out, thumb)}", at(name)], check=True)

# A photo damaged after its EXIF block: the picture does not decode, its thumbnail does.
whole = open(at("thumb.jpg"), "rb").read()
at_ = 2
while whole[at_ + 1] in (0xE0, 0xE1):  # JFIF (APP0) and EXIF (APP1) come first
    at_ += 2 + int.from_bytes(whole[at_ + 2 : at_ + 4], "big")
assert at_ > 100, "the EXIF block was not found"
open(at("damaged.jpg"), "wb").write(whole[:at_] + b"\xff\xd9")

# A ZIP whose central directory is gone: salvaged from its local headers.
whole = open(at("deflate.zip"), "rb").read()
open(at("broken.zip"), "wb").write(whole[: whole.find(b"PK\x01\x02")] + b"damage")
manifest["broken.zip"] = manifest["deflate.zip"]

json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1)
