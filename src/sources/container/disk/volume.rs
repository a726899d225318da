//! The volumes of a disk: an MBR's primary partitions and the logical ones of its extended
//! partition (a chain of EBRs), a GPT's entries, or, with no table, the whole disk as one
//! volume. Numbered from 1 in the table's order (`#p1`), as `mmls` lists them; `#p0` is a
//! filesystem with no table.

use super::device::{Device, bytes_at};

/// A volume: its number in the path grammar, where it lies, and what the table calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub index: u32,
    pub start: u64,
    pub len: u64,
    /// `mbr 0x0c`, `gpt EBD0A0A2-...`, or `whole disk`.
    pub table: String,
}

/// The table a disk has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Mbr,
    Gpt,
    /// A filesystem from the first sector.
    None,
}

const SECTOR: u64 = 512;
/// Logical partitions followed along an extended partition's chain at most (a loop in
/// the chain ends there).
const MAX_LOGICAL: usize = 128;
/// GPT entries read at most.
const MAX_GPT_ENTRIES: u32 = 1024;

/// Whether a sector is an MBR with at least one sane entry (and not a filesystem's boot
/// sector, which ends in the same signature).
pub fn is_mbr(s: &[u8]) -> bool {
    if s.len() < 512 || s[510..512] != [0x55, 0xaa] {
        return false;
    }
    let entries = mbr_entries(s);
    let sane = entries
        .iter()
        .all(|e| e.status == 0 || e.status == 0x80 || e.kind == 0);
    sane && entries
        .iter()
        .any(|e| e.kind != 0 && e.lba > 0 && e.sectors > 0)
}

pub fn is_gpt(head: &[u8]) -> bool {
    head.get(512..520) == Some(b"EFI PART")
}

struct MbrEntry {
    status: u8,
    kind: u8,
    lba: u64,
    sectors: u64,
}

fn mbr_entries(s: &[u8]) -> Vec<MbrEntry> {
    (0..4)
        .map(|i| {
            let e = &s[446 + 16 * i..462 + 16 * i];
            MbrEntry {
                status: e[0],
                kind: e[4],
                lba: u32::from_le_bytes(e[8..12].try_into().unwrap()) as u64,
                sectors: u32::from_le_bytes(e[12..16].try_into().unwrap()) as u64,
            }
        })
        .collect()
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

/// The volumes of `d`, and what went wrong on the way (a broken chain: the volumes found
/// before it are kept).
pub fn volumes(d: &dyn Device, table: Table) -> (Vec<Volume>, Option<String>) {
    match table {
        Table::None => (
            vec![Volume {
                index: 0,
                start: 0,
                len: d.len(),
                table: "whole disk".into(),
            }],
            None,
        ),
        Table::Mbr => mbr(d),
        Table::Gpt => gpt(d),
    }
}

fn mbr(d: &dyn Device) -> (Vec<Volume>, Option<String>) {
    let s = match bytes_at(d, 0, 512) {
        Ok(s) => s,
        Err(e) => return (vec![], Some(format!("partition table unreadable: {e}"))),
    };
    let mut out = vec![];
    let mut error = None;
    let mut n = 0;
    for e in mbr_entries(&s) {
        if e.kind == 0 || e.sectors == 0 {
            continue;
        }
        if is_extended(e.kind) {
            error = error.or(logical(d, e.lba, &mut out, &mut n));
            continue;
        }
        n += 1;
        out.push(Volume {
            index: n,
            start: e.lba * SECTOR,
            len: e.sectors * SECTOR,
            table: format!("mbr 0x{:02x}", e.kind),
        });
    }
    (out, error)
}

/// The logical partitions of an extended partition at sector `base`: each EBR holds one
/// partition (relative to itself) and the next EBR (relative to `base`).
fn logical(d: &dyn Device, base: u64, out: &mut Vec<Volume>, n: &mut u32) -> Option<String> {
    let mut ebr = base;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..MAX_LOGICAL {
        if !seen.insert(ebr) {
            return Some(format!("extended partition chain loops at sector {ebr}"));
        }
        let s = match bytes_at(d, ebr * SECTOR, 512) {
            Ok(s) if s[510..512] == [0x55, 0xaa] => s,
            Ok(_) => return Some(format!("no EBR at sector {ebr}")),
            Err(e) => return Some(format!("EBR at sector {ebr} unreadable: {e}")),
        };
        let es = mbr_entries(&s);
        if es[0].kind != 0 && es[0].sectors != 0 {
            *n += 1;
            out.push(Volume {
                index: *n,
                start: (ebr + es[0].lba) * SECTOR,
                len: es[0].sectors * SECTOR,
                table: format!("mbr 0x{:02x} (logical)", es[0].kind),
            });
        }
        if !is_extended(es[1].kind) || es[1].lba == 0 {
            return None;
        }
        ebr = base + es[1].lba;
    }
    Some(format!(
        "extended partition chain longer than {MAX_LOGICAL}: not followed further"
    ))
}

fn gpt(d: &dyn Device) -> (Vec<Volume>, Option<String>) {
    let h = match bytes_at(d, SECTOR, 92) {
        Ok(h) => h,
        Err(e) => return (vec![], Some(format!("GPT header unreadable: {e}"))),
    };
    let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap());
    let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
    let (lba, count, size) = (u64_at(72), u32_at(80), u32_at(84) as u64);
    if !(128..=4096).contains(&size) {
        return (vec![], Some(format!("GPT entry size {size}: not a GPT")));
    }
    let mut error = None;
    let count = if count > MAX_GPT_ENTRIES {
        error = Some(format!(
            "GPT says {count} entries: the first {MAX_GPT_ENTRIES} read"
        ));
        MAX_GPT_ENTRIES
    } else {
        count
    };
    let table = match lba
        .checked_mul(SECTOR)
        .ok_or("offset overflows".to_string())
        .and_then(|at| bytes_at(d, at, (count as u64 * size) as usize).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => return (vec![], Some(format!("GPT entries unreadable: {e}"))),
    };
    let mut out = vec![];
    for (i, e) in table.chunks(size as usize).enumerate() {
        if e[..16].iter().all(|&b| b == 0) {
            continue;
        }
        let first = u64::from_le_bytes(e[32..40].try_into().unwrap());
        let last = u64::from_le_bytes(e[40..48].try_into().unwrap());
        if last < first {
            error = error.or(Some(format!("GPT entry {} ends before it starts", i + 1)));
            continue;
        }
        out.push(Volume {
            index: i as u32 + 1,
            start: first.saturating_mul(SECTOR),
            len: (last - first + 1).saturating_mul(SECTOR),
            table: format!("gpt {}", guid(&e[..16])),
        });
    }
    (out, error)
}

