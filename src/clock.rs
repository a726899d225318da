//! Times as case files write them: ISO 8601, in UTC for machines and with the scanning
//! machine's own UTC offset for people. Dates come from the proleptic Gregorian calendar
//! (days since 1970 to year, month, day); the offset from the C library's `localtime_r`,
//! which reads the machine's time-zone rules, so summer time is right for each moment.

use std::time::SystemTime;

/// Seconds since 1970-01-01 UTC (fractions kept), as records store times.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The machine's offset from UTC at `unix` seconds, in seconds east of Greenwich.
#[cfg(unix)]
pub fn local_offset(unix: f64) -> i64 {
    let t = unix.floor() as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers live for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok { tm.tm_gmtoff } else { 0 }
}

#[cfg(not(unix))]
pub fn local_offset(_unix: f64) -> i64 {
    0
}

/// Year, month (1-12) and day (1-31) of a day counted from 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    // Eras of 400 years repeat the calendar exactly; count from 0000-03-01 so that the
    // leap day is the last day of its year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `unix` seconds as ISO 8601 at `offset` seconds east of UTC: `2026-12-02T18:38:01+01:00`,
/// or with `Z` at offset 0.
pub fn iso8601(unix: f64, offset: i64) -> String {
    let local = unix.floor() as i64 + offset;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, mo, d) = civil(days);
    let zone = match offset {
        0 => "Z".to_string(),
        o => format!(
            "{}{:02}:{:02}",
            if o < 0 { '-' } else { '+' },
            o.abs() / 3600,
            o.abs() % 3600 / 60
        ),
    };
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}{zone}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `unix` seconds in UTC: `2026-12-02T17:38:01Z`.
pub fn iso8601_utc(unix: f64) -> String {
    iso8601(unix, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_offsets_are_iso_8601() {
        assert_eq!(iso8601_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(1_796_233_081.5), "2026-12-02T17:38:01Z");
        assert_eq!(iso8601(1_796_233_081.0, 3600), "2026-12-02T18:38:01+01:00");
        assert_eq!(
            iso8601(1_796_233_081.0, -16_200),
            "2026-12-02T13:08:01-04:30"
        );
        assert_eq!(iso8601_utc(-1.0), "1969-12-31T23:59:59Z");
    }
}
