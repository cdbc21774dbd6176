//! A small keep-alive HTTP/1.1 client, for load (curl per request would be
//! the bottleneck): reused connections, a resend when a kept-alive one was
//! closed, chunked bodies, interim 1xx answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

// A small keep-alive HTTP/1.1 client (curl per request would be the bottleneck).

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(160).collect();
        text.replace(['\r', '\n'], " ")
    }
}

/// Where an exchange failed: before any byte of the response (a reused
/// connection the server had closed: retry on a new one) or after.
pub enum Fail {
    Before(String),
    After(String),
}

impl Fail {
    pub fn message(self) -> String {
        match self {
            Fail::Before(m) | Fail::After(m) => m,
        }
    }
}

pub struct Client {
    pub port: u16,
    pub conn: Option<BufReader<TcpStream>>,
    pub connects: u64,
    /// Requests sent again on a new connection because the kept-alive one was closed.
    pub retries: u64,
}

pub const MAX_BODY: usize = 16 << 20;

pub fn read_line(conn: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> std::io::Result<usize> {
    line.clear();
    let n = conn.by_ref().take(16 * 1024).read_until(b'\n', line)?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(n)
}

/// Sends one request and reads its response; true when the connection stays usable.
pub fn exchange(
    conn: &mut BufReader<TcpStream>,
    request: &[u8],
    head: bool,
) -> Result<(Reply, bool), Fail> {
    let after = |what: &str, e: std::io::Error| Fail::After(format!("{what}: {e}"));
    conn.get_mut()
        .write_all(request)
        .map_err(|e| Fail::Before(format!("write: {e}")))?;
    let mut line = Vec::new();
    let mut first = true;
    let (status, keep_default, headers) = loop {
        let n = match read_line(conn, &mut line) {
            Ok(n) => n,
            Err(e)
                if first
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::BrokenPipe
                    ) =>
            {
                return Err(Fail::Before(format!("read: {e}")))
            }
            Err(e) => return Err(after("read status line", e)),
        };
        if n == 0 {
            let m = "connection closed before the response".to_string();
            return Err(if first {
                Fail::Before(m)
            } else {
                Fail::After(m)
            });
        }
        first = false;
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Fail::After(format!("bad status line {text:?}")))?;
        let mut headers = vec![];
        loop {
            let n = read_line(conn, &mut line).map_err(|e| after("read headers", e))?;
            if n == 0 {
                return Err(Fail::After("connection closed in the headers".into()));
            }
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let (k, v) = text
                .split_once(':')
                .ok_or_else(|| Fail::After(format!("bad header line {text:?}")))?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        if (100..200).contains(&status) {
            continue; // interim response
        }
        break (status, version == "HTTP/1.1", headers);
    };
    let mut reply = Reply {
        status,
        headers,
        body: vec![],
    };
    let connection = reply
        .header("connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut keep = keep_default && !connection.contains("close");
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = reply
        .header("content-length")
        .map(|v| v.parse::<usize>())
        .transpose()
        .map_err(|_| Fail::After("bad content-length".into()))?;
    if head || status == 204 || status == 304 {
        // no body
    } else if chunked {
        loop {
            let n = read_line(conn, &mut line).map_err(|e| after("read chunk size", e))?;
            if n == 0 {
                return Err(Fail::After("connection closed in a chunked body".into()));
            }
            let text = String::from_utf8_lossy(&line);
            let hex = text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| Fail::After(format!("bad chunk size {text:?}")))?;
            if size == 0 {
                // trailers, up to the empty line
                loop {
                    let n = read_line(conn, &mut line).map_err(|e| after("read trailers", e))?;
                    if n == 0 || line.is_empty() {
                        break;
                    }
                }
                break;
            }
            if reply.body.len() + size > MAX_BODY {
                return Err(Fail::After("body too large".into()));
            }
            let start = reply.body.len();
            reply.body.resize(start + size, 0);
            conn.read_exact(&mut reply.body[start..])
                .map_err(|e| after("read chunk", e))?;
            let mut crlf = [0u8; 2];
            conn.read_exact(&mut crlf)
                .map_err(|e| after("read chunk end", e))?;
            if &crlf != b"\r\n" {
                return Err(Fail::After("chunk not followed by CRLF".into()));
            }
        }
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(Fail::After("body too large".into()));
        }
        reply.body.resize(n, 0);
        conn.read_exact(&mut reply.body)
            .map_err(|e| after("read body", e))?;
    } else {
        keep = false;
        conn.by_ref()
            .take(MAX_BODY as u64)
            .read_to_end(&mut reply.body)
            .map_err(|e| after("read body to close", e))?;
    }
    Ok((reply, keep))
}

impl Client {
    pub fn new(port: u16) -> Client {
        Client {
            port,
            conn: None,
            connects: 0,
            retries: 0,
        }
    }

    pub fn connect(&mut self) -> Result<BufReader<TcpStream>, String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .and_then(|_| s.set_write_timeout(Some(Duration::from_secs(30))))
            .and_then(|_| s.set_nodelay(true))
            .map_err(|e| format!("socket options: {e}"))?;
        self.connects += 1;
        Ok(BufReader::with_capacity(64 * 1024, s))
    }

    pub fn once(&mut self, request: &[u8], head: bool) -> Result<Reply, Fail> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().map_err(Fail::After)?,
        };
        let (reply, keep) = exchange(&mut conn, request, head)?;
        if keep {
            self.conn = Some(conn);
        }
        Ok(reply)
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n",
            self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "PUT" || method == "POST" {
            req.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        let head = method == "HEAD";
        let reused = self.conn.is_some();
        match self.once(&bytes, head) {
            Err(Fail::Before(_)) if reused => {
                self.retries += 1;
                self.once(&bytes, head).map_err(Fail::message)
            }
            r => r.map_err(Fail::message),
        }
    }
}
