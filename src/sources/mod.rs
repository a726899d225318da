//! Sources: what turns an input named on the command line into the files to examine. Today
//! directory walking (`walk`); the containers and disk images to come are sources too, each
//! able to hold others, so that `scan`, `hash`, `match` and `refs build` take their files
//! from one room and key resume and shards on one kind of path.

pub mod location;
pub mod walk;
