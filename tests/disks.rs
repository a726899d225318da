//! Disk images swept directly: raw (whole and split) and EWF images, MBR (with logical
//! partitions) and GPT volumes, FAT12/16/32 and ext2/4 filesystems, made by
//! `tests/disks/make.sh` and compared with The Sleuth Kit (`fls -r -p` lists, `icat`
//! reads). Damaged chunks warn on their files, hostile images end in error records with the
//! rest swept, and a killed sweep resumes with every file recorded once.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{bin, files, records, scratch, skip};
use serde_json::Value;

/// The makers and The Sleuth Kit: `.ci/run` installs them.
fn have_tools() -> bool {
    let runs = |p: &str, a: &[&str]| {
        Command::new(p)
            .args(a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let ok = runs("python3", &["-c", "import PIL"])
        && [
            "mkfs.fat",
            "mcopy",
            "mke2fs",
            "debugfs",
            "sfdisk",
            "ewfacquire",
            "fls",
            "icat",
        ]
        .iter()
        .all(|t| runs(t, &["-V"]));
    if !ok {
        skip(
            "python3 with Pillow, dosfstools, mtools, e2fsprogs, sfdisk, ewf-tools or sleuthkit is missing",
        );
    }
    ok
}

/// The images, made once per test process (`make.sh`, then `hostile.py`).
fn fixtures() -> Option<&'static PathBuf> {
    static MADE: OnceLock<Option<PathBuf>> = OnceLock::new();
    MADE.get_or_init(|| {
        if !have_tools() {
            return None;
        }
        let dir = scratch("disks").keep();
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/disks");
        let st = Command::new("bash")
            .arg(here.join("make.sh"))
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "make.sh failed");
        // exFAT, and NTFS's streams, compression and deletions, can only be made through a
        // mount: these are made once (tests/fixtures/README.md).
        for name in ["exfat.img", "ntfs.img"] {
            let gz =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.gz"));
            let mut img = vec![];
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(gz).unwrap()),
                &mut img,
            )
            .unwrap();
            std::fs::write(dir.join(name), img).unwrap();
        }
        let st = Command::new("python3")
            .arg(here.join("hostile.py"))
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "hostile.py failed");
        Some(dir)
    })
    .as_ref()
}

/// `scan` with MD5 on the CPU: records and exit code.
fn scan(out: &Path, inputs: &[&Path], extra: &[&str]) -> (Vec<Value>, i32) {
    let o = bin()
        .args([
            "scan",
            "--backend",
            "cpu",
            "--quiet",
            "--digest",
            "md5",
            "--force",
        ])
        .arg("-o")
        .arg(out)
        .args(inputs)
        .args(extra)
        .output()
        .unwrap();
    let code = o.status.code().unwrap();
    assert!(code <= 1, "{}", String::from_utf8_lossy(&o.stderr));
    (records(out), code)
}

