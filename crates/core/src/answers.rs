//! Every local answer asset-gate can send, declared once: its status, the
//! counter it bumps, and its message. A role that ends a request itself
//! returns one of these (a [`Refusal`] when the message has a variable
//! part); the filter sends it as `asset-gate: <message>\n` in plain text and
//! bumps its counter. `docs/troubleshooting.md` is keyed by these messages
//! and checked against this list.
//!
//! A message is a template with at most one `{}`, the variable part (a
//! method, a header name, a limit, the reason a target was refused).

use std::borrow::Cow;

use crate::metrics::Counter;
use crate::primitives::ascii;

macro_rules! answers {
    ($($(#[$doc:meta])* $variant:ident => $status:literal, $counter:expr, $text:literal;)*) => {
        /// One kind of local answer: a role hands the filter one byte.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Answer { $($(#[$doc])* $variant,)* }

        /// Every message, NUL-terminated, back to back (a table of string
        /// slices would take eight bytes a message).
        const TEXTS: &str = concat!($($text, "\0",)*);
        /// Every variant's name, packed the same way ([`Answer::id`]).
        const NAMES: &str = concat!($(stringify!($variant), "\0",)*);
        /// Statuses less 400, a byte each (a `match` would become a table of
        /// 32-bit words).
        static OVER_400: [u8; Answer::ALL.len()] = [$(($status - 400) as u8,)*];

        impl Answer {
            /// Every answer, for the documentation check.
            pub const ALL: &'static [Answer] = &[$(Answer::$variant,)*];

            pub fn status(self) -> u32 {
                400 + u32::from(OVER_400.get(self as usize).copied().unwrap_or(100))
            }

            /// Bumped each time this answer is sent (`None`: a host failure
            /// that the log reports instead).
            pub fn counter(self) -> Option<Counter> {
                match self { $(Answer::$variant => $counter,)* }
            }
        }
    };
}

impl Answer {
    /// The message after `asset-gate: `; `{}` marks the variable part.
    pub fn text(self) -> &'static str {
        crate::primitives::ascii::nth_packed(TEXTS, self as usize)
    }

    /// The answer's short id, its name in snake case (`no_marker`,
    /// `redirect_declined`): what access logs show (the `asset_gate_answer`
    /// filter state), derived from the catalogue so it is written once.
    pub fn id(self) -> String {
        let name = crate::primitives::ascii::nth_packed(NAMES, self as usize);
        let mut id = String::with_capacity(name.len() + 4);
        for b in name.bytes() {
            if b.is_ascii_uppercase() && !id.is_empty() {
                id.push('_');
            }
            id.push(char::from(b.to_ascii_lowercase()));
        }
        id
    }
}

use Counter::*;

answers! {
    // Any role: the host failed us (no counter; the log says which call).
    CannotReadRequest => 500, None, "cannot read request headers";
    CannotReadBody => 500, None, "cannot read the request body";
    /// Header augmentation under `header_failure_policy: deny`.
    NoProviderHeaders => 503, Some(HeadersUnavailable), "no valid headers from the header provider are available";
    CannotAddProviderHeaders => 500, None, "cannot add the provider's headers";

    // The edge role.
    CannotRemoveEnvoyHeaders => 500, None, "cannot remove the client's x-envoy-* headers";
    CannotRemoveMarker => 500, None, "cannot remove an invalid marker";
    /// Envoy handed back a marked 303 of a request with a body.
    RedirectDeclinedBody => 413, Some(RedirectsDeclined), "the backend consented to a read, but Envoy could not follow the internal redirect with this request body; send the request without a body";
    /// Envoy handed back a marked 303 and its stream does not say why
    /// (`roles::edge::declined_redirect`): the usual causes.
    RedirectDeclined => 502, Some(RedirectsDeclined), "Envoy did not follow the internal redirect: redirect_response_codes must be [303], response_headers_to_copy must include the marker header, allowed_route_names the internal route, max_internal_redirects at least 1";

    // The auth-backend role.
    CannotReadBackendAnswer => 502, None, "cannot read the auth backend's answer";
    CannotRewriteBackendAnswer => 502, None, "cannot rewrite the auth backend's answer";
    /// A redirect outside the internal prefixes under `foreign_redirects: reject`.
    ForeignRedirect => 502, Some(RedirectsRefused), "the auth backend redirected outside the internal prefixes";
    /// nginx answers 404 to an X-Accel-Redirect it cannot parse.
    UnsafeTarget => 404, Some(RedirectsRefused), "the auth backend's redirect target was refused: {}";
    KeptHeadersRefused => 502, Some(RedirectsRefused), "cannot follow the auth backend's redirect: {}";
    NoSecret => 503, None, "the internal-redirect secret is not available";
    /// No clock, no marker: its expiry could not be checked.
    NoClock => 503, None, "the clock is not available";

    // The storage role.
    NoMarker => 403, Some(MarkerRejected), "this internal route is reachable only through the auth backend";
    MarkerGrantsReads => 405, Some(ConsentViolations), "the backend's consent grants reads (GET, HEAD) only";
    MarkerReadWithBody => 400, Some(ConsentViolations), "a read consent carries no request body";
    BodyTooLarge => 413, Some(BodiesRefused), "the request body is over the {} bytes asset-gate buffers to sign it";
    NoCredentials => 503, Some(MissingCredentials), "no valid AWS credentials are available to sign this request";
    CannotRewriteRequest => 500, Some(SigningFailures), "cannot rewrite request headers";

    // Preparing a storage request (flows A, C, D).
    MissingPseudoHeader => 400, Some(SigningFailures), "missing {}";
    PseudoHeaderNotUtf8 => 400, Some(SigningFailures), "{} is not valid UTF-8";
    HeaderNotUtf8 => 400, Some(SigningFailures), "header {} is not valid UTF-8";
    RelativePath => 400, Some(SigningFailures), "the request path must start with '/'";
    NotABucket => 400, Some(SigningFailures), "the first path segment is not a valid bucket name";
    NoBucketMapped => 404, Some(SigningFailures), "no bucket is mapped for this path";
    UnsafeKey => 400, Some(SigningFailures), "unsafe object key: {}";
    CannotSign => 400, Some(SigningFailures), "cannot sign this request: {}";
    ChunkSigned => 400, Some(SigningFailures), "chunk-signed uploads cannot be re-signed by the proxy; send the body unsigned";

    // A signing edge's scope (flow C).
    ScopeMethod => 403, Some(ScopeRefused), "this signing edge does not sign {} requests";
    ScopeBucket => 403, Some(ScopeRefused), "this signing edge does not sign requests for this bucket";
    ScopeKey => 403, Some(ScopeRefused), "this signing edge does not sign requests for this key";
    ScopeQuery => 403, Some(ScopeRefused), "this signing edge does not sign this query parameter";
    ScopeRepeatedParameter => 403, Some(ScopeRefused), "this signing edge does not sign a repeated query parameter";
    ScopeEncoding => 403, Some(ScopeRefused), "this signing edge signs only percent-encoded query values";
    ScopeNotAListing => 403, Some(ScopeRefused), "this signing edge signs no bucket-level request but a listing";
    ScopeListing => 403, Some(ScopeRefused), "this signing edge lists only within its key prefixes";
    ScopeHeader => 403, Some(ScopeRefused), "this signing edge does not sign {}";
    ScopeCopySource => 403, Some(ScopeRefused), "this signing edge does not sign this x-amz-copy-source";

    // The gateway role (flow D): the subrequest.
    AuthUnavailable => 503, Some(AuthUnavailable), "the auth backend is unavailable";
    AuthTimeout => 504, Some(AuthTimeouts), "the auth backend did not answer in time";

    // The gateway role: a consent asset-gate cannot act on.
    ConsentUnsafeTarget => 404, Some(RedirectsRefused), "the auth backend's redirect target is not a safe internal path";
    ConsentQuery => 404, Some(RedirectsRefused), "the auth backend's redirect target has a query parameter a read may not carry";
    BadGrant => 502, Some(RedirectsRefused), "bad X-Accel-Grant from the auth backend";
    BadMaxBytes => 502, Some(RedirectsRefused), "bad X-Accel-Max-Bytes from the auth backend";
    BadPresign => 502, Some(RedirectsRefused), "bad X-Accel-Presign from the auth backend";
    PresignNotConfigured => 502, Some(RedirectsRefused), "gateway.presign is not configured";
    PresignWithQuery => 502, Some(RedirectsRefused), "a presigned redirect takes no X-Accel-Redirect query";
    ConsentKeptTooLarge => 502, Some(RedirectsRefused), "the auth backend's headers to keep are too large";
    BadContentType => 502, Some(RedirectsRefused), "bad X-Accel-Content-Type from the auth backend";

    // The gateway role: a request the consent does not cover.
    NoMultipartGrant => 403, Some(ConsentViolations), "the consent grants no multipart upload here";
    NoPutGrant => 403, Some(ConsentViolations), "the consent grants no PUT here";
    NoDeleteGrant => 403, Some(ConsentViolations), "the consent grants no DELETE here";
    CopySource => 403, Some(ConsentViolations), "a consent never covers x-amz-copy-source";
    ReadWithBody => 400, Some(ConsentViolations), "a read carries no request body";
    MultipartUnderLimit => 403, Some(ConsentViolations), "under an upload limit a multipart upload has one part (partNumber=1)";
    ConsentGrantsReads => 403, Some(ConsentViolations), "the consent grants reads (GET, HEAD) only";
    WriteNotCovered => 403, Some(ConsentViolations), "a grant covers plain PUT/DELETE and multipart calls only";
    MethodNotCovered => 405, Some(ConsentViolations), "a consent covers GET, HEAD and granted writes";
    PinnedType => 415, Some(ConsentViolations), "the auth backend pins this upload's Content-Type; declare it";
    UploadTooLarge => 413, Some(UploadsTooLarge), "the upload is larger than the auth backend allows";
    UndeclaredDecodedLength => 400, Some(UploadsTooLarge), "an aws-chunked upload declares x-amz-decoded-content-length";
    CannotPresign => 400, Some(SigningFailures), "cannot presign this request";

    // The edge role: why Envoy handed a marked 303 back, as its stream
    // says (`roles::edge::declined_redirect`).
    /// It did not try: no internal_redirect_policy, or 303 not in its codes.
    RedirectNotTried => 502, Some(RedirectsDeclined), "Envoy did not follow the internal redirect: the route needs internal_redirect_policy with redirect_response_codes [303]";
    /// It tried, and no route matched the redirected request.
    RedirectNoRoute => 502, Some(RedirectsDeclined), "no route matched the internal redirect: response_headers_to_copy must include the marker header";
    /// It tried, and stopped on a route: the one the redirect matched
    /// (refused), or the consenting one (the redirect limit).
    RedirectStopped => 502, Some(RedirectsDeclined), "Envoy refused the internal redirect: allowed_route_names must name the internal route, max_internal_redirects be at least 1";

    // The storage role: a well-formed marker under another secret.
    MarkerOtherKey => 403, Some(MarkerRejected), "the marker is from an asset-gate with another vm_id or Envoy process: all placements must share one vm_id";
    // A signing edge that hashes bodies (flow C), placed without the Envoy
    // setting that hands a held request its body.
    BodyWithheld => 500, None, "Envoy did not hand asset-gate the request body to hash and sign; set allow_on_headers_stop_iteration: true in this filter's PluginConfig";
}

impl Answer {
    /// The message's fixed parts around its variable one (a byte search:
    /// a `&str` pattern would bring the standard substring searcher into
    /// the module).
    fn parts(self) -> (&'static str, &'static str) {
        let text = self.text();
        match ascii::split_once(text, b'{') {
            Some((before, after)) => (before, after.get(1..).unwrap_or_default()),
            None => (text, ""),
        }
    }

    /// The plain-text body on the wire, with `detail` as its variable part.
    pub fn body(self, detail: &str) -> String {
        let (before, after) = self.parts();
        ["asset-gate: ", before, detail, after, "\n"].concat()
    }

    /// This answer with its variable part filled in.
    pub fn with(self, detail: impl Into<Cow<'static, str>>) -> Refusal {
        Refusal {
            answer: self,
            detail: detail.into(),
        }
    }
}

/// A request asset-gate ends itself: which [`Answer`], and the variable
/// part of its message (empty for a fixed one). The one refusal shape of
/// every role and of the core's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub answer: Answer,
    pub detail: Cow<'static, str>,
}

