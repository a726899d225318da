//! RAR 4 and 5, listed with our own header reader. RAR's compression is not decoded: the
//! free decoders compile RARLAB's unRAR source, whose licence is not open source. Every
//! member is still named and recorded: stored members (method "store", not solid, not
//! split, not encrypted) are read as they are; the others are error records saying "RAR
//! not decoded", or "encrypted". An archive whose names are encrypted is refused as such.

use std::io::{Read, Seek, SeekFrom};

use super::{Content, Expander, Meta, Src, SrcReader, Stop, Walk, dos_seconds};
use crate::sources::location::Location;

const RAR4: &[u8] = b"Rar!\x1a\x07\x00";
const RAR5: &[u8] = b"Rar!\x1a\x07\x01\x00";

pub(super) fn walk(x: &mut Expander, loc: &Location, src: &Src, enc: &mut bool) -> Walk {
    let mut r = src.reader();
    let mut sig = [0u8; 8];
    r.read_exact(&mut sig)
        .map_err(|_| Stop::Broken("not a RAR archive: too short".into()))?;
    if sig.starts_with(RAR5) {
        rar5(x, loc, src, &mut r, enc)
    } else if sig.starts_with(RAR4) {
        r.seek(SeekFrom::Start(7)).map_err(broken)?;
        rar4(x, loc, src, &mut r, enc)
    } else {
        Err(Stop::Broken("RAR signature of an unknown version".into()))
    }
}

fn broken(e: std::io::Error) -> Stop {
    Stop::Broken(format!("RAR headers unreadable: {e}"))
}

/// What to do with one listed member.
struct Listed {
    meta: Meta,
    dir: bool,
    encrypted: bool,
    /// Stored as it is, whole in this volume, not solid: readable.
    plain: bool,
    /// Where its data starts and how long it is.
    data: (u64, u64),
    why: String,
}

fn hand_on(x: &mut Expander, loc: &Location, src: &Src, m: Listed, enc: &mut bool) -> Walk {
    if m.dir {
        return Ok(());
    }
    if m.encrypted {
        *enc = true;
        let content = Content::Refused {
            encrypted: true,
            reason: "encrypted (RAR): not decrypted".into(),
        };
        return x.note(loc, m.meta, content);
    }
    if !m.plain {
        let content = Content::Refused {
            encrypted: false,
            reason: m.why,
        };
        return x.note(loc, m.meta, content);
    }
    let mut r = src.reader();
    r.seek(SeekFrom::Start(m.data.0)).map_err(broken)?;
    x.member(loc, m.meta, &mut r.take(m.data.1))
}

fn rar4(x: &mut Expander, loc: &Location, src: &Src, r: &mut SrcReader, enc: &mut bool) -> Walk {
    let mut at = 7u64;
    while at + 7 <= src.len() {
        r.seek(SeekFrom::Start(at)).map_err(broken)?;
        let mut h = [0u8; 7];
        r.read_exact(&mut h).map_err(broken)?;
        let (kind, flags) = (h[2], u16::from_le_bytes([h[3], h[4]]));
        let size = u64::from(u16::from_le_bytes([h[5], h[6]]));
        if size < 7 {
            return Err(Stop::Broken(format!("RAR header at {at} is too short")));
        }
        let mut body = vec![0u8; size as usize - 7];
        r.read_exact(&mut body).map_err(broken)?;
        let long = flags & 0x8000 != 0 || kind == 0x74;
        let add = match (long, body.get(..4)) {
            (true, Some(b)) => u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes"))),
            _ => 0,
        };
        match kind {
            0x73 if flags & 0x0080 != 0 => {
                *enc = true;
                return Err(Stop::Broken(
                    "encrypted (RAR 4, names hidden): not decrypted".into(),
                ));
            }
            0x74 => {
                let m = rar4_file(&body, flags, at + size)
                    .ok_or_else(|| Stop::Broken(format!("RAR file header at {at} unreadable")))?;
                let next = m.data.0 + m.data.1;
                hand_on(x, loc, src, m, enc)?;
                at = next;
                continue;
            }
            0x7b => return Ok(()),
            _ => {}
        }
        at += size + add;
    }
    Ok(())
}

