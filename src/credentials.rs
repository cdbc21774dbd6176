//! The credential store the signer reads from: it refuses blank and expired
//! credentials, so a request is never signed with nothing (envoy #37752).

use crate::config::Env;
use crate::sigv4::Credentials;

/// Credentials closer than this to their expiry are no longer used: a request
/// signed now must still be valid when storage checks it.
pub const EXPIRY_MARGIN_SECS: u64 = 30;

/// Credentials with their expiry (unix seconds), if they expire.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expiring {
    pub credentials: Credentials,
    pub expires_at: Option<u64>,
}

/// The current credentials of one VM.
#[derive(Default, Debug)]
pub struct CredentialStore {
    current: Option<Expiring>,
}

fn is_blank(c: &Credentials) -> bool {
    c.access_key_id.trim().is_empty() || c.secret_access_key.trim().is_empty()
}

impl CredentialStore {
    /// Replaces the credentials; blank ones are refused and the old ones kept.
    pub fn set(&mut self, new: Expiring) -> bool {
        if is_blank(&new.credentials) {
            return false;
        }
        self.current = Some(new);
        true
    }

    /// The credentials to sign with at `now`, or `None` when there are none or
    /// they are (about to be) expired.
    pub fn usable(&self, now: u64) -> Option<&Credentials> {
        let c = self.current.as_ref()?;
        match c.expires_at {
            Some(exp) if now.saturating_add(EXPIRY_MARGIN_SECS) >= exp => None,
            _ => Some(&c.credentials),
        }
    }
}

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`;
/// `None` unless both keys are set and non-blank.
pub fn from_env(env: &dyn Env) -> Option<Expiring> {
    let credentials = Credentials {
        access_key_id: env.var("AWS_ACCESS_KEY_ID")?,
        secret_access_key: env.var("AWS_SECRET_ACCESS_KEY")?,
        session_token: env.var("AWS_SESSION_TOKEN"),
    };
    (!is_blank(&credentials)).then_some(Expiring {
        credentials,
        expires_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(ak: &str, sk: &str) -> Credentials {
        Credentials {
            access_key_id: ak.into(),
            secret_access_key: sk.into(),
            session_token: None,
        }
    }

    #[test]
    fn empty_store_has_nothing() {
        assert!(CredentialStore::default().usable(0).is_none());
    }

    #[test]
    fn blank_credentials_are_refused_and_old_kept() {
        let mut s = CredentialStore::default();
        assert!(s.set(Expiring {
            credentials: creds("AK", "SK"),
            expires_at: None
        }));
        assert!(!s.set(Expiring {
            credentials: creds("", "SK"),
            expires_at: None
        }));
        assert!(!s.set(Expiring {
            credentials: creds("AK", "  "),
            expires_at: None
        }));
        assert_eq!(s.usable(0).unwrap().access_key_id, "AK");
    }

    #[test]
    fn expired_credentials_are_not_used() {
        let mut s = CredentialStore::default();
        s.set(Expiring {
            credentials: creds("AK", "SK"),
            expires_at: Some(1000),
        });
        assert!(s.usable(1000 - EXPIRY_MARGIN_SECS - 1).is_some());
        assert!(s.usable(1000 - EXPIRY_MARGIN_SECS).is_none());
        assert!(s.usable(5000).is_none());
    }

    struct MapEnv(Vec<(&'static str, &'static str)>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_credentials() {
        let e = MapEnv(vec![
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("AWS_SESSION_TOKEN", "T"),
        ]);
        let c = from_env(&e).unwrap();
        assert_eq!(c.credentials.session_token.as_deref(), Some("T"));
        assert!(from_env(&MapEnv(vec![("AWS_ACCESS_KEY_ID", "AK")])).is_none());
        assert!(from_env(&MapEnv(vec![])).is_none());
    }
}
