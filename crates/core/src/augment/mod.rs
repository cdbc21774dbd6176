//! Flow B, header augmentation: what a header provider may answer
//! ([`provider`]) and when to poll it ([`poll`]).

pub mod poll;
pub mod provider;
