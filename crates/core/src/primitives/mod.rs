//! The small building blocks every feature uses; they import nothing else
//! from this crate except each other.

pub mod ascii;
pub mod header_map;
pub mod hex;
pub mod json;
pub mod sha256;
pub mod sort;
pub mod syntax;
