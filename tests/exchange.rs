//! Hash lists as they are exchanged (NCMEC XML, StopNCII JSON, ThreatExchange text, VICS
//! JSON 1.x and 2.0) built into sets whose entries keep list, id and category, and matches
//! that report them. The files are written here after the formats' documented layouts.

mod common;

use common::{bin, records, save_png, scratch};

use std::path::Path;

use hashsweep::refset::exchange::source;
use hashsweep::refset::{Algo, RefSet};

const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

/// `refs build` of `inputs`, in order, into one set; returns the set and what it printed.
fn build(dir: &Path, name: &str, inputs: &[&Path], extra: &[&str]) -> (RefSet, String) {
    let set = dir.join(format!("{name}.hsref"));
    let err = common::refs_build_with(inputs, &set, extra);
    (RefSet::open(&set).unwrap(), err)
}

/// `refs build` of lists carrying several kinds: the set of each kind written, by kind.
fn build_kinds(dir: &Path, name: &str, inputs: &[&Path], kinds: &[Algo]) -> (Vec<RefSet>, String) {
    let set = dir.join(format!("{name}.hsref"));
    let err = common::refs_build_with(inputs, &set, &[]);
    assert!(
        !set.exists(),
        "several kinds: one set each, none under the name itself"
    );
    let sets = kinds
        .iter()
        .map(|&a| RefSet::open(&hashsweep::refset::group::member(&set, a)).unwrap())
        .collect();
    (sets, err)
}

