//! A real SMTP server that keeps what it receives: for tests and the benchmark.
//!
//! It speaks enough of RFC 5321 for any client: `EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA` (with
//! dot-unstuffing), `RSET`, `NOOP`, `VRFY`, `QUIT`, on 127.0.0.1 at a port of its own. It can
//! be told to misbehave the ways a real server does:
//! - [`SinkMode::TempFail`]: answer `451` to every message (a busy or greylisting server);
//! - [`SinkMode::Down`]: greet new connections with `421` and answer `421` to any command on
//!   open ones, then close (a server that died or is being restarted);
//! - [`Sink::fail_after`]: go [`SinkMode::Down`] right after accepting N more messages;
//! - [`Sink::reject_recipient`]: refuse one mailbox with `550` (permanent);
//! - [`Sink::drop_after_data`]: take the next N messages in full, then close the connection
//!   without answering — the one window SMTP cannot close (did the server take it?).
//!
//! [`raw_blast`] is a minimal SMTP client loop used by the benchmark to measure how fast the
//! sink itself accepts messages, beside which the notice runner's rate is reported.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Longest command line accepted (RFC 5321 allows 512; be generous).
const MAX_LINE: usize = 4096;
/// Largest message accepted.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// Accept every message with `250`.
    Accept,
    /// Answer `451` at the end of every message's data.
    TempFail,
    /// `421` to new connections and to any command; connections are closed.
    Down,
}

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The reverse path of `MAIL FROM`.
    pub mail_from: String,
    /// The forward paths of `RCPT TO`.
    pub rcpt_to: Vec<String>,
    /// The message (headers and body) after dot-unstuffing, CRLF line ends.
    pub data: Vec<u8>,
}

impl ReceivedMessage {
    /// The value of the first header named `name` (case-insensitive), unfolded, raw (not
    /// decoded).
    pub fn raw_header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push_str(line);
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.trim().eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_string());
                }
            }
        }
        found
    }
}

#[derive(Debug)]
struct State {
    mode: SinkMode,
    fail_after: Option<u64>,
    drop_after_data: u64,
    rejected: HashSet<String>,
    messages: Vec<ReceivedMessage>,
    record: bool,
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    state: Mutex<State>,
    accepted: AtomicU64,
    first_accept: Mutex<Option<Instant>>,
    last_accept: Mutex<Option<Instant>>,
    stop: watch::Sender<bool>,
}

/// A running sink. Cheap to clone; stops when [`Sink::stop`] is called (or the runtime ends).
#[derive(Debug, Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Sink {
    /// Start a sink on 127.0.0.1 at a free port.
    pub async fn start() -> std::io::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let inner = Arc::new(Inner {
            addr,
            state: Mutex::new(State {
                mode: SinkMode::Accept,
                fail_after: None,
                drop_after_data: 0,
                rejected: HashSet::new(),
                messages: Vec::new(),
                record: true,
            }),
            accepted: AtomicU64::new(0),
            first_accept: Mutex::new(None),
            last_accept: Mutex::new(None),
            stop,
        });
        let server = inner.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    conn = listener.accept() => {
                        let Ok((stream, _)) = conn else { continue };
                        let _ = stream.set_nodelay(true);
                        let inner = server.clone();
                        tokio::spawn(async move {
                            let _ = session(inner, stream).await;
                        });
                    }
                }
            }
        });
        Ok(Sink { inner })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Stop accepting connections.
    pub fn stop(&self) {
        let _ = self.inner.stop.send(true);
    }

    /// Messages received so far, in the order they were accepted.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        lock(&self.inner.state).messages.clone()
    }

    /// Forget the messages received so far.
    pub fn clear(&self) {
        lock(&self.inner.state).messages.clear();
    }

    /// Keep message contents (default) or only count them (benchmarks of large runs).
    pub fn set_recording(&self, record: bool) {
        lock(&self.inner.state).record = record;
    }

    /// How many messages were accepted with `250` since start.
    pub fn accepted(&self) -> u64 {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Time between the first and the last accepted message.
    pub fn accept_span(&self) -> Option<Duration> {
        let first = (*lock(&self.inner.first_accept))?;
        let last = (*lock(&self.inner.last_accept))?;
        Some(last.saturating_duration_since(first))
    }

    /// Reset the accept timing (before a measured run).
    pub fn reset_timing(&self) {
        *lock(&self.inner.first_accept) = None;
        *lock(&self.inner.last_accept) = None;
    }

    /// Change how it answers. Setting a mode clears a pending [`Sink::fail_after`].
    pub fn set_mode(&self, mode: SinkMode) {
        let mut s = lock(&self.inner.state);
        s.mode = mode;
        s.fail_after = None;
    }

    /// The current mode.
    pub fn mode(&self) -> SinkMode {
        lock(&self.inner.state).mode
    }

    /// Accept `n` more messages, then go [`SinkMode::Down`].
    pub fn fail_after(&self, n: u64) {
        let mut s = lock(&self.inner.state);
        if n == 0 {
            s.mode = SinkMode::Down;
            s.fail_after = None;
        } else {
            s.fail_after = Some(n);
        }
    }

    /// Refuse `RCPT TO` of this mailbox (case-insensitive) with `550`.
    pub fn reject_recipient(&self, mailbox: &str) {
        lock(&self.inner.state)
            .rejected
            .insert(mailbox.to_ascii_lowercase());
    }

    /// Take the next `n` messages in full (they are recorded), then close the connection
    /// without the final reply.
    pub fn drop_after_data(&self, n: u64) {
        lock(&self.inner.state).drop_after_data = n;
    }
}

