//! The auth-backend role (upstream, on the auth backend's cluster): what
//! becomes of the backend's answer once `target::decide` has read it.

use crate::answers::{Answer, Refusal};
use crate::config::ForeignRedirects;
use crate::internal_redirect::target::Decision;
use crate::metrics::Counter;

/// What the filter does with the backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'d> {
    /// Hand the backend's own answer to the client (minus the marker and
    /// `X-Accel-*` headers), bumping the counter if any.
    PassOn(Option<Counter>),
    /// Replace it by a marked 303 to `location`, granting a read of `path`.
    Redirect {
        path: &'d str,
        location: &'d str,
        /// Query parameters a read does not carry were dropped.
        dropped: bool,
    },
    Refuse(Refusal),
}

/// The role's policy over a target decision: internal targets redirect,
/// foreign ones pass or are refused as configured, unsafe ones get 404 as
/// nginx answers an `X-Accel-Redirect` it cannot parse.
pub fn verdict(decision: &Decision, foreign: ForeignRedirects) -> Verdict<'_> {
    match decision {
        Decision::PassThrough => Verdict::PassOn(None),
        Decision::Internal {
            path,
            location,
            dropped,
        } => Verdict::Redirect {
            path,
            location,
            dropped: *dropped,
        },
        Decision::Foreign => match foreign {
            ForeignRedirects::Pass => Verdict::PassOn(Some(Counter::ForeignRedirectsPassed)),
            ForeignRedirects::Reject => Verdict::Refuse(Answer::ForeignRedirect.into()),
        },
        Decision::Unsafe(e) => Verdict::Refuse(Answer::UnsafeTarget.with(format!("{e}"))),
    }
}

/// Whether the redirect's scheme depends on the client connection's TLS
/// (a host call): only for an answer that may redirect (`X-Accel-Redirect`
/// or a 307) a request whose `:scheme` says https.
pub fn needs_tls_check(scheme: &str, accel: bool, status: u32) -> bool {
    scheme.eq_ignore_ascii_case("https") && (accel || status == 307)
}

/// The counter of a marked redirect: an `X-Accel-Redirect` converted, or
/// an internal 307 accepted.
pub fn redirected(accel: bool) -> Counter {
    if accel {
        Counter::RedirectsConverted
    } else {
        Counter::RedirectsAccepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal_redirect::target::PathError;

    #[test]
    fn foreign_redirects_follow_the_policy() {
        assert_eq!(
            verdict(&Decision::Foreign, ForeignRedirects::Pass),
            Verdict::PassOn(Some(Counter::ForeignRedirectsPassed))
        );
        assert_eq!(
            verdict(&Decision::Foreign, ForeignRedirects::Reject),
            Verdict::Refuse(Answer::ForeignRedirect.into())
        );
        assert_eq!(
            verdict(&Decision::PassThrough, ForeignRedirects::Reject),
            Verdict::PassOn(None)
        );
    }

    #[test]
    fn unsafe_targets_are_404_naming_the_rule() {
        let Verdict::Refuse(r) = verdict(
            &Decision::Unsafe(PathError::DotSegment),
            ForeignRedirects::Pass,
        ) else {
            panic!("an unsafe target must be refused");
        };
        assert_eq!(r.status(), 404);
        assert_eq!(r.counter(), Some(Counter::RedirectsRefused));
        assert_eq!(
            r.message(),
            format!(
                "the auth backend's redirect target was refused: {}",
                PathError::DotSegment
            )
        );
    }

    #[test]
    fn internal_targets_redirect_and_count_by_kind() {
        let d = Decision::Internal {
            path: "/p/k".into(),
            location: "http://a/p/k".into(),
            dropped: true,
        };
        assert!(matches!(
            verdict(&d, ForeignRedirects::Reject),
            Verdict::Redirect { dropped: true, .. }
        ));
        assert_eq!(redirected(true), Counter::RedirectsConverted);
        assert_eq!(redirected(false), Counter::RedirectsAccepted);
    }

    #[test]
    fn tls_is_checked_only_when_it_can_matter() {
        assert!(needs_tls_check("HTTPS", true, 200));
        assert!(needs_tls_check("https", false, 307));
        assert!(!needs_tls_check("https", false, 302));
        assert!(!needs_tls_check("http", true, 307));
    }
}
