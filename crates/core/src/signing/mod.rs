//! Turning a consented or scoped request into the exact storage request that
//! is signed: [`prepare`] (the storage role and the signing edge) and
//! [`scope`] (what a scoped signing edge may sign).

pub mod prepare;
pub mod scope;
#[cfg(test)]
pub(crate) mod testkit;
