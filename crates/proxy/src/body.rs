//! Body wrappers on the request path: a size limit that trips while streaming, the response-body phase, and
//! the logging hook that runs when a response is finished (or abandoned by the client).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;

use crate::BoxError;

pub type BoxBody = UnsyncBoxBody<Bytes, BoxError>;

pub fn full(b: impl Into<Bytes>) -> BoxBody {
    http_body_util::Full::new(b.into()).map_err(|never| match never {}).boxed_unsync()
}

pub fn empty() -> BoxBody {
    http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// The request body exceeded its limit while streaming.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {0} bytes")]
pub struct TooLarge(pub u64);

/// Why a client's request body stopped early, so an upstream failure can be blamed on the right side.
#[derive(Debug, Default)]
pub struct BodyFault {
    /// More than the limit arrived.
    pub too_large: AtomicBool,
    /// The client's body itself was broken (bad chunked encoding, connection reset).
    pub client_error: AtomicBool,
}

/// Passes a body through until more than `max` bytes have gone by, then fails it; records why it failed.
pub struct LimitedBody {
    inner: BoxBody,
    seen: u64,
    max: u64,
    pub fault: Arc<BodyFault>,
}

impl LimitedBody {
    pub fn new(inner: BoxBody, max: u64) -> Self {
        LimitedBody { inner, seen: 0, max, fault: Arc::default() }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    this.seen += d.len() as u64;
                    if this.seen > this.max {
                        this.fault.too_large.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(Box::new(TooLarge(this.max)))));
                    }
                }
            }
            Some(Err(_)) => this.fault.client_error.store(true, Ordering::Relaxed),
            None => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Calls `f` on each data frame of a body and once more at the end (with an empty chunk and `end = true`);
/// `f` may replace the chunk. If `f` returns `false` the body fails (the client sees a cut response).
pub struct MapChunks<F> {
    inner: BoxBody,
    f: F,
    done: bool,
}

impl<F> MapChunks<F> {
    pub fn new(inner: BoxBody, f: F) -> Self {
        MapChunks { inner, f, done: false }
    }
}

impl<F: FnMut(&mut Bytes, bool) -> bool + Send + Unpin + 'static> Body for MapChunks<F> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    if !(this.f)(&mut data, false) {
                        this.done = true;
                        return Poll::Ready(Some(Err("response body refused by a protection".into())));
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => {
                this.done = true;
                let mut tail = Bytes::new();
                if !(this.f)(&mut tail, true) {
                    return Poll::Ready(Some(Err("response body refused by a protection".into())));
                }
                if tail.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(tail))))
                }
            }
        }
    }
}

/// What runs when a response is finished: the logging phase.
pub trait OnDone: Send + Unpin + 'static {
    fn done(self, bytes: u64, completed: bool);
}

/// Counts the bytes sent to the client and runs `on_done.done(bytes, completed)` exactly once: when the body
/// ends, fails, or is dropped because the client went away.
pub struct LoggedBody<D: OnDone> {
    inner: BoxBody,
    bytes: u64,
    on_done: Option<D>,
}

impl<D: OnDone> LoggedBody<D> {
    pub fn new(inner: BoxBody, on_done: D) -> Self {
        LoggedBody { inner, bytes: 0, on_done: Some(on_done) }
    }

    fn finish(&mut self, completed: bool) {
        if let Some(d) = self.on_done.take() {
            d.done(self.bytes, completed);
        }
    }
}

impl<D: OnDone> Drop for LoggedBody<D> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

impl<D: OnDone> Body for LoggedBody<D> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    this.bytes += d.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Some(Err(_)) => this.finish(false),
            None => this.finish(true),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
