//! The load: client threads sending flows A and C at a steady rate over
//! kept-alive connections; and the HTTP client itself against a scripted
//! server, for the paths the soak rarely takes.

use super::*;

// Load

pub(super) fn load_thread(
    id: usize,
    assets_port: u16,
    edge_port: u16,
    objects: &Objects,
    tally: &Tally,
    stop: &AtomicBool,
    interval: Duration,
) {
    let mut a = Client::new(assets_port);
    let mut c = Client::new(edge_port);
    let mut next = Instant::now() + interval.mul_f64(id as f64 / THREADS as f64);
    let mut n: u64 = 0;
    let mut last_put: Option<(String, Vec<u8>)> = None;
    let good = ["good-1", "good-2"];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if next > now {
            if !nap(stop, next - now) {
                break;
            }
        } else if now - next > Duration::from_secs(1) {
            next = now; // far behind (a slow phase): no burst to catch up
        }
        next += interval;
        let step = n % 10;
        let round = n / 10;
        n += 1;
        // About every 50th request (each kind in turn) closes its connection:
        // Envoy's connection lifecycle is part of the soak.
        let mut headers: Vec<(&str, &str)> = vec![];
        if n.is_multiple_of(47) {
            headers.push(("connection", "close"));
        }
        match step {
            0 | 2 | 5 | 8 => {
                let i = (step as usize / 2 + round as usize) % objects.assets.len();
                let (key, body) = &objects.assets[i];
                let path = format!("/assets/{key}");
                // the biggest object, every other time, as a Range request
                let range = body.len() > 4096 && round % 2 == 1;
                headers.push(("authorization", TOKEN));
                if range {
                    headers.push(("range", "bytes=1000-1999"));
                }
                let r = a.request("GET", &path, &headers, b"");
                let (expect, want) = if range {
                    (206, &body[1000..2000])
                } else {
                    (200, &body[..])
                };
                tally.judge(Kind::AllowedA, &path, r, expect, |r| {
                    if r.body != want {
                        return Err(format!("{} bytes, not the object's", r.body.len()));
                    }
                    if r.header("x-internal-redirect").is_some() {
                        return Err("the marker reached the client".into());
                    }
                    Ok(())
                });
            }
            3 => {
                let (path, auth) = match round % 3 {
                    0 => (format!("/assets/{}", objects.assets[0].0), None),
                    1 => (
                        format!("/assets/{}", objects.assets[1].0),
                        Some("Bearer wrong-token"),
                    ),
                    _ => ("/assets/secret.txt".to_string(), Some(TOKEN)),
                };
                headers.extend(auth.map(|v| ("authorization", v)));
                let r = a.request("GET", &path, &headers, b"");
                tally.judge(Kind::DeniedA, &path, r, 403, |r| {
                    if String::from_utf8_lossy(&r.body).contains(DENIED_BODY) {
                        Ok(())
                    } else {
                        Err("not the auth backend's 403".into())
                    }
                });
            }
            4 => {
                let path = "/echo/probe";
                let r = a.request("GET", path, &headers, b"");
                tally.judge(Kind::Headers, path, r, 200, |r| {
                    let v: Value = serde_json::from_slice(&r.body)
                        .map_err(|e| format!("echo answer is not JSON: {e}"))?;
                    let all = v["headers"].as_array().cloned().unwrap_or_default();
                    let values = |name: &str| -> Vec<String> {
                        all.iter()
                            .filter(|h| h[0] == name)
                            .filter_map(|h| h[1].as_str().map(String::from))
                            .collect()
                    };
                    let token = values("x-idp-token");
                    let Some(which) = good.iter().position(|g| token == [*g]) else {
                        return Err(format!("x-idp-token {token:?}: not one good value"));
                    };
                    tally.seen_good[which].fetch_add(1, Ordering::Relaxed);
                    if values("x-tenant") != ["soak"] {
                        return Err(format!("x-tenant {:?}", values("x-tenant")));
                    }
                    if !values("x-evil").is_empty() {
                        return Err("a header from a refused answer was injected".into());
                    }
                    Ok(())
                });
            }
            1 | 9 => {
                let i = (step as usize + round as usize) % objects.edge.len();
                let (path, body) = &objects.edge[i];
                let r = c.request("GET", path, &headers, b"");
                tally.judge(Kind::GetC, path, r, 200, |r| {
                    if &r.body == body {
                        Ok(())
                    } else {
                        Err(format!("{} bytes, not the object's", r.body.len()))
                    }
                });
            }
            6 => {
                let path = format!("/edge/put/t{id}-{}.bin", round % 4);
                let body = bytes(100 + (round as usize * 37) % 4000, round * 31 + id as u64);
                headers.push(("content-type", "application/octet-stream"));
                let r = c.request("PUT", &path, &headers, &body);
                let mut ok = false;
                tally.judge(Kind::PutC, &path, r, 200, |_| {
                    ok = true;
                    Ok(())
                });
                last_put = ok.then_some((path, body));
            }
            _ => {
                // 7: read back what step 6 wrote (skipped if the PUT failed: already counted)
                if let Some((path, body)) = last_put.take() {
                    let r = c.request("GET", &path, &headers, b"");
                    tally.judge(Kind::ReadBackC, &path, r, 200, |r| {
                        if r.body == body {
                            Ok(())
                        } else {
                            Err(format!("{} bytes, not what was PUT", r.body.len()))
                        }
                    });
                }
            }
        }
    }
    tally
        .connects
        .fetch_add(a.connects + c.connects, Ordering::Relaxed);
    tally
        .retries
        .fetch_add(a.retries + c.retries, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// The client itself, against a scripted server: the paths the soak rarely takes.

/// Reads one request (headers and a content-length body) from `s`.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![];
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "request cut short");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    buf.extend_from_slice(&body);
    buf
}

#[test]
fn soak_client_reads_chunked_bodies_and_resends_on_a_closed_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // 1: an interim 100, then a chunked body with an extension and a
        // trailer; the next request on the kept-alive connection finds it closed.
        let (mut s, _) = listener.accept().unwrap();
        read_request(&mut s);
        s.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n",
        )
        .unwrap();
        read_request(&mut s);
        drop(s);
        // 2: the request sent again; answered with connection: close.
        let (mut s, _) = listener.accept().unwrap();
        let req = read_request(&mut s);
        assert!(req.starts_with(b"GET /b HTTP/1.1\r\n"), "{req:?}");
        s.write_all(
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope",
        )
        .unwrap();
        drop(s);
        // 3: a PUT with a body; an HTTP/1.0 answer delimited by the close.
        let (mut s, _) = listener.accept().unwrap();
        let req = read_request(&mut s);
        assert!(req.ends_with(b"content-length: 4\r\n\r\nbody"), "{req:?}");
        s.write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil close").unwrap();
    });
    let mut c = Client::new(port);
    let r = c.request("GET", "/a", &[], b"").unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"hello world"[..]));
    let r = c.request("GET", "/b", &[], b"").unwrap();
    assert_eq!((r.status, &r.body[..]), (403, &b"nope"[..]));
    assert_eq!((c.connects, c.retries), (2, 1));
    let r = c.request("PUT", "/c", &[], b"body").unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"until close"[..]));
    assert_eq!((c.connects, c.retries), (3, 1));
    assert!(c.conn.is_none(), "a closed connection was kept");
    server.join().unwrap();
}