enum AfterData {
    Reply(String),
    Drop,
}

impl Inner {
    fn mode(&self) -> SinkMode {
        lock(&self.state).mode
    }

    fn finish_data(&self, msg: ReceivedMessage) -> AfterData {
        let mut s = lock(&self.state);
        if s.mode == SinkMode::Down {
            return AfterData::Reply("421 4.3.0 service not available\r\n".into());
        }
        if s.drop_after_data > 0 {
            s.drop_after_data -= 1;
            s.messages.push(msg);
            return AfterData::Drop;
        }
        if s.mode == SinkMode::TempFail {
            return AfterData::Reply("451 4.3.0 temporary failure, try again later\r\n".into());
        }
        if s.record {
            s.messages.push(msg);
        }
        let n = self.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let now = Instant::now();
        {
            let mut first = lock(&self.first_accept);
            if first.is_none() {
                *first = Some(now);
            }
        }
        *lock(&self.last_accept) = Some(now);
        if let Some(left) = s.fail_after {
            if left <= 1 {
                s.fail_after = None;
                s.mode = SinkMode::Down;
            } else {
                s.fail_after = Some(left - 1);
            }
        }
        AfterData::Reply(format!("250 2.0.0 Ok: queued as {n}\r\n"))
    }
}

/// The address inside `FROM:<…>` / `TO:<…>`.
fn path_of(arg: &str) -> Option<String> {
    let start = arg.find('<')?;
    let end = arg[start..].find('>')? + start;
    Some(arg[start + 1..end].to_string())
}