/// (list, id, category) of every entry.
fn sources(s: &RefSet) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = (0..s.len())
        .map(|i| {
            let src = source(&s.label_text(i)).expect("a structured label");
            (
                src.list,
                src.list_id.unwrap_or_default(),
                src.category.unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[test]
fn ncmec_xml_keeps_ids_and_classifications_and_later_files_delete() {
    let d = scratch("ncmec");
    let first = d.join("page1.xml");
    std::fs::write(
        &first,
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="3" maxTimestamp="2024-01-02T00:00:00Z">
    <image>
      <member id="7">A hotline</member>
      <timestamp>2024-01-01T10:00:00Z</timestamp>
      <id>img-100</id>
      <classification>A1</classification>
      <fingerprints>
        <md5>0123456789abcdef0123456789abcdef</md5>
        <sha1>0123456789abcdef0123456789abcdef01234567</sha1>
        <pdna>not,a,hash,we,use</pdna>
      </fingerprints>
    </image>
    <image>
      <member id="7">A hotline</member>
      <id>img-101</id>
      <classification>B2</classification>
      <fingerprints><md5>fedcba9876543210fedcba9876543210</md5></fingerprints>
    </image>
  </images>
  <videos count="1">
    <video>
      <member id="8">Another</member>
      <id>vid-5</id>
      <classification>A2</classification>
      <fingerprints>
        <md5>00112233445566778899aabbccddeeff</md5>
        <tmk-pdqf rel="self" href="/v2/entries/5/fingerprints/TMK_PDQF"/>
      </fingerprints>
    </video>
  </videos>
</queryResult>
"#,
    )
    .unwrap();
    let second = d.join("page2.xml");
    std::fs::write(
        &second,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="1">
    <deletedImage><member id="7">A hotline</member><id>img-101</id></deletedImage>
  </images>
</queryResult>
"#,
    )
    .unwrap();
    // MD5 and SHA-1: a set each; PhotoDNA and TMK are named as not matched.
    let (sets, err) = build_kinds(&d, "ncmec", &[&first, &second], &[Algo::Md5, Algo::Sha1]);
    let s = &sets[0];
    assert_eq!(s.algo(), Algo::Md5);
    assert_eq!(
        sources(s),
        [t("NCMEC", "img-100", "A1"), t("NCMEC", "vid-5", "A2")]
    );
    assert_eq!(sources(&sets[1]), [t("NCMEC", "img-100", "A1")]);
    assert!(err.contains("1 entries removed"), "{err}");
    assert!(
        err.contains("\"pdna\": 1") && err.contains("\"tmk-pdqf\": 1") && !err.contains("\"sha1\""),
        "{err}"
    );
    let (s, err) = build(&d, "md5", &[&first, &second], &["--algo", "md5"]);
    assert_eq!(s.algo(), Algo::Md5);
    assert!(
        err.contains("\"sha1\": 1"),
        "with --algo the other kinds are named: {err}"
    );
    let (s, _) = build(&d, "sha1", &[&first], &["--algo", "sha1"]);
    assert_eq!(s.algo(), Algo::Sha1);
    assert_eq!(sources(&s), [t("NCMEC", "img-100", "A1")]);
    // A layout the content does not give away is named with --input-format.
    let quiet = d.join("page3.txt");
    let body = std::fs::read_to_string(&first).unwrap();
    std::fs::write(
        &quiet,
        format!(
            "<!-- fetched 2024-01-03 -->\n{}",
            body.split_once('\n').unwrap().1
        ),
    )
    .unwrap();
    let (s, _) = build(
        &d,
        "forced",
        &[&quiet],
        &["--input-format", "ncmec", "--algo", "md5"],
    );
    assert_eq!(sources(&s).len(), 3);
    // A broken document is an error naming the file.
    let bad = d.join("bad.xml");
    std::fs::write(
        &bad,
        "<?xml version=\"1.0\"?>\n<queryResult><images><image><id>x</images>",
    )
    .unwrap();
    let o = bin()
        .args(["refs", "build", "-o"])
        .arg(d.join("x.hsref"))
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.xml"));
}

#[test]
fn stopncii_records_threatexchange_lines_and_vics_files_build_with_their_sources() {
    let d = scratch("exchange-formats");
    let stop = d.join("stopncii.json");
    std::fs::write(
        &stop,
        format!(
            r#"[{{"hashValue": "{PDQ}", "signalType": "ImagePDQ", "caseNumbers": ["SN-1"]}},
               {{"hashValue": "00112233445566778899aabbccddeeff", "signalType": "VideoMD5", "caseNumbers": ["SN-2"]}},
               {{"hashValue": "abc", "signalType": "PhotoDNA", "caseNumbers": ["SN-3"]}}]"#
        ),
    )
    .unwrap();
    let (sets, err) = build_kinds(&d, "stop", &[&stop], &[Algo::Pdq, Algo::Md5]);
    assert_eq!(sources(&sets[0]), [t("StopNCII", "SN-1", "")]);
    assert_eq!(sources(&sets[1]), [t("StopNCII", "SN-2", "")]);
    assert!(err.contains("\"photodna\": 1"), "{err}");
    let stop_lines = d.join("stopncii.jsonl");
    std::fs::write(
        &stop_lines,
        "{\"hashValue\": \"00112233445566778899aabbccddeeff\", \"signalType\": \"VideoMD5\", \"caseNumbers\": [\"SN-2\"]}\n",
    )
    .unwrap();
    let (s, _) = build(&d, "stop-md5", &[&stop_lines], &[]);
    assert_eq!(
        (s.algo(), sources(&s)),
        (Algo::Md5, vec![t("StopNCII", "SN-2", "")])
    );

    let te = d.join("te.txt");
    std::fs::write(
        &te,
        format!("pdq {PDQ}\nvideo_md5 00112233445566778899aabbccddeeff\n"),
    )
    .unwrap();
    let (sets, _) = build_kinds(&d, "te", &[&te], &[Algo::Pdq, Algo::Md5]);
    assert_eq!((sets[0].len(), sets[1].len()), (1, 1));
    assert_eq!(
        source(&sets[0].label_text(0)).unwrap().list,
        "ThreatExchange"
    );
    let (s, err) = build(&d, "te-pdq", &[&te], &["--algo", "pdq"]);
    assert_eq!((s.algo(), s.len()), (Algo::Pdq, 1));
    assert!(err.contains("\"video_md5\": 1"), "{err}");

    // VICS 1.x: Media with their files; 2.0: Cases holding Media.
    let v1 = d.join("vics1.json");
    std::fs::write(
        &v1,
        r#"{
  "odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic.DataModel.V1.3.xml#Media",
  "value": [
    {"MediaID": 11, "Category": 1, "MD5": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "SHA1": "",
     "MediaFiles": [{"FileName": "a.jpg", "MD5": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]},
    {"MediaID": 12, "Category": 2, "MediaFiles": [{"MD5": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]},
    {"MediaID": 13, "Category": 0, "SHA1": "0123456789abcdef0123456789abcdef01234567"}
  ]
}"#,
    )
    .unwrap();
    let (sets, _) = build_kinds(&d, "vics1", &[&v1], &[Algo::Md5, Algo::Sha1]);
    assert_eq!(
        sources(&sets[0]),
        [t("VICS", "11", "1"), t("VICS", "12", "2")]
    );
    assert_eq!(sources(&sets[1]), [t("VICS", "13", "0")]);
    let v2 = d.join("vics2.json");
    std::fs::write(
        &v2,
        r#"{"odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic.DataModel.V2.0.xml#Cases",
  "value": [{"CaseNumber": "C-9", "Media": [
     {"MediaID": 21, "Category": 1, "MD5": "cccccccccccccccccccccccccccccccc"},
     {"MediaID": 22, "Category": 3, "MD5": "dddddddddddddddddddddddddddddddd"}]}]}"#,
    )
    .unwrap();
    let (s, _) = build(&d, "vics2", &[&v2], &[]);
    assert_eq!(sources(&s), [t("VICS", "21", "1"), t("VICS", "22", "3")]);
    // A record that is no hash record is an error naming its place, or counted when skipped.
    let broken = d.join("broken.json");
    std::fs::write(&broken, r#"[{"hashValue": "00112233445566778899aabbccddeeff", "signalType": "VideoMD5"}, {"oops": 1}]"#).unwrap();
    let o = bin()
        .args(["refs", "build", "-o"])
        .arg(d.join("b.hsref"))
        .arg(&broken)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("broken.json:2"), "{err}");
    let (s, _) = build(&d, "b", &[&broken], &["--skip-invalid"]);
    assert_eq!(s.len(), 1);
}

#[test]
fn a_scan_reports_list_id_and_category_of_each_match_and_counts_them() {
    let d = scratch("exchange-scan");
    let input = d.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..4 {
        save_png(300 + i, 48, 40, &input.join(format!("{i}.png")));
    }
    use md5::Digest;
    let md5 = |p: &Path| hashsweep::hash::hex(&md5::Md5::digest(std::fs::read(p).unwrap()));
    let vics = d.join("case.json");
    std::fs::write(
        &vics,
        format!(
            r#"{{"value": [{{"MediaID": 501, "Category": 1, "MD5": "{}"}},
                          {{"MediaID": 502, "Category": 2, "MD5": "{}"}}]}}"#,
            md5(&input.join("1.png")).to_uppercase(),
            md5(&input.join("3.png"))
        ),
    )
    .unwrap();
    let (_, _) = build(&d, "case", &[&vics], &[]);
    let out = d.join("out.jsonl");
    let st = bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--refs"])
        .arg(d.join("case.hsref"))
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let mut found: Vec<(String, String, String, String)> =
        records(&hashsweep::scan::matches_path(&out))
            .iter()
            .map(|m| {
                let f = Path::new(m["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
                (f, s("list"), s("list_id"), s("category"))
            })
            .collect();
    found.sort();
    let want = |f: &str, id: &str, c: &str| {
        (
            f.to_string(),
            "VICS".to_string(),
            id.to_string(),
            c.to_string(),
        )
    };
    assert_eq!(
        found,
        [want("1.png", "501", "1"), want("3.png", "502", "2")]
    );
    let recs = records(&out);
    let summary = recs.iter().find(|r| r["type"] == "summary").unwrap();
    assert_eq!(summary["matches_by_list"]["VICS"], 2);
    assert_eq!(summary["matches_by_category"]["1"], 1);
    assert_eq!(summary["matches_by_category"]["2"], 1);
}
