//! A user's first deployment: their own app behind asset-gate, each
//! deployment fact stated once, every usual mistake named in the answer and
//! the log, and shipped configs that are safe to run in production.

mod redirect_mistakes;
mod shared_config;
mod shipped_configs;
mod storage_errors;
mod your_app;
