//! SigV4 conformance, natively and in seconds: the AWS signing test suite,
//! the worked examples of the S3 API Reference, and a differential test
//! against the AWS SDK for Rust's own signer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod differential;
mod s3_examples;
mod vectors;