fn by_path(recs: &[Value]) -> HashMap<String, Value> {
    files(recs)
        .into_iter()
        .map(|r| (r["path"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// `fls -r -p`'s allocated regular files of the volume at `sector`: path -> its address
/// (the entry number, and for NTFS `-type-id` after it: `icat` takes the whole address).
/// Directories (`d/d`), The Sleuth Kit's virtual files (`v/v` `$MBR`, `$FAT1`, ...;
/// `V/V $OrphanFiles`), exFAT's `$ALLOC_BITMAP` and `$UPCASE_TABLE` (metadata, not files)
/// and deleted names (`*`) are aside.
fn fls(img: &Path, sector: u64) -> BTreeMap<String, String> {
    let o = Command::new("fls")
        .args(["-r", "-p", "-o", &sector.to_string()])
        .arg(img)
        .output()
        .unwrap();
    assert!(o.status.success(), "fls {}", img.display());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let (kind, rest) = l.split_once(' ')?;
            let (num, path) = rest.split_once(":\t")?;
            let meta = path.starts_with('$');
            (kind == "r/r" && !num.contains('*') && !meta)
                .then(|| (format!("/{path}"), num.trim().parse().unwrap()))
        })
        .collect()
}

fn icat_md5(img: &Path, sector: u64, address: &str) -> String {
    use md5::Digest;
    let o = Command::new("icat")
        .args(["-o", &sector.to_string()])
        .arg(img)
        .arg(address)
        .output()
        .unwrap();
    assert!(o.status.success());
    md5::Md5::digest(&o.stdout)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The records of one volume's files: path in the volume -> record.
fn volume_files<'a>(
    recs: &'a HashMap<String, Value>,
    img: &Path,
    index: u64,
) -> BTreeMap<String, &'a Value> {
    let prefix = format!("{}#p{index}/", img.display());
    recs.iter()
        .filter_map(|(p, r)| {
            let rest = p.strip_prefix(&prefix)?;
            if rest.starts_with("$deleted/") {
                return None;
            }
            // A file's own record, or one of its NTFS streams (`path:name`).
            let own = r["depth"] == 1 || (r["depth"] == 2 && rest.contains(':'));
            own.then(|| (format!("/{rest}"), r))
        })
        .collect()
}

/// The volume records of an image: index -> record.
fn volumes(recs: &HashMap<String, Value>, img: &Path) -> BTreeMap<u64, Value> {
    let prefix = format!("{}#p", img.display());
    recs.iter()
        .filter_map(|(p, r)| {
            let n = p.strip_prefix(&prefix)?.parse().ok()?;
            Some((n, r.clone()))
        })
        .collect()
}

#[test]
fn allocated_files_are_those_fls_lists_with_icats_bytes() {
    let Some(dir) = fixtures() else { return };
    let all = [
        "fat12.img",
        "fat16.img",
        "fat32.img",
        "exfat.img",
        "ext2.img",
        "ext4.img",
        "mbr.dd",
        "gpt.dd",
    ];
    for name in all {
        let img = dir.join(name);
        let out = dir.join(format!("{name}.jsonl"));
        let (recs, _) = scan(&out, &[&img], &[]);
        let recs = by_path(&recs);
        let vols = volumes(&recs, &img);
        assert!(!vols.is_empty(), "{name}: no volume records");
        for (index, v) in vols.iter().filter(|(_, v)| v["status"] == "opened") {
            let sector = v["volume"]["offset"].as_u64().unwrap() / 512;
            let want = fls(&img, sector);
            let got = volume_files(&recs, &img, *index);
            let listed: BTreeSet<&String> = got.keys().collect();
            assert_eq!(listed, want.keys().collect(), "{name} #p{index}");
            for (path, address) in &want {
                let r = got[path];
                let inode: u64 = address.split('-').next().unwrap().parse().unwrap();
                assert_eq!(r["fs"]["inode"].as_u64(), Some(inode), "{name} {path}");
                assert_eq!(r["md5"], icat_md5(&img, sector, address), "{name} {path}");
                assert!(r["fs"]["modified"].is_number(), "{name} {path}: {r}");
                assert_eq!(r["fs"]["volume_offset"], v["volume"]["offset"]);
                let fat = r["fs"]["filesystem"].as_str().unwrap().starts_with("fat");
                assert_eq!(r["fs"]["time_zone"].is_string(), fat, "{r}");
            }
            // The pictures are hashed (FAT12 holds only the documents, exFAT and NTFS their
            // own).
            if !["fat12.img", "exfat.img", "ntfs.img"].contains(&name) {
                let jpg = &got["/DCIM/IMG_0000.jpg"];
                assert_eq!(jpg["status"], "ok", "{jpg}");
                assert!(jpg["pdq"].is_string());
            }
        }
    }
}

/// The same disk as raw, split raw and EWF in segments gives the same records, and the
/// later segments are named as such, not swept on their own.
#[test]
fn ewf_and_split_images_read_as_the_raw_disk_they_hold() {
    let Some(dir) = fixtures() else { return };
    let raw = dir.join("gpt.dd");
    let (recs, _) = scan(&dir.join("raw.jsonl"), &[&raw], &[]);
    let want: BTreeMap<String, (Value, Value)> = files(&recs)
        .iter()
        .filter_map(|r| {
            let p = r["path"]
                .as_str()?
                .strip_prefix(&raw.display().to_string())?;
            Some((p.to_string(), (r["md5"].clone(), r["pdq"].clone())))
        })
        .collect();
    assert!(want.len() > 20, "{want:?}");
    for (sub, first, later) in [
        ("ewf", "gpt.E01", vec!["gpt.E02"]),
        ("split", "gpt.dd.001", vec!["gpt.dd.002", "gpt.dd.003"]),
    ] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        for f in std::iter::once(&first).chain(&later) {
            let _ = std::fs::hard_link(dir.join(f), d.join(f));
        }
        let (recs, _) = scan(&dir.join(format!("{sub}.jsonl")), &[&d], &[]);
        let img = d.join(first);
        let got: BTreeMap<String, (Value, Value)> = files(&recs)
            .iter()
            .filter_map(|r| {
                let p = r["path"]
                    .as_str()?
                    .strip_prefix(&img.display().to_string())?;
                Some((p.to_string(), (r["md5"].clone(), r["pdq"].clone())))
            })
            .collect();
        assert_eq!(got, want, "{sub}");
        let recs = by_path(&recs);
        let me = &recs[&img.display().to_string()];
        assert_eq!(me["status"], "opened", "{me}");
        assert_eq!(
            me["format"],
            if sub == "ewf" { "e01" } else { "raw (split)" }
        );
        for l in later {
            let r = &recs[&d.join(l).display().to_string()];
            assert_eq!(r["status"], "skipped", "{r}");
            assert!(
                r["reason"].as_str().unwrap().contains("later segment"),
                "{r}"
            );
        }
    }
}

