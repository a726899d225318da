//! File type by content (magic bytes), not by extension.

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Image(image::ImageFormat),
    /// HEIC or AVIF (HEIF still images), decoded by libheif in a child process.
    Heif(&'static str),
    Video(&'static str),
    Other(&'static str),
    Unknown,
}

/// How many leading bytes `detect` looks at (an MPEG-TS sync byte repeats at 188).
pub const HEAD: usize = 192;

pub fn detect(head: &[u8]) -> Detected {
    // Before the MP4 rule below and before image::guess_format, which both claim HEIF.
    if let Some(brand) = super::bmff::heif_brand(head) {
        return Detected::Heif(brand);
    }
    if let Ok(f) = image::guess_format(head) {
        // image::guess_format also claims formats we do not decode; those are skipped.
        if SUPPORTED.contains(&f) {
            return Detected::Image(f);
        }
        return Detected::Other("image format not supported");
    }
    let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
    if at(4, b"ftyp") {
        return Detected::Video(if at(8, b"qt  ") { "mov" } else { "mp4" });
    }
    if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
        return Detected::Video("mkv/webm");
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Detected::Video("avi");
    }
    if head.len() >= 189 && head[0] == 0x47 && head[188] == 0x47 {
        return Detected::Video("mpeg-ts");
    }
    if at(0, &[0, 0, 1, 0xba]) || at(0, &[0, 0, 1, 0xb3]) {
        return Detected::Video("mpeg-ps");
    }
    for (magic, name) in OTHER {
        if at(0, magic) {
            return Detected::Other(name);
        }
    }
    Detected::Unknown
}

/// What a file's first bytes say it is; unreadable files are `Unknown`.
pub fn detect_file(path: &std::path::Path) -> Detected {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD);
    let read = std::fs::File::open(path).and_then(|f| f.take(HEAD as u64).read_to_end(&mut head));
    match read {
        Ok(_) => detect(&head),
        Err(_) => Detected::Unknown,
    }
}

pub const SUPPORTED: [image::ImageFormat; 6] = [
    image::ImageFormat::Jpeg,
    image::ImageFormat::Png,
    image::ImageFormat::Gif,
    image::ImageFormat::WebP,
    image::ImageFormat::Bmp,
    image::ImageFormat::Tiff,
];

const OTHER: [(&[u8], &str); 8] = [
    (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\x7fELF", "elf"),
    (b"MZ", "exe"),
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!", "rar"),
    (b"SQLite format 3\0", "sqlite"),
];

impl Detected {
    /// A still picture we decode (HEIF included).
    pub fn is_picture(self) -> bool {
        matches!(self, Detected::Image(_) | Detected::Heif(_))
    }
}

/// Lowercase name of a detected type, for records and counts.
pub fn name(d: Detected) -> String {
    match d {
        Detected::Image(f) => f
            .extensions_str()
            .first()
            .copied()
            .unwrap_or("image")
            .to_string(),
        Detected::Heif(h) | Detected::Video(h) => h.to_string(),
        Detected::Other(o) => o.to_string(),
        Detected::Unknown => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(
            detect(b"\xff\xd8\xff\xe0\0\x10JFIF"),
            Detected::Image(image::ImageFormat::Jpeg)
        );
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n"),
            Detected::Image(image::ImageFormat::Png)
        );
        assert_eq!(detect(b"\0\0\0\x20ftypisom"), Detected::Video("mp4"));
        assert_eq!(
            detect(b"\0\0\0\x14ftypqt  \0\0\0\0qt  "),
            Detected::Video("mov")
        );
        assert_eq!(
            detect(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Detected::Heif("heic")
        );
        assert_eq!(
            detect(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Detected::Heif("avif")
        );
        assert!(Detected::Heif("avif").is_picture());
        assert_eq!(detect(b"%PDF-1.7"), Detected::Other("pdf"));
        assert_eq!(detect(b"hello"), Detected::Unknown);
        assert_eq!(name(detect(b"GIF89a")), "gif");
    }
}
