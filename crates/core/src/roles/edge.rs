//! The edge role (downstream, on the listener): what a client gets, and what
//! the log says, when Envoy hands asset-gate's own internal redirect back
//! instead of following it.

use crate::answers::Answer;

/// What Envoy's stream says of a `303` it handed back (Envoy 1.40: its
/// router leaves no other trace, and logs the reason at trace level only).
/// The edge role reads it only then, never on the way in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trace<'a> {
    /// Whether the router tried to follow: it creates its
    /// `num_internal_redirects` filter state at its first attempt, once the
    /// route's policy took the `303` and the whole request was received.
    /// `None` when it could not be read.
    pub tried: Option<bool>,
    /// The stream's route now (`xds.route_name`): the consenting route, or,
    /// when the attempt got as far as looking the redirect up, the route
    /// that matched it (none when nothing did).
    pub route: Option<&'a str>,
}

/// The answer to a response that still carries asset-gate's marker: Envoy
/// did not follow the `303`. Where its stream says why, that cause; where
/// it does not, the usual ones. A request with a body Envoy did not even
/// try to follow most likely could not be buffered for the redirect (413);
/// otherwise the route is at fault (502). The client never gets the `303`,
/// its location or the marker.
pub fn declined_redirect(had_body: bool, trace: &Trace) -> Answer {
    match (trace.tried, trace.route) {
        (Some(false) | None, _) if had_body => Answer::RedirectDeclinedBody,
        // No internal_redirect_policy, or 303 not among its codes.
        (Some(false), _) => Answer::RedirectNotTried,
        // Nothing matched the redirected request: the internal route
        // matches only with the marker, which was not copied.
        (Some(true), None) => Answer::RedirectNoRoute,
        // The route the redirect matched was refused by the policy's
        // predicate (`allowed_route_names`), or, before any lookup, the
        // consenting route reached `max_internal_redirects`: both leave a
        // route, whose name the warning gives.
        (Some(true), Some(_)) => Answer::RedirectStopped,
        (None, _) => Answer::RedirectDeclined,
    }
}

/// How a declined redirect's warning names the stream's route.
pub fn route_label(route: Option<&str>) -> &str {
    match route {
        None => "none",
        Some("") => "unnamed",
        Some(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(tried: Option<bool>, route: Option<&str>) -> Trace<'_> {
        Trace { tried, route }
    }

    #[test]
    fn each_trace_envoy_leaves_names_its_cause() {
        let cases = [
            // (a) no policy, (b) 307 only: the router never tried.
            (trace(Some(false), Some("assets")), Answer::RedirectNotTried),
            // (c) no response_headers_to_copy: no route for the redirect.
            (trace(Some(true), None), Answer::RedirectNoRoute),
            // (d) a stale allowed_route_names: the internal route matched;
            // (e) max_internal_redirects 0: still on the consenting route.
            (
                trace(Some(true), Some("internal_assets")),
                Answer::RedirectStopped,
            ),
            (trace(Some(true), Some("assets")), Answer::RedirectStopped),
            // Nothing readable: the usual causes.
            (trace(None, Some("assets")), Answer::RedirectDeclined),
        ];
        for (trace, answer) in cases {
            assert_eq!(declined_redirect(false, &trace), answer, "{trace:?}");
            assert_eq!(answer.status(), 502);
        }
    }

    #[test]
    fn a_body_is_blamed_only_when_envoy_did_not_try() {
        let untried = trace(Some(false), Some("assets"));
        assert_eq!(
            declined_redirect(true, &untried),
            Answer::RedirectDeclinedBody
        );
        assert_eq!(Answer::RedirectDeclinedBody.status(), 413);
        let unknown = trace(None, None);
        assert_eq!(
            declined_redirect(true, &unknown),
            Answer::RedirectDeclinedBody
        );
        // It tried, so the body was buffered: the route is at fault.
        let tried = trace(Some(true), None);
        assert_eq!(declined_redirect(true, &tried), Answer::RedirectNoRoute);
    }

    #[test]
    fn the_warning_names_the_route() {
        assert_eq!(route_label(Some("internal_assets")), "internal_assets");
        assert_eq!(route_label(None), "none");
        assert_eq!(route_label(Some("")), "unnamed");
    }
}