impl From<Answer> for Refusal {
    fn from(answer: Answer) -> Refusal {
        Refusal {
            answer,
            detail: Cow::Borrowed(""),
        }
    }
}

impl Refusal {
    pub fn status(&self) -> u32 {
        self.answer.status()
    }

    pub fn counter(&self) -> Option<Counter> {
        self.answer.counter()
    }

    /// The message with its variable part (without `asset-gate: `).
    pub fn message(&self) -> String {
        let (before, after) = self.answer.parts();
        [before, &self.detail, after].concat()
    }

    /// The plain-text body on the wire.
    pub fn body(&self) -> String {
        self.answer.body(&self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_filled_in_where_their_hole_is() {
        assert_eq!(
            Answer::BodyTooLarge.with("1024").body(),
            "asset-gate: the request body is over the 1024 bytes asset-gate buffers to sign it\n"
        );
        assert_eq!(
            Refusal::from(Answer::NoMarker).body(),
            "asset-gate: this internal route is reachable only through the auth backend\n"
        );
        assert_eq!(
            Answer::UnsafeKey.with("dot segment").message(),
            "unsafe object key: dot segment"
        );
        assert_eq!(
            Answer::PseudoHeaderNotUtf8.with(":path").message(),
            ":path is not valid UTF-8"
        );
    }

    #[test]
    fn the_catalogue_is_consistent() {
        for (i, a) in Answer::ALL.iter().enumerate() {
            assert!((400..600).contains(&a.status()), "{a:?}");
            let text = a.text();
            // Stored NUL-terminated.
            assert!(!text.is_empty() && !text.contains('\0'), "{a:?}");
            // One hole at most, and no other brace (`Refusal::parts` looks for `{`).
            let braces = text.matches('{').count();
            assert!(braces <= 1 && text.matches("{}").count() == braces, "{a:?}");
            assert!(
                !text.ends_with('\n') && !text.starts_with("asset-gate"),
                "{a:?}"
            );
            // One status and one counter per message: the docs are keyed by it.
            assert!(
                !Answer::ALL[..i].iter().any(|b| b.text() == text),
                "{text} is declared twice"
            );
        }
    }

    #[test]
    fn ids_are_the_names_in_snake_case() {
        assert_eq!(Answer::NoMarker.id(), "no_marker");
        assert_eq!(Answer::RedirectDeclined.id(), "redirect_declined");
        assert_eq!(Answer::CannotReadRequest.id(), "cannot_read_request");
        assert_eq!(Answer::BodyWithheld.id(), "body_withheld");
        let ids: Vec<String> = Answer::ALL.iter().map(|a| a.id()).collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[..i].contains(id), "{id} twice");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{id}"
            );
        }
    }

    /// The message as docs/troubleshooting.md quotes it: status, `asset-gate: `,
    /// the template with its variable part written `...`.
    fn quoted(a: &Answer) -> String {
        format!(
            "{} asset-gate: {}",
            a.status(),
            a.text().replace("{}", "...")
        )
    }

    /// Every `NNN asset-gate: ...` quoted in the first column of
    /// docs/troubleshooting.md.
    fn documented(doc: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for line in doc.lines() {
            let Some(row) = line.strip_prefix("| ") else {
                continue;
            };
            let symptom = row.split(" | ").next().unwrap_or_default();
            for (i, quote) in symptom.split('`').enumerate() {
                if i % 2 == 1 && quote.contains(" asset-gate: ") {
                    out.push(quote);
                }
            }
        }
        out
    }

    /// docs/troubleshooting.md quotes every catalogued answer, exactly, and
    /// no message that asset-gate does not send.
    #[test]
    fn troubleshooting_quotes_every_answer_exactly() {
        let doc = include_str!("../../../docs/troubleshooting.md");
        let quotes = documented(doc);
        let all: Vec<String> = Answer::ALL.iter().map(quoted).collect();
        for q in &quotes {
            assert!(
                all.iter().any(|a| a == q),
                "docs/troubleshooting.md quotes `{q}`, which asset-gate does not send"
            );
        }
        for a in &all {
            assert!(
                quotes.contains(&a.as_str()),
                "`{a}` is missing from docs/troubleshooting.md"
            );
        }
    }
}
