//! Sources: what turns an input named on the command line into the files to examine:
//! directory walking (`walk`), files inside others (`container`: archives, compressed
//! streams, documents, thumbnails), each named by one grammar (`location`) and digested as
//! it streams past (`digest`). Disk images will join as containers of their own.

pub mod container;
pub mod digest;
pub mod location;
pub mod spool;
pub mod walk;