async fn session(inner: Arc<Inner>, stream: TcpStream) -> std::io::Result<()> {
    let (r, w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut w = BufWriter::new(w);
    if inner.mode() == SinkMode::Down {
        w.write_all(b"421 4.3.0 service not available\r\n").await?;
        w.flush().await?;
        return Ok(());
    }
    w.write_all(b"220 derbes-sink ESMTP ready\r\n").await?;
    w.flush().await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if inner.mode() == SinkMode::Down {
            w.write_all(b"421 4.3.0 service not available\r\n").await?;
            w.flush().await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        let reply: String = match verb.as_str() {
            "EHLO" => {
                "250-derbes-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760\r\n".into()
            }
            "HELO" => "250 derbes-sink\r\n".into(),
            "MAIL" => match path_of(arg) {
                Some(p) if arg.to_ascii_uppercase().starts_with("FROM:") => {
                    from = Some(p);
                    rcpts.clear();
                    "250 2.1.0 Ok\r\n".into()
                }
                _ => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" => match (&from, path_of(arg)) {
                (None, _) => "503 5.5.1 need MAIL first\r\n".into(),
                (Some(_), Some(p)) if arg.to_ascii_uppercase().starts_with("TO:") => {
                    if lock(&inner.state)
                        .rejected
                        .contains(&p.to_ascii_lowercase())
                    {
                        // Like real servers, quote the address in the refusal.
                        format!("550 5.1.1 <{p}>: recipient address rejected\r\n")
                    } else {
                        rcpts.push(p);
                        "250 2.1.5 Ok\r\n".into()
                    }
                }
                _ => "501 5.5.4 syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" => {
                if from.is_none() || rcpts.is_empty() {
                    "503 5.5.1 need MAIL and RCPT first\r\n".into()
                } else {
                    w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    w.flush().await?;
                    let Some(data) = read_data(&mut r).await? else {
                        w.write_all(b"552 5.3.4 message too big\r\n").await?;
                        w.flush().await?;
                        return Ok(());
                    };
                    let msg = ReceivedMessage {
                        mail_from: from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut rcpts),
                        data,
                    };
                    match inner.finish_data(msg) {
                        AfterData::Reply(s) => s,
                        AfterData::Drop => return Ok(()),
                    }
                }
            }
            "RSET" => {
                from = None;
                rcpts.clear();
                "250 2.0.0 Ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".into(),
            "VRFY" => "252 2.0.0 cannot verify\r\n".into(),
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n").await?;
                w.flush().await?;
                return Ok(());
            }
            _ => "500 5.5.2 command not recognised\r\n".into(),
        };
        w.write_all(reply.as_bytes()).await?;
        w.flush().await?;
        if reply.starts_with("421") {
            return Ok(());
        }
    }
}

/// Read message data up to the lone `.` line, undoing dot-stuffing. `None` if too big.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::with_capacity(2048);
    let mut line = Vec::with_capacity(256);
    let mut too_big = false;
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let content = if line.starts_with(b".") {
            &line[1..]
        } else {
            &line[..]
        };
        if data.len() + content.len() > MAX_MESSAGE_BYTES {
            too_big = true;
        } else if !too_big {
            data.extend_from_slice(content);
        }
    }
    Ok((!too_big).then_some(data))
}

/// What [`raw_blast`] measured.
#[derive(Debug, Clone, Copy)]
pub struct BlastReport {
    /// Messages accepted with `250`.
    pub accepted: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

async fn expect_reply<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    code: &[u8],
) -> std::io::Result<()> {
    loop {
        buf.clear();
        if r.read_until(b'\n', buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if !buf.starts_with(code) {
            return Err(std::io::Error::other("unexpected SMTP reply"));
        }
        // A multi-line reply continues while the fourth byte is '-'.
        if buf.get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// A minimal SMTP client loop: `connections` connections, `messages` messages in all (each
/// `MAIL`, `RCPT`, `DATA`, the already dot-stuffed `data`, `.`), one command at a time. The
/// baseline for the sink's own accept rate.
pub async fn raw_blast(
    addr: SocketAddr,
    data: &[u8],
    messages: u64,
    connections: u64,
) -> std::io::Result<BlastReport> {
    let connections = connections.clamp(1, messages.max(1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let share = messages / connections + u64::from(c < messages % connections);
        let data = data.to_vec();
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (r, w) = stream.into_split();
            let mut r = BufReader::new(r);
            let mut w = BufWriter::new(w);
            let mut buf = Vec::new();
            expect_reply(&mut r, &mut buf, b"220").await?;
            w.write_all(b"EHLO bench\r\n").await?;
            w.flush().await?;
            expect_reply(&mut r, &mut buf, b"250").await?;
            let mut ok = 0u64;
            for i in 0..share {
                w.write_all(b"MAIL FROM:<bench@derbes.test>\r\n").await?;
                w.flush().await?;
                expect_reply(&mut r, &mut buf, b"250").await?;
                w.write_all(format!("RCPT TO:<r{c}x{i}@derbes.test>\r\n").as_bytes())
                    .await?;
                w.flush().await?;
                expect_reply(&mut r, &mut buf, b"250").await?;
                w.write_all(b"DATA\r\n").await?;
                w.flush().await?;
                expect_reply(&mut r, &mut buf, b"354").await?;
                w.write_all(&data).await?;
                w.write_all(b"\r\n.\r\n").await?;
                w.flush().await?;
                expect_reply(&mut r, &mut buf, b"250").await?;
                ok += 1;
            }
            w.write_all(b"QUIT\r\n").await?;
            w.flush().await?;
            Ok::<u64, std::io::Error>(ok)
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.map_err(std::io::Error::other)??;
    }
    Ok(BlastReport {
        accepted,
        elapsed: start.elapsed(),
    })
}
