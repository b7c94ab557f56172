//! A minimum request-body rate (`limits.min_body_rate`): a body whose average rate since it started falls
//! below the minimum once the grace period is over fails with [`SlowBody`], and the proxy answers 408.
//!
//! The check is a deadline, not a sampled rate: with `seen` bytes received, the body is on time until
//! `start + max(grace, seen / rate)`. Each chunk moves the deadline; a timer fires at it when the client
//! sends nothing at all (the case a check on arrival alone would miss).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body arrived slower than the minimum rate.
#[derive(Debug, thiserror::Error)]
#[error("request body slower than {0} bytes/s")]
pub struct SlowBody(pub u64);

/// Wraps a request body with the minimum-rate deadline.
pub struct MinRateBody<B> {
    inner: B,
    rate: u64,
    grace: Duration,
    start: Instant,
    seen: u64,
    timer: Pin<Box<Sleep>>,
    done: bool,
    slow: Arc<AtomicBool>,
}

impl<B> MinRateBody<B> {
    /// `rate` in bytes per second (above 0).
    pub fn new(inner: B, rate: u64, grace: Duration) -> Self {
        let start = Instant::now();
        MinRateBody {
            inner,
            rate: rate.max(1),
            grace,
            start,
            seen: 0,
            timer: Box::pin(tokio::time::sleep_until(start + grace)),
            done: false,
            slow: Arc::default(),
        }
    }

    /// Set once the body has been failed for being slow.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.slow.clone()
    }

    fn deadline(&self) -> Instant {
        let needed = Duration::from_secs_f64(self.seen as f64 / self.rate as f64);
        self.start + self.grace.max(needed)
    }
}

impl<B> Body for MinRateBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    this.seen += d.len() as u64;
                    let at = this.deadline();
                    this.timer.as_mut().reset(at);
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let at = this.deadline();
                if Instant::now() >= at {
                    this.done = true;
                    this.slow.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Box::new(SlowBody(this.rate)))));
                }
                this.timer.as_mut().reset(at);
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body fed by a task that sends `len` bytes after waiting `wait_ms`, chunk by chunk.
    struct ChanBody(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for ChanBody {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
        }
    }

    fn body(chunks: Vec<(u64, usize)>) -> ChanBody {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for (wait_ms, len) in chunks {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                if tx.send(Bytes::from(vec![b'x'; len])).await.is_err() {
                    return;
                }
            }
        });
        ChanBody(rx)
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_fails_at_the_grace_deadline() {
        let b = MinRateBody::new(body(vec![(100, 10), (60_000, 10)]), 1000, Duration::from_secs(2));
        let flag = b.flag();
        let t = Instant::now();
        let err = b.collect().await.unwrap_err();
        assert!(err.is::<SlowBody>(), "{err}");
        assert!(flag.load(Ordering::Relaxed));
        assert_eq!(t.elapsed().as_secs(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_rate_passes() {
        // 1,000 bytes every 400 ms = 2,500 B/s against a 1,000 B/s minimum.
        let chunks = (0..20).map(|_| (400, 1000)).collect();
        let b = MinRateBody::new(body(chunks), 1000, Duration::from_secs(1));
        assert_eq!(b.collect().await.unwrap().to_bytes().len(), 20_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_slows_down_later_fails() {
        // 25,000 bytes in the first 4.5 s, then silent: fails once the average drops under 1,000 B/s (at 25 s).
        let mut chunks: Vec<(u64, usize)> = vec![(500, 5000)];
        chunks.extend((0..4).map(|_| (1000, 5000)));
        chunks.push((120_000, 1));
        let b = MinRateBody::new(body(chunks), 1000, Duration::from_secs(1));
        let t = Instant::now();
        assert!(b.collect().await.unwrap_err().is::<SlowBody>());
        assert_eq!(t.elapsed().as_secs(), 25);
    }
}