fn rar4_file(b: &[u8], flags: u16, data_at: u64) -> Option<Listed> {
    let u32_at = |i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4")))
    };
    let mut pack = u64::from(u32_at(0)?);
    let mut unp = u64::from(u32_at(4)?);
    let ftime = u32_at(13)?;
    let method = *b.get(18)?;
    let name_len = usize::from(u16::from_le_bytes(b.get(19..21)?.try_into().ok()?));
    let mut i = 25;
    if flags & 0x100 != 0 {
        pack |= u64::from(u32_at(25)?) << 32;
        unp |= u64::from(u32_at(29)?) << 32;
        i = 33;
    }
    let raw = b.get(i..i + name_len)?;
    let name = match (flags & 0x200 != 0, raw.iter().position(|&c| c == 0)) {
        (true, Some(z)) => unicode_name(&raw[..z], &raw[z + 1..]),
        _ => raw.to_vec(),
    };
    let name: Vec<u8> = name
        .iter()
        .map(|&c| if c == b'\\' { b'/' } else { c })
        .collect();
    let split = flags & 0x03 != 0;
    let solid = flags & 0x10 != 0;
    let why = match () {
        _ if split => {
            "RAR member split across volumes: not decoded (volumes are not joined)".to_string()
        }
        _ => format!(
            "RAR not decoded (RAR 4, method {}): member listed only",
            method.wrapping_sub(0x30)
        ),
    };
    Some(Listed {
        meta: Meta {
            name,
            size: Some(unp),
            stored: Some(pack),
            mtime: dos_seconds((ftime >> 16) as u16, ftime as u16),
        },
        dir: flags & 0xe0 == 0xe0,
        encrypted: flags & 0x04 != 0,
        plain: method == 0x30 && !split && !solid,
        data: (data_at, pack),
        why,
    })
}

/// RAR 4's compressed form of a Unicode name (beside its 8-bit form `ascii`), as UTF-8.
fn unicode_name(ascii: &[u8], enc: &[u8]) -> Vec<u8> {
    let Some(&high) = enc.first() else {
        return ascii.to_vec();
    };
    let high = u32::from(high) << 8;
    let (mut pos, mut flags, mut bits) = (1, 0u8, 0);
    let mut out: Vec<u32> = vec![];
    let byte = |i: usize| enc.get(i).copied().map(u32::from);
    while pos < enc.len() {
        if bits == 0 {
            flags = enc[pos];
            pos += 1;
            bits = 8;
        }
        match flags >> 6 {
            0 => {
                let Some(c) = byte(pos) else { break };
                out.push(c);
                pos += 1;
            }
            1 => {
                let Some(c) = byte(pos) else { break };
                out.push(c + high);
                pos += 1;
            }
            2 => {
                let (Some(lo), Some(hi)) = (byte(pos), byte(pos + 1)) else {
                    break;
                };
                out.push(lo | (hi << 8));
                pos += 2;
            }
            _ => {
                let Some(len) = byte(pos) else { break };
                pos += 1;
                if len & 0x80 != 0 {
                    let Some(fix) = byte(pos) else { break };
                    pos += 1;
                    for _ in 0..(len & 0x7f) + 2 {
                        let Some(&a) = ascii.get(out.len()) else {
                            break;
                        };
                        out.push(((u32::from(a) + fix) & 0xff) + high);
                    }
                } else {
                    for _ in 0..len + 2 {
                        let Some(&a) = ascii.get(out.len()) else {
                            break;
                        };
                        out.push(u32::from(a));
                    }
                }
            }
        }
        flags <<= 2;
        bits -= 2;
    }
    out.into_iter()
        .map(|c| char::from_u32(c).unwrap_or('\u{fffd}'))
        .collect::<String>()
        .into_bytes()
}

