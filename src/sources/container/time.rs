//! Times as archives store them, as seconds since 1970.

/// Seconds since 1970 of a calendar time with no zone (ZIP and RAR 4 store local time
/// without saying which; it is read as UTC, as Info-ZIP's `unzip -Z` shows it).
pub fn civil_seconds(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<f64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(mo) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) as f64)
}

/// A DOS date and time (ZIP, RAR 4) as seconds since 1970.
pub fn dos_seconds(date: u16, time: u16) -> Option<f64> {
    civil_seconds(
        1980 + i64::from(date >> 9),
        u32::from((date >> 5) & 15),
        u32::from(date & 31),
        u32::from(time >> 11),
        u32::from((time >> 5) & 63),
        u32::from(time & 31) * 2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_times_count_from_1970() {
        assert_eq!(civil_seconds(1970, 1, 1, 0, 0, 0), Some(0.0));
        assert_eq!(civil_seconds(2000, 3, 1, 12, 0, 0), Some(951_912_000.0));
        // 2024-02-29 10:20:30, as a DOS date and time.
        let date = ((2024 - 1980) << 9) | (2 << 5) | 29;
        let time = (10 << 11) | (20 << 5) | 15;
        assert_eq!(dos_seconds(date, time), Some(1_709_202_030.0));
    }
}
