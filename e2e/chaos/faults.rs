//! The chaos drivers: the header provider cycling through good and bad
//! answers, and the storage credentials rotating between identities.

use super::*;

// Chaos

/// Header provider behaviours, in order, with how long each lasts (one
/// cycle: 26.5 s). Polls come 1 s after a success and at most 2 s (the
/// backoff cap) plus a 250 ms tick after a failure, and a timed-out poll
/// fails 500 ms after it started, so every phase is polled at least once
/// with 0.75 s to spare: bad phases last 3 s, good ones and the timeout
/// phase 3.5 s.
pub(super) fn provider_phases() -> Vec<(&'static str, Value, Duration)> {
    let good = |token: &str| {
        json!({"status": 200, "raw_body": null, "delay_s": 0,
               "body": {"x-idp-token": token, "x-tenant": "soak"}})
    };
    let ms = Duration::from_millis;
    vec![
        ("good-1", good("good-1"), ms(3500)),
        (
            "http-500",
            json!({"status": 500, "raw_body": "provider down", "delay_s": 0}),
            ms(3000),
        ),
        ("good-2", good("good-2"), ms(3500)),
        (
            "timeout",
            json!({"status": 200, "raw_body": null, "delay_s": 1.5}),
            ms(3500),
        ),
        ("good-1", good("good-1"), ms(3500)),
        (
            "garbage",
            json!({"status": 200, "delay_s": 0, "raw_body": "{\"x-idp-token\": \"trunc"}),
            ms(3000),
        ),
        ("good-2", good("good-2"), ms(3500)),
        (
            "crlf",
            json!({"status": 200, "delay_s": 0,
                   "raw_body": "{\"x-idp-token\": \"evil\\r\\nx-evil: 1\", \"x-tenant\": \"soak\"}"}),
            ms(3000),
        ),
    ]
}

/// The metric each bad provider phase must move.
pub(super) fn phase_metric(phase: &str) -> Option<&'static str> {
    match phase {
        "http-500" => Some("header_polls_failed_status"),
        "timeout" => Some("header_polls_failed_timeout"),
        "garbage" => Some("header_polls_failed_invalid_json"),
        "crlf" => Some("header_polls_failed_invalid_header"),
        _ => None,
    }
}

pub(super) fn provider_chaos(
    provider: &Backend,
    tally: &Tally,
    stop: &AtomicBool,
    completed: &Mutex<Vec<&'static str>>,
) {
    let phases = provider_phases();
    for (name, behaviour, hold) in phases.iter().cycle() {
        *tally.provider_phase.lock().unwrap() = name;
        provider.control(behaviour.clone());
        if !nap(stop, *hold) {
            break;
        }
        completed.lock().unwrap().push(name);
    }
}

/// Which identity signs flow C requests now: only xena may read bucket `xonly`.
pub(super) fn probe_identity(client: &mut Client) -> Option<&'static str> {
    match client.request("GET", "/xonly/probe.txt", &[], b"") {
        Ok(r) if r.status == 200 => Some("xena"),
        Ok(r) if r.status == 403 => Some("yuri"),
        _ => None,
    }
}

/// Rotates the endpoint's credentials xena -> yuri -> (500: keep yuri) ->
/// xena -> ... and checks with a probe that signing follows each rotation
/// and keeps the current identity while the endpoint fails.
pub(super) fn creds_chaos(
    creds: &Backend,
    edge_port: u16,
    ids: [&Identity; 2],
    tally: &Tally,
    stop: &AtomicBool,
    rotations: &Mutex<Vec<f64>>,
    problems: &Mutex<Vec<String>>,
) {
    let mut probe = Client::new(edge_port);
    let mut current = "xena";
    let hold = Duration::from_millis(4500);
    for step in 0u64.. {
        let (phase, target): (&'static str, Option<&Identity>) = match step % 3 {
            0 => ("yuri", Some(ids[1])),
            1 => ("http-500", None),
            _ => ("xena", Some(ids[0])),
        };
        *tally.creds_phase.lock().unwrap() = phase;
        let began = Instant::now();
        match target {
            Some(id) => {
                creds.control(json!({"status": 200, "access_key_id": id.access_key,
                                     "secret_access_key": id.secret_key}));
                // Seen within refresh_interval plus a failed refresh's backoff.
                let mut seen = false;
                while began.elapsed() < Duration::from_secs(20) {
                    if probe_identity(&mut probe) == Some(phase) {
                        seen = true;
                        break;
                    }
                    if !nap(stop, Duration::from_millis(100)) {
                        return;
                    }
                }
                if seen {
                    rotations
                        .lock()
                        .unwrap()
                        .push(began.elapsed().as_secs_f64());
                    current = phase;
                } else {
                    problems.lock().unwrap().push(format!(
                        "credentials rotation {current}->{phase} not seen in signing within 20 s"
                    ));
                }
            }
            None => {
                creds.control(json!({"status": 500}));
            }
        }
        if !nap(stop, hold.saturating_sub(began.elapsed())) {
            return;
        }
        if target.is_none() {
            // A failing endpoint keeps the current credentials.
            match probe_identity(&mut probe) {
                Some(who) if who == current => {}
                other => problems.lock().unwrap().push(format!(
                    "while the credentials endpoint failed, signing used {other:?}, not {current}"
                )),
            }
        }
    }
}
