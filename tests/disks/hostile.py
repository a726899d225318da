"""Hostile disk images from the clean ones of make.sh (run in the same folder):
  fat-hostile.img   fat16.img with a cluster chain that loops (DCIM/IMG_0001.jpg), a first
                    cluster outside the volume (DCIM/IMG_0000.jpg), an absurd size
                    (DCIM/IMG_0002.jpg) and a directory that is its own ancestor (DCIM/sub)
  ext-hostile.img   ext4.img with an absurd size (DCIM/IMG_0000.jpg), an extent outside the
                    volume (DCIM/IMG_0001.jpg) and a directory linked under itself
                    (DCIM/sub/loop -> DCIM)
  ntfs-hostile.img  ntfs.img (tests/fixtures) with a data run outside the volume
                    (DCIM/pic0.png) and a folder loop (DCIM/sub's parent made itself)
  cut/gpt.E01, cut/gpt.E02   gpt.E01 with its second segment cut in half
Entries are found by The Sleuth Kit's numbers (fls), as the tests compare with them."""
import os
import shutil
import struct
import subprocess


def fls_numbers(img):
    out = subprocess.run(["fls", "-r", "-p", img], check=True, capture_output=True, text=True).stdout
    nums = {}
    for line in out.splitlines():
        kind, rest = line.split(" ", 1)
        num, path = rest.split(":\t", 1)
        nums[path] = int(num.strip("* ").split("-")[0])
    return nums


def fat16_hostile():
    shutil.copy("fat16.img", "fat-hostile.img")
    nums = fls_numbers("fat-hostile.img")
    with open("fat-hostile.img", "r+b") as f:
        boot = f.read(512)
        bps, = struct.unpack_from("<H", boot, 11)
        reserved, = struct.unpack_from("<H", boot, 14)
        nfats = boot[16]
        fatsz, = struct.unpack_from("<H", boot, 22)
        first = reserved + nfats * fatsz

        def entry(num):
            per = bps // 32
            return (first + (num - 3) // per) * bps + ((num - 3) % per) * 32

        def read_entry(num):
            f.seek(entry(num))
            return bytearray(f.read(32))

        def write_entry(num, e):
            f.seek(entry(num))
            f.write(e)

        def set_fat(cluster, value):
            for k in range(nfats):
                f.seek((reserved + k * fatsz) * bps + cluster * 2)
                f.write(struct.pack("<H", value))

        loop = read_entry(nums["DCIM/IMG_0001.jpg"])
        c, = struct.unpack_from("<H", loop, 26)
        set_fat(c, c)
        e = read_entry(nums["DCIM/IMG_0000.jpg"])
        struct.pack_into("<H", e, 26, 0xFFF0)
        write_entry(nums["DCIM/IMG_0000.jpg"], e)
        e = read_entry(nums["DCIM/IMG_0002.jpg"])
        struct.pack_into("<I", e, 28, 0xFFFFFFFF)
        write_entry(nums["DCIM/IMG_0002.jpg"], e)
        dcim = read_entry(nums["DCIM"])
        e = read_entry(nums["DCIM/sub"])
        e[26:28] = dcim[26:28]
        write_entry(nums["DCIM/sub"], e)


def ext_hostile():
    shutil.copy("ext4.img", "ext-hostile.img")
    nums = fls_numbers("ext-hostile.img")
    cmds = [
        f"sif <{nums['DCIM/IMG_0000.jpg']}> size 0x4000000000000",
        f"sif <{nums['DCIM/IMG_0001.jpg']}> block[5] 0x7ffffff0",
        "link /DCIM /DCIM/sub/loop",
    ]
    for c in cmds:
        subprocess.run(["debugfs", "-w", "-R", c, "ext-hostile.img"], check=True, capture_output=True)


def cut_e01():
    os.makedirs("cut", exist_ok=True)
    shutil.copy("gpt.E01", "cut/gpt.E01")
    data = open("gpt.E02", "rb").read()
    open("cut/gpt.E02", "wb").write(data[: len(data) // 2])


def ntfs_hostile():
    shutil.copy("ntfs.img", "ntfs-hostile.img")
    nums = fls_numbers("ntfs-hostile.img")
    with open("ntfs-hostile.img", "r+b") as f:
        boot = f.read(512)
        bps, = struct.unpack_from("<H", boot, 11)
        cluster = bps * boot[13]
        mft, = struct.unpack_from("<Q", boot, 48)
        size = 1 << -struct.unpack_from("<b", boot, 64)[0]

        def attribute(num, kind):
            at = mft * cluster + num * size
            f.seek(at)
            rec = f.read(size)
            a, = struct.unpack_from("<H", rec, 20)
            while True:
                t, length = struct.unpack_from("<II", rec, a)
                if t == kind:
                    return at + a, rec[a:a + length]
                a += length

        # The first run of pic0.png's data: its cluster offset made huge.
        at, attr = attribute(nums["DCIM/pic0.png"], 0x80)
        runs, = struct.unpack_from("<H", attr, 32)
        head = attr[runs]
        length_size, offset_size = head & 0xF, head >> 4
        f.seek(at + runs + 1 + length_size + offset_size - 1)
        f.write(b"\x7f")
        # DCIM/sub's $FILE_NAME parent: itself, so the folders above its files loop.
        at, attr = attribute(nums["DCIM/sub"], 0x30)
        value, = struct.unpack_from("<H", attr, 20)
        f.seek(at + value)
        f.write(struct.pack("<Q", nums["DCIM/sub"] | (1 << 48)))


fat16_hostile()
ext_hostile()
ntfs_hostile()
cut_e01()