/// A GUID as it is written (its first three fields little-endian).
fn guid(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        u16::from_le_bytes(b[4..6].try_into().unwrap()),
        u16::from_le_bytes(b[6..8].try_into().unwrap()),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::super::device::Raw;
    use super::*;
    use crate::sources::container::Src;
    use std::sync::Arc;

    fn entry(s: &mut [u8], at: usize, kind: u8, lba: u32, sectors: u32) {
        let e = &mut s[at..at + 16];
        e[4] = kind;
        e[8..12].copy_from_slice(&lba.to_le_bytes());
        e[12..16].copy_from_slice(&sectors.to_le_bytes());
    }

    #[test]
    fn logical_partitions_follow_the_primary_ones_and_a_looping_chain_stops() {
        let mut disk = vec![0u8; 512 * 64];
        disk[510] = 0x55;
        disk[511] = 0xaa;
        entry(&mut disk, 446, 0x0c, 2, 8);
        entry(&mut disk, 462, 0x05, 16, 40);
        // EBR at 16: a partition at 16+1, then the next EBR at 16+20.
        let ebr = 16 * 512;
        disk[ebr + 510] = 0x55;
        disk[ebr + 511] = 0xaa;
        entry(&mut disk, ebr + 446, 0x83, 1, 4);
        entry(&mut disk, ebr + 462, 0x05, 20, 10);
        let ebr2 = 36 * 512;
        disk[ebr2 + 510] = 0x55;
        disk[ebr2 + 511] = 0xaa;
        entry(&mut disk, ebr2 + 446, 0x07, 1, 4);
        // The second EBR points back at the first.
        entry(&mut disk, ebr2 + 462, 0x05, 0, 10);
        assert!(is_mbr(&disk));
        let d = Raw::new(vec![Src::Bytes(Arc::new(disk.clone()))]);
        let (v, err) = volumes(&d, Table::Mbr);
        let starts: Vec<(u32, u64)> = v.iter().map(|v| (v.index, v.start / 512)).collect();
        assert_eq!(starts, vec![(1, 2), (2, 17), (3, 37)]);
        assert!(err.is_none(), "{err:?}");
        entry(&mut disk, ebr2 + 462, 0x05, 20, 10);
        let d = Raw::new(vec![Src::Bytes(Arc::new(disk))]);
        let (v, err) = volumes(&d, Table::Mbr);
        assert_eq!(v.len(), 3);
        assert!(err.unwrap().contains("loops"));
    }
}
