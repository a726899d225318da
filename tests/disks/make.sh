#!/bin/bash
# Disk images for tests/disks.rs, made from pictures written by make_files.py:
#   fat12.img fat16.img fat32.img ext2.img ext4.img   filesystems with no table
#   fdel.img fdel2.img   fat16.img with files deleted (fdel2: one's clusters taken since)
#   mbr.dd    FAT16 primary, then an extended partition holding ext4 and FAT32 logicals
#   gpt.dd    FAT32 and ext4 in a GPT, plus an empty partition (no filesystem)
#   mbr.E01   mbr.dd as EWF, uncompressed;  gpt.E01..E0n   gpt.dd as EWF, deflated, in segments
#   gpt.dd.001, .002, ...   gpt.dd split
# Needs dosfstools, mtools, e2fsprogs, fdisk (sfdisk), ewf-tools; `.ci/run` installs them.
set -euo pipefail
out=$1
cd "$out"
python3 "$(dirname "$0")/make_files.py" files

# Filesystems with no table.
mkfs.fat -F 12 -C fat12.img 4096 >/dev/null
mcopy -s -i fat12.img files/docs ::/
mkfs.fat -F 16 -C fat16.img 32768 >/dev/null
mcopy -s -i fat16.img files/* ::/
mkfs.fat -F 32 -s 1 -C fat32.img 40000 >/dev/null
mcopy -s -i fat32.img files/* ::/
mke2fs -q -F -t ext4 -d files ext4.img 32M
mke2fs -q -F -t ext2 -b 1024 -d files ext2.img 32M

# Deleted files on FAT16: two intact (one with a long name), and one whose clusters a
# later file took.
cp fat16.img fdel.img
mdel -i fdel.img "::/DCIM/IMG_0001.jpg" "::/docs/a long name.png"
cp fat16.img fdel2.img
mdel -i fdel2.img "::/DCIM/sub/IMG_0003.jpg"
mcopy -i fdel2.img files/DCIM/IMG_0000.jpg ::/new.jpg

# An MBR disk: FAT16 primary at 1 MiB, an extended partition with two logicals.
truncate -s 140M mbr.dd
sfdisk -q mbr.dd <<'T'
label: dos
start=2048, size=65536, type=6
start=69632, type=5
start=71680, size=65536, type=83
start=139264, size=81920, type=c
T
dd if=fat16.img of=mbr.dd bs=512 seek=2048 conv=notrunc status=none
dd if=ext4.img of=mbr.dd bs=512 seek=71680 conv=notrunc status=none
dd if=fat32.img of=mbr.dd bs=512 seek=139264 conv=notrunc status=none

# A GPT disk: FAT32, ext4, and a partition holding no filesystem.
truncate -s 110M gpt.dd
sfdisk -q gpt.dd <<'T'
label: gpt
start=2048, size=81920, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
start=83968, size=65536, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
start=149504, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
T
dd if=fat32.img of=gpt.dd bs=512 seek=2048 conv=notrunc status=none
dd if=ext4.img of=gpt.dd bs=512 seek=83968 conv=notrunc status=none

# EWF: one with data chunks stored as they are (empty ones deflated), one deflated in
# segments of 1 MiB (the smallest ewfacquire writes).
ewfacquire -q -u -c empty-block -f encase6 -S 200MiB -t mbr mbr.dd >/dev/null
ewfacquire -q -u -c best -f encase6 -S 1MiB -t gpt gpt.dd >/dev/null
split -b 40M -d -a 3 --numeric-suffixes=1 gpt.dd gpt.dd.
ls