/// Each volume has a record saying what it holds, also when its filesystem is not read;
/// logical partitions follow the primary ones; containers inside volumes are opened.
#[test]
fn every_volume_has_a_record_and_containers_inside_are_opened() {
    let Some(dir) = fixtures() else { return };
    let gpt = dir.join("gpt.dd");
    let (recs, code) = scan(&dir.join("vols.jsonl"), &[&gpt, &dir.join("mbr.dd")], &[]);
    assert_eq!(code, 1, "a volume that is not swept makes the run partial");
    let recs = by_path(&recs);
    let v = volumes(&recs, &gpt);
    let kinds: Vec<(u64, &str, &str)> = v
        .iter()
        .map(|(i, r)| {
            (
                *i,
                r["format"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (1, "fat32", "opened"),
            (2, "ext4", "opened"),
            (3, "gpt 0FC63DAF-8483-4772-8E79-3D69D8477DE4", "error")
        ]
    );
    assert!(
        v[&3]["reason"]
            .as_str()
            .unwrap()
            .contains("no filesystem recognised")
    );
    let mbr = volumes(&recs, &dir.join("mbr.dd"));
    let kinds: Vec<(&str, &str)> = mbr
        .values()
        .map(|r| {
            (
                r["format"].as_str().unwrap(),
                r["volume"]["table"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("fat16", "mbr 0x06"),
            ("ext4", "mbr 0x83 (logical)"),
            ("fat32", "mbr 0x0c (logical)")
        ]
    );
    let inner = format!("{}#p1/docs/pics.zip!in/IMG_0000.jpg", gpt.display());
    let loose = format!("{}#p1/DCIM/IMG_0000.jpg", gpt.display());
    assert_eq!(recs[&inner]["status"], "ok");
    assert_eq!(recs[&inner]["pdq"], recs[&loose]["pdq"]);
    assert_eq!(recs[&inner]["depth"], 2);
    let image = &recs[&gpt.display().to_string()];
    assert_eq!(image["status"], "opened");
    assert_eq!(
        image["contents"]["entries"].as_u64(),
        Some(v.len() as u64 + 2 * 9),
        "{image}"
    );
}

#[test]
fn verify_image_reads_an_ewf_back_against_its_stored_hashes() {
    let Some(dir) = fixtures() else { return };
    let d = dir.join("verify");
    std::fs::create_dir_all(&d).unwrap();
    for f in ["gpt.E01", "gpt.E02"] {
        let _ = std::fs::hard_link(dir.join(f), d.join(f));
    }
    let out = dir.join("verify.jsonl");
    scan(&out, &[&d], &["--verify-image"]);
    let head = &records(&out)[0];
    let v = &head["images_verified"][0];
    assert_eq!(v["result"], "verified", "{head}");
    assert_eq!(v["segments"], 2);
    use md5::Digest;
    let md5: String = md5::Md5::digest(std::fs::read(dir.join("gpt.dd")).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v["md5"], md5);
    assert_eq!(v["stored_md5"], md5);
}

/// One byte changed inside a stored chunk: the files whose bytes that chunk holds carry the
/// warning (and only those: a chunk is 32 KiB, the files 50 KiB or more), their MD5 differs
/// from the clean image's, and `--verify-image` says the image does not match.
#[test]
fn a_damaged_chunk_warns_on_the_files_it_touches() {
    let Some(dir) = fixtures() else { return };
    let d = dir.join("damaged");
    std::fs::create_dir_all(&d).unwrap();
    let mut e01 = std::fs::read(dir.join("mbr.E01")).unwrap();
    let jpg = std::fs::read(dir.join("files/DCIM/sub/IMG_0004.jpg")).unwrap();
    let needle = &jpg[20_000..20_064];
    let at = e01
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the picture's bytes are stored as they are");
    e01[at + 10] ^= 0xff;
    std::fs::write(d.join("mbr.E01"), &e01).unwrap();
    let (clean, _) = scan(&dir.join("clean.jsonl"), &[&dir.join("mbr.E01")], &[]);
    let clean: HashMap<String, Value> = by_path(&clean)
        .into_iter()
        .map(|(p, r)| (p.replace(&dir.display().to_string(), ""), r))
        .collect();
    let out = dir.join("damaged.jsonl");
    let (recs, _) = scan(&out, &[&d.join("mbr.E01")], &["--verify-image"]);
    let recs: HashMap<String, Value> = by_path(&recs)
        .into_iter()
        .map(|(p, r)| (p.replace(&d.display().to_string(), ""), r))
        .collect();
    let warned: BTreeSet<&String> = recs
        .iter()
        .filter(|(_, r)| {
            r["warnings"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w.as_str().unwrap().starts_with("image_chunk_damaged"))
            })
        })
        .map(|(p, _)| p)
        .collect();
    let changed: BTreeSet<&String> = recs
        .iter()
        .filter(|(p, r)| r["md5"] != clean[p.as_str()]["md5"])
        .map(|(p, _)| p)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed.iter().next().unwrap().ends_with("IMG_0004.jpg"));
    assert!(changed.is_subset(&warned), "{changed:?} {warned:?}");
    assert!(
        warned.len() <= 2,
        "a 32 KiB chunk touches at most two 50 KiB files: {warned:?}"
    );
    let v = &records(&out)[0]["images_verified"][0];
    assert_eq!(v["result"], "MISMATCH", "{v}");
    assert_eq!(v["damaged_chunks"], 1);
}

/// Loops, entries outside the volume, absurd sizes and a cut segment, in FAT, ext4, NTFS and
/// EWF: each an error record naming it, and everything else in the image swept.
#[test]
fn hostile_images_end_in_error_records_and_the_rest_is_swept() {
    let Some(dir) = fixtures() else { return };
    let fat = dir.join("fat-hostile.img");
    let ext = dir.join("ext-hostile.img");
    let cut = dir.join("cut");
    let (recs, code) = scan(&dir.join("hostile.jsonl"), &[&fat, &ext, &cut], &[]);
    assert_eq!(code, 1);
    let recs = by_path(&recs);
    let reason = |img: &Path, p: &str| -> String {
        let r = &recs[&format!("{}#p0{p}", img.display())];
        assert_eq!(r["status"], "error", "{r}");
        r["reason"].as_str().unwrap().to_string()
    };
    assert!(reason(&fat, "/DCIM/IMG_0001.jpg").contains("loops"));
    assert!(reason(&fat, "/DCIM/IMG_0000.jpg").contains("outside the volume"));
    assert!(reason(&fat, "/DCIM/IMG_0002.jpg").contains("clusters its size needs"));
    assert!(reason(&fat, "/DCIM/sub").contains("loop"));
    assert!(reason(&ext, "/DCIM/IMG_0000.jpg").contains("not a real size"));
    assert!(reason(&ext, "/DCIM/IMG_0001.jpg").contains("outside the volume"));
    assert!(reason(&ext, "/DCIM/sub/loop").contains("loop"));
    for img in [&fat, &ext] {
        for p in ["/docs/notes.txt", "/docs/a long name.png"] {
            let r = &recs[&format!("{}#p0{p}", img.display())];
            assert!(r["status"] == "ok" || r["status"] == "skipped", "{r}");
        }
    }
    let ntfs = dir.join("ntfs-hostile.img");
    let (nrecs, _) = scan(&dir.join("ntfs-hostile.jsonl"), &[&ntfs], &[]);
    let nrecs = by_path(&nrecs);
    let outside = &nrecs[&format!("{}#p0/DCIM/pic0.png", ntfs.display())];
    assert!(
        outside["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("outside the volume"),
        "{outside}"
    );
    let looped: Vec<&Value> = nrecs
        .values()
        .filter(|r| r["reason"].as_str().is_some_and(|w| w.contains("a loop")))
        .collect();
    assert!(!looped.is_empty(), "the folders that loop are named");
    let small = &nrecs[&format!("{}#p0/small.txt", ntfs.display())];
    assert_eq!(small["status"], "skipped", "the rest is swept: {small}");
    let e01 = &recs[&cut.join("gpt.E01").display().to_string()];
    assert_eq!(e01["status"], "error", "{e01}");
    assert!(
        e01["reason"].as_str().unwrap().contains("segment 2"),
        "{e01}"
    );
    let swept = recs
        .keys()
        .filter(|p| p.starts_with(&format!("{}#p1/", cut.join("gpt.E01").display())))
        .count();
    assert!(swept > 0, "the files before the cut are still swept");
}

/// A FAT volume of 1,200 pictures, killed with SIGKILL during its sweep five times and
/// resumed: every file is recorded exactly once, the volume and the image last.
#[test]
fn sigkill_during_an_image_sweep_then_resume_records_every_file_once() {
    if !have_tools() {
        return;
    }
    let dir = scratch("disk-kill");
    let pics = dir.join("pics");
    std::fs::create_dir_all(&pics).unwrap();
    let n = 1200;
    for i in 0..n {
        common::save_png(
            i,
            24 + (i % 20) as u32,
            24 + (i % 13) as u32,
            &pics.join(format!("p{i:04}.png")),
        );
    }
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let img = input.join("card.img");
    let ok = |c: &mut Command| c.stdout(Stdio::null()).status().unwrap().success();
    assert!(ok(Command::new("mkfs.fat")
        .args(["-F", "16", "-C"])
        .arg(&img)
        .arg("32768")));
    assert!(ok(Command::new("mcopy")
        .arg("-s")
        .arg("-i")
        .arg(&img)
        .arg(&pics)
        .arg("::/")));
    let out = dir.join("out.jsonl");
    let kills = common::kill_and_resume(&input, &out, 6, 17);
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--resume", "-o"])
        .arg(&out)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let recs = records(&out);
    let got = files(&recs);
    let paths: BTreeSet<&str> = got.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        got.len(),
        n as usize + 2,
        "each file, the volume and the image once ({kills} kills)"
    );
    assert_eq!(paths.len(), got.len());
    assert_eq!(got.last().unwrap()["path"], img.display().to_string());
    assert!(kills > 0, "the test never interrupted a run");
}

/// NTFS: an alternate data stream is a record of its own (`file:stream`) and is hashed; a
/// compressed file is decoded (its MD5 equals `icat`'s, checked above, and its picture
/// hashes as the same picture stored plainly would); a sparse file reads as zeros where it
/// has no clusters; MFT record numbers are the entry numbers.
#[test]
fn ntfs_streams_compression_and_sparse_files_are_read() {
    let Some(dir) = fixtures() else { return };
    let img = dir.join("ntfs.img");
    let (recs, _) = scan(&dir.join("ntfs.jsonl"), &[&img], &[]);
    let recs = by_path(&recs);
    let at = |p: &str| &recs[&format!("{}#p0/{p}", img.display())];
    let ads = at("DCIM/withads.png:hidden.png");
    assert_eq!(ads["status"], "ok", "{ads}");
    assert_eq!(
        ads["pdq"],
        at("DCIM/pic1.png")["pdq"],
        "the stream holds pic1.png"
    );
    assert_eq!(ads["depth"], 2);
    assert_eq!(
        ads["container"],
        format!("{}#p0/DCIM/withads.png", img.display())
    );
    assert_eq!(at("DCIM/withads.png")["pdq"], at("DCIM/pic0.png")["pdq"]);
    let bmp = at("packed/big.bmp");
    assert_eq!(bmp["status"], "ok", "{bmp}");
    assert!(bmp["pdq"].is_string());
    assert_eq!(at("packed/text.txt")["size"], 23 * 4000);
    assert_eq!(at("sparse.bin")["size"], 3 * 1024 * 1024 + 3);
    assert_eq!(at("small.txt")["fs"]["filesystem"], "ntfs");
    assert!(at("small.txt")["fs"]["created"].is_number());
}

/// Deleted files on FAT, exFAT and NTFS: each that `fls -d` lists is a record under
/// `$deleted/N/` with `deleted: true`, its bytes `icat`'s (MD5) and its hashes those of
/// `icat`'s bytes; one whose clusters a later file took says so.
#[test]
fn deleted_files_are_found_with_icats_bytes() {
    let Some(dir) = fixtures() else { return };
    let mut checked = 0;
    for name in ["fdel.img", "exfat.img", "ntfs.img"] {
        let img = dir.join(name);
        let (recs, _) = scan(&dir.join(format!("{name}.del.jsonl")), &[&img], &[]);
        let recs = by_path(&recs);
        let o = Command::new("fls")
            .args(["-r", "-p", "-d"])
            .arg(&img)
            .output()
            .unwrap();
        let listed: Vec<(String, String)> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                // NTFS's deleted entries may have lost their type (`-/r`).
                let rest = l
                    .strip_prefix("r/r * ")
                    .or_else(|| l.strip_prefix("-/r * "))?;
                let (num, path) = rest.split_once(":\t")?;
                // NTFS's reserved records 16-23 have no name and no data: The Sleuth Kit
                // lists them as orphans, they are no file of anyone's.
                let reserved = path.starts_with("$OrphanFiles/");
                (!reserved).then(|| (num.to_string(), path.to_string()))
            })
            .collect();
        assert!(!listed.is_empty(), "{name}: fls lists no deleted file");
        for (address, path) in listed {
            let entry = address.split('-').next().unwrap();
            let key = format!("{}#p0/$deleted/{entry}/{path}", img.display());
            let r = recs
                .get(&key)
                .unwrap_or_else(|| panic!("{key} has no record"));
            assert_eq!(r["deleted"], true, "{r}");
            let bytes = Command::new("icat")
                .arg(&img)
                .arg(&address)
                .output()
                .unwrap()
                .stdout;
            use md5::Digest;
            let md5: String = md5::Md5::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(r["md5"], md5, "{key}");
            let copy = dir.join(format!("icat-{name}-{entry}"));
            std::fs::write(&copy, &bytes).unwrap();
            let o = bin()
                .args(["hash", "--backend", "cpu", "--format", "jsonl"])
                .arg(&copy)
                .output()
                .unwrap();
            let row: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(r["pdq"], row["pdq"], "{key}");
            assert!(r["pdq"].is_string(), "{key}: {r}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "two on FAT, one on exFAT, one on NTFS");
    let img = dir.join("fdel2.img");
    let (recs, _) = scan(&dir.join("fdel2.jsonl"), &[&img], &[]);
    let recs = by_path(&recs);
    let taken = recs
        .values()
        .find(|r| r["deleted"] == true)
        .expect("the deleted file has a record");
    let warned = taken["warnings"].as_array().is_some_and(|w| {
        w.iter()
            .any(|w| w.as_str().unwrap().starts_with("deleted_reallocated"))
    });
    assert!(warned, "{taken}");
}

/// `--carve`: every JPEG, PNG and GIF that foremost finds in the same free space (`blkls`'s
/// output) is found, with the same PDQ, as a record `#pN/$unallocated@OFFSET.ext`; and a
/// disk with no filesystem is carved whole.
#[test]
fn carving_finds_what_foremost_finds_in_free_space() {
    let Some(dir) = fixtures() else { return };
    if !common::have_tools_named(&["foremost", "blkls"]) {
        return;
    }
    // No filesystem at all: pictures at odd offsets among noise.
    let blob = dir.join("blob.raw");
    let mut noise = hashsweep::hash::random_words(5);
    let mut bytes: Vec<u8> = (0..3 << 20).map(|_| noise.next().unwrap() as u8).collect();
    for (i, f) in ["files/DCIM/IMG_0002.jpg", "files/docs/a long name.png"]
        .iter()
        .enumerate()
    {
        let pic = std::fs::read(dir.join(f)).unwrap();
        let at = 1_000_003 * (i + 1);
        bytes[at..at + pic.len()].copy_from_slice(&pic);
    }
    std::fs::write(&blob, &bytes).unwrap();
    let pdq_of = |files: &[PathBuf]| -> BTreeSet<String> {
        let o = bin()
            .args(["hash", "--backend", "cpu", "--format", "jsonl"])
            .args(files)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                serde_json::from_str::<Value>(l).ok()?["pdq"]
                    .as_str()
                    .map(String::from)
            })
            .collect()
    };
    let mut total = 0;
    for name in ["fdel.img", "exfat.img", "ntfs.img", "blob.raw"] {
        let img = dir.join(name);
        let (recs, _) = scan(
            &dir.join(format!("{name}.carve.jsonl")),
            &[&img],
            &["--carve"],
        );
        let carved: BTreeSet<String> = files(&recs)
            .iter()
            .filter(|r| r["path"].as_str().unwrap().contains("$unallocated@"))
            .filter_map(|r| r["pdq"].as_str().map(String::from))
            .collect();
        let free = dir.join(format!("{name}.free"));
        let source = if name == "blob.raw" {
            img.clone()
        } else {
            let o = Command::new("blkls").arg(&img).output().unwrap();
            std::fs::write(&free, o.stdout).unwrap();
            free
        };
        let out = dir.join(format!("{name}.foremost"));
        let _ = std::fs::remove_dir_all(&out);
        let st = Command::new("foremost")
            .args(["-Q", "-t", "jpg,png,gif", "-i"])
            .arg(&source)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success());
        let theirs: Vec<PathBuf> = ["jpg", "png", "gif"]
            .iter()
            .flat_map(|k| {
                std::fs::read_dir(out.join(k))
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .collect();
        let want = pdq_of(&theirs);
        assert!(
            !want.is_empty(),
            "{name}: foremost found nothing to compare with"
        );
        assert!(
            want.is_subset(&carved),
            "{name}: foremost {want:?}, ours {carved:?}"
        );
        total += want.len();
    }
    assert!(total >= 6, "{total}");
}
