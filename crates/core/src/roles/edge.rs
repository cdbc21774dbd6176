//! The edge role (downstream, on the listener): what a client gets when
//! Envoy hands asset-gate's own internal redirect back instead of following it.

use crate::answers::Answer;

/// The answer to a response that still carries asset-gate's marker: Envoy
/// did not follow the 303. A request with a body most likely could not be
/// buffered for the redirect (413); otherwise the route is at fault (502).
/// The client never gets the 303, its location or the marker.
pub fn declined_redirect(had_body: bool) -> Answer {
    if had_body {
        Answer::RedirectDeclinedBody
    } else {
        Answer::RedirectDeclined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declined_redirect_blames_the_body_only_when_there_was_one() {
        assert_eq!(declined_redirect(true).status(), 413);
        assert_eq!(declined_redirect(false).status(), 502);
        assert_ne!(declined_redirect(true), declined_redirect(false));
    }
}
