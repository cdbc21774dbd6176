//! Flow A, internal redirects with nginx X-Accel-Redirect semantics: the
//! filter itself, nginx's documented behaviour as an oracle, and asset-gate
//! side by side with nginx on the same backends.

mod internal_redirect;
mod nginx_oracle;
mod vs_nginx;
