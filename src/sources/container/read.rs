//! Reading one member within the limits: bytes counted against the container's
//! allowance (bombs), held whole when small, spooled when a large video, else streamed
//! for their digests.

use std::io::Read;

use super::{ENTRY_FLOOR, Expander, HEAD, detect};
use crate::decode::sniff;
use crate::sources::digest::{Digesters, Hexes};
use crate::sources::spool::Spool;

impl Expander<'_> {
    /// Count `n` more bytes out of the container; an error once past the limits.
    pub(super) fn spend(
        &mut self,
        n: u64,
        so_far: u64,
        stored: Option<u64>,
    ) -> Result<(), Refusal> {
        self.spent = self.spent.saturating_add(n);
        let r = self.limits.max_ratio;
        if r == 0 {
            return Ok(());
        }
        if let Some(stored) = stored
            && so_far > ENTRY_FLOOR
            && so_far > stored.saturating_mul(r)
        {
            return Err(Refusal::Bomb(format!(
                "member grew past {so_far} bytes from {stored} stored (over {r}:1): not read further, a likely decompression bomb (--max-ratio)"
            )));
        }
        if self.spent > self.allowance {
            return Err(Refusal::Bomb(format!(
                "members grew past {} bytes in all (over {r}:1 of the file on disk): not read further, a likely decompression bomb (--max-ratio)",
                self.allowance
            )));
        }
        Ok(())
    }

    /// A member's bytes: whole when within `max_held`; else a video is spooled to disk
    /// and anything else streamed for its digests.
    pub(super) fn read_member(
        &mut self,
        r: &mut dyn Read,
        stored: Option<u64>,
    ) -> Result<Read_, Refusal> {
        let mut buf = vec![];
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let n = read_some(r, &mut chunk)?;
            if n == 0 {
                return Ok(Read_::Whole(buf));
            }
            self.spend(n as u64, (buf.len() + n) as u64, stored)?;
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() as u64 > self.limits.max_held {
                break;
            }
        }
        let mut d = Digesters::new(self.digests);
        d.update(&buf);
        let mut len = buf.len() as u64;
        let video = matches!(
            sniff::detect(&buf[..buf.len().min(sniff::HEAD)]),
            sniff::Detected::Video(_)
        );
        let mut spool = match video {
            true => Some(Spool::watched().and_then(|(mut s, w)| s.write(&buf).map(|()| (s, w)))),
            false => None,
        };
        buf.truncate(HEAD.max(sniff::HEAD));
        loop {
            let n = read_some(r, &mut chunk)?;
            if n == 0 {
                break;
            }
            len += n as u64;
            self.spend(n as u64, len, stored)?;
            d.update(&chunk[..n]);
            if let Some(Ok((s, _))) = &mut spool
                && let Err(e) = s.write(&chunk[..n])
            {
                spool = Some(Err(e));
            }
        }
        let digests = d.finish();
        Ok(match spool {
            Some(Ok((spool, wait))) => Read_::Spooled {
                spool,
                wait,
                digests,
                head: buf,
            },
            failed => Read_::Streamed {
                len,
                digests,
                head: buf,
                failed: failed.and_then(|f| f.err()).map(|e| e.to_string()),
            },
        })
    }
}

pub(super) fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, Refusal> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Refusal::Io(e)),
        }
    }
}

pub(super) enum Read_ {
    Whole(Vec<u8>),
    Spooled {
        spool: Spool,
        wait: std::sync::mpsc::Receiver<()>,
        digests: Hexes,
        head: Vec<u8>,
    },
    Streamed {
        len: u64,
        digests: Hexes,
        head: Vec<u8>,
        /// Why a video could not be spooled.
        failed: Option<String>,
    },
}

pub(super) enum Refusal {
    Bomb(String),
    Io(std::io::Error),
}

/// What a member too large to hold is, and why it was only streamed.
pub(super) fn too_large(head: &[u8], len: u64, max: u64) -> (String, String) {
    if let Some(k) = detect(head) {
        let why = format!(
            "inner {} of {len} bytes: over the {max} bytes a member may hold in memory (--max-memory): not opened",
            k.name()
        );
        return (k.name().to_string(), why);
    }
    let d = sniff::detect(head);
    let format = sniff::name(d);
    let why = match d.is_picture() {
        true => format!(
            "image of {len} bytes inside a container: over the {max} bytes a member may hold in memory (--max-memory): not decoded"
        ),
        false => "not an image".to_string(),
    };
    (format, why)
}
