//! What one connection may hold: the connection limits (in total and per client IP), and
//! the timer that closes a connection whose request headers come too slowly or that idles
//! too long between requests.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use modularbase_pack::ErrorEnvelope;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Open connections, counted in total and per client IP address.
#[derive(Debug)]
pub(super) struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(super) struct Admitted {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    pub(super) fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
        })
    }

    /// A place for a connection from `ip`, or why there is none.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, String> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max_total {
            return Err(format!(
                "the registry has {} connections open, its limit; try again shortly",
                self.max_total
            ));
        }
        let from_ip = open.per_ip.entry(ip).or_default();
        if *from_ip >= self.max_per_ip {
            return Err(format!(
                "{ip} has {} connections open to the registry, the most one address may; close some or try again shortly",
                self.max_per_ip
            ));
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Admitted {
            limits: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Answers a connection over the limits with 503 and the JSON error envelope, then closes
/// it. The request is read (briefly) after the answer so that closing does not reset the
/// connection before the client has read it.
pub(super) async fn refuse(mut tcp: TcpStream, detail: String) {
    let body = serde_json::to_string(&ErrorEnvelope::single(detail))
        .unwrap_or_else(|_| r#"{"errors":[{"detail":"too many connections"}]}"#.to_owned());
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let answer = async {
        tcp.write_all(head.as_bytes()).await?;
        tcp.write_all(body.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
}

/// What the connection has done, for [`ConnectionTimer`].
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// Reads that returned bytes.
    reads: AtomicU64,
    /// Whether any response bytes went out.
    wrote: AtomicBool,
}

/// A socket that records its [`Activity`].
#[derive(Debug)]
pub(super) struct Tracked {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    pub(super) fn new(tcp: TcpStream, activity: Arc<Activity>) -> Self {
        Self { tcp, activity }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.tcp).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.reads.fetch_add(1, Ordering::Relaxed);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.tcp).poll_write(cx, buf))?;
        this.activity.wrote.store(true, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs))?;
        this.activity.wrote.store(true, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// hyper's timer for one connection. hyper uses it for its header read timeout, which it
/// starts whenever it waits for a request: on a fresh connection that is the deadline for
/// the first request's line and headers. On a keep-alive connection that has answered, the
/// wait for the next request may last the keep-alive timeout instead, and once that
/// request's first bytes arrive it has the header timeout from then.
#[derive(Debug)]
pub(super) struct ConnectionTimer {
    activity: Arc<Activity>,
    header: Duration,
    keep_alive: Duration,
}

impl ConnectionTimer {
    pub(super) fn new(activity: Arc<Activity>, header: Duration, keep_alive: Duration) -> Self {
        Self {
            activity,
            header,
            keep_alive,
        }
    }
}

impl hyper::rt::Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        // Not the header timeout: a plain sleep.
        Box::pin(HeadSleep {
            sleep: Box::pin(tokio::time::sleep(duration)),
            activity: Arc::clone(&self.activity),
            reads_at_start: 0,
            idle: false,
            header: self.header,
        })
    }

    /// hyper's only deadline on a server connection: the header read timeout.
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let idle = self.activity.wrote.load(Ordering::Relaxed);
        let deadline = if idle {
            Instant::now() + self.keep_alive
        } else {
            deadline
        };
        Box::pin(HeadSleep {
            sleep: Box::pin(tokio::time::sleep_until(deadline.into())),
            activity: Arc::clone(&self.activity),
            reads_at_start: self.activity.reads.load(Ordering::Relaxed),
            idle,
            header: self.header,
        })
    }
}

/// The header deadline: while `idle`, the keep-alive wait; from the first byte read, the
/// header timeout.
struct HeadSleep {
    sleep: Pin<Box<tokio::time::Sleep>>,
    activity: Arc<Activity>,
    reads_at_start: u64,
    idle: bool,
    header: Duration,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.idle && this.activity.reads.load(Ordering::Relaxed) != this.reads_at_start {
            // The next request has begun: it has the header timeout from now.
            this.idle = false;
            let deadline = tokio::time::Instant::now() + this.header;
            this.sleep.as_mut().reset(deadline);
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HeadSleep {}