/// A RAR 5 variable-length integer: 7 bits a byte, low first.
fn vint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let c = *b.get(*i)?;
        *i += 1;
        v |= u64::from(c & 0x7f).checked_shl(shift)?;
        if c & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn rar5(x: &mut Expander, loc: &Location, src: &Src, r: &mut SrcReader, enc: &mut bool) -> Walk {
    let mut at = 8u64;
    while at < src.len() {
        r.seek(SeekFrom::Start(at + 4)).map_err(broken)?;
        let mut lead = [0u8; 3];
        let n = r.read(&mut lead).map_err(broken)?;
        let mut i = 0;
        let size = vint(&lead[..n], &mut i)
            .ok_or_else(|| Stop::Broken(format!("RAR 5 header at {at} unreadable")))?;
        if size == 0 || size > 2 << 20 {
            return Err(Stop::Broken(format!(
                "RAR 5 header at {at} has size {size}"
            )));
        }
        let body_at = at + 4 + i as u64;
        let mut body = vec![0u8; size as usize];
        r.seek(SeekFrom::Start(body_at)).map_err(broken)?;
        r.read_exact(&mut body).map_err(broken)?;
        let bad = || Stop::Broken(format!("RAR 5 header at {at} unreadable"));
        let mut j = 0;
        let kind = vint(&body, &mut j).ok_or_else(bad)?;
        let flags = vint(&body, &mut j).ok_or_else(bad)?;
        let extra = match flags & 1 {
            0 => 0,
            _ => vint(&body, &mut j).ok_or_else(bad)?,
        };
        let data = match flags & 2 {
            0 => 0,
            _ => vint(&body, &mut j).ok_or_else(bad)?,
        };
        let data_at = body_at + size;
        match kind {
            4 => {
                *enc = true;
                return Err(Stop::Broken(
                    "encrypted (RAR 5, names hidden): not decrypted".into(),
                ));
            }
            2 => {
                let m = rar5_file(&body, j, extra, flags, (data_at, data)).ok_or_else(bad)?;
                hand_on(x, loc, src, m, enc)?;
            }
            5 => return Ok(()),
            _ => {}
        }
        at = data_at + data;
    }
    Ok(())
}

fn rar5_file(b: &[u8], mut j: usize, extra: u64, flags: u64, data: (u64, u64)) -> Option<Listed> {
    let file_flags = vint(b, &mut j)?;
    let size = vint(b, &mut j)?;
    let _attributes = vint(b, &mut j)?;
    let mut mtime = None;
    if file_flags & 2 != 0 {
        mtime = Some(f64::from(u32::from_le_bytes(
            b.get(j..j + 4)?.try_into().ok()?,
        )));
        j += 4;
    }
    if file_flags & 4 != 0 {
        j += 4;
    }
    let compression = vint(b, &mut j)?;
    let _host = vint(b, &mut j)?;
    let name_len = vint(b, &mut j)? as usize;
    let name = b.get(j..j.checked_add(name_len)?)?.to_vec();
    // The extra area ends the header: an encryption record (type 1) there marks the member.
    let extra_at = b.len().checked_sub(extra as usize)?;
    let encrypted = records(&b[extra_at..]).contains(&1);
    let method = (compression >> 7) & 7;
    let solid = compression & 0x40 != 0;
    let split = flags & 0x18 != 0;
    let why = match () {
        _ if split => {
            "RAR member split across volumes: not decoded (volumes are not joined)".to_string()
        }
        _ => format!("RAR not decoded (RAR 5, method {method}): member listed only"),
    };
    Some(Listed {
        meta: Meta {
            name,
            size: (file_flags & 8 == 0).then_some(size),
            stored: Some(data.1),
            mtime,
        },
        dir: file_flags & 1 != 0,
        encrypted,
        plain: method == 0 && !solid && !split,
        data,
        why,
    })
}

/// The record types of a RAR 5 extra area.
fn records(mut b: &[u8]) -> Vec<u64> {
    let mut types = vec![];
    while !b.is_empty() {
        let mut i = 0;
        let (Some(size), Some(kind)) = (vint(b, &mut i), {
            let mut k = i;
            vint(b, &mut k)
        }) else {
            break;
        };
        types.push(kind);
        let Some(next) = i.checked_add(size as usize) else {
            break;
        };
        b = b.get(next..).unwrap_or_default();
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rar5_integers_take_seven_bits_a_byte() {
        let mut i = 0;
        assert_eq!(vint(&[0x7f], &mut i), Some(127));
        let mut i = 0;
        assert_eq!(vint(&[0x80, 0x01], &mut i), Some(128));
        assert_eq!(i, 2);
        let mut i = 0;
        assert_eq!(vint(&[0x80], &mut i), None);
    }

    #[test]
    fn rar4_unicode_names_expand_over_their_ascii_form() {
        // High byte 0x04 (Cyrillic); flags 01 01 00 00: two chars high-byte+low, then two
        // copied as they are.
        let enc = [0x04, 0b0101_0000, 0x10, 0x11, b'.', b't'];
        assert_eq!(
            String::from_utf8(unicode_name(b"__.t", &enc)).unwrap(),
            "\u{410}\u{411}.t"
        );
    }
}
