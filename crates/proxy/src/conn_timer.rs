//! One reusable timer per connection, for deadlines that come one after another on that connection: hyper's
//! HTTP/1 header-read deadline (through [`ConnTimer`], a `hyper::rt::Timer`) and the upstream response deadline
//! of an HTTP/1 request (through [`TimerSlot`]).
//!
//! Why: a fresh `tokio::time::Sleep` per request is inserted into the runtime's timer wheel when first polled
//! and removed when dropped. When the new deadline is earlier than the one the time driver last parked on
//! (typical for the 10 s header-read deadline while every connection waits on its upstream), tokio also
//! *unparks* the driver, which is a `write` to its eventfd: ≈ 0.5 system calls per request that nginx does not
//! make. Resetting one long-lived `Sleep` to a later deadline only moves a number in its state (tokio's
//! `extend_expiration`); the wheel sees the later deadline when the old one comes round and files the entry
//! again, at most once per timeout period. Better still, a later deadline is not even set until the `Sleep` fires at
//! its old one (see `poll_at`). The deadlines themselves are the same as before.
//!
//! Owns: the reuse of one `Sleep` per connection. Must not touch: what a deadline means (hyper's header-read
//! error, the handler's 504).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Sleep;

/// The reusable `Sleep` of one connection. `None` until the first deadline (creating a `Sleep` needs the
/// runtime, which hyper's timer calls may not be inside of when the builder is configured).
type Shared = Arc<Mutex<Option<Pin<Box<Sleep>>>>>;

/// Polls the connection's `Sleep` (made on first use) for `deadline`.
///
/// A later deadline than the `Sleep`'s own is not set on it: the `Sleep` fires at its old deadline, and only
/// then is moved on to this one (at most once per timeout period of a busy connection, instead of a `reset`
/// per request). An earlier deadline is set at once. Either way this returns `Ready` only once `deadline` has
/// passed.
fn poll_at(slot: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
    let deadline = tokio::time::Instant::from_std(deadline);
    let sleep = slot.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if sleep.deadline() > deadline {
        sleep.as_mut().reset(deadline);
    }
    loop {
        std::task::ready!(sleep.as_mut().poll(cx));
        if sleep.deadline() >= deadline {
            return Poll::Ready(());
        }
        // An earlier deadline (a previous request's) fired: move on to this one; no wheel work when it is
        // still registered, else filed again.
        sleep.as_mut().reset(deadline);
    }
}

/// hyper's timer for one HTTP/1 connection. hyper arms at most one header-read deadline at a time per
/// connection, so every [`ConnSleep`] it makes shares the connection's one `Sleep`.
#[derive(Clone, Default)]
pub struct ConnTimer {
    shared: Shared,
}

impl ConnTimer {
    pub fn new() -> Self {
        ConnTimer::default()
    }
}

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ConnSleep { deadline, shared: self.shared.clone() })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<ConnSleep>() {
            Some(s) => s.get_mut().deadline = new_deadline,
            None => *sleep = self.sleep_until(new_deadline),
        }
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// One deadline on a connection's shared `Sleep`; the `Sleep` is moved to this deadline when polled.
pub struct ConnSleep {
    deadline: Instant,
    shared: Shared,
}

impl Future for ConnSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut slot = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        poll_at(&mut slot, self.deadline, cx)
    }
}

impl hyper::rt::Sleep for ConnSleep {}

/// The upstream response deadline's `Sleep` of one connection, lent to one request at a time. An HTTP/1
/// connection has one request in flight; an HTTP/2 connection's concurrent requests find the slot taken and
/// make their own `Sleep` (the cost of the old way, no worse).
#[derive(Default)]
pub struct TimerSlot {
    slot: Mutex<Option<Pin<Box<Sleep>>>>,
}

impl TimerSlot {
    /// A deadline future for `deadline`, on the connection's `Sleep` when it is free.
    pub fn deadline(&self, deadline: Instant) -> Deadline<'_> {
        let lent = self.slot.lock().ok().and_then(|mut s| s.take());
        Deadline { deadline, sleep: lent, home: self }
    }
}

/// A deadline lent from a [`TimerSlot`]; the `Sleep` goes back to the slot when this is dropped.
pub struct Deadline<'a> {
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    home: &'a TimerSlot,
}

impl Future for Deadline<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_at(&mut this.sleep, this.deadline, cx)
    }
}

impl Drop for Deadline<'_> {
    fn drop(&mut self) {
        if let Some(sleep) = self.sleep.take() {
            if let Ok(mut slot) = self.home.slot.lock() {
                if slot.is_none() {
                    *slot = Some(sleep);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    #[tokio::test]
    async fn a_reused_deadline_still_fires_at_its_own_time() {
        let timer = ConnTimer::new();
        // A first deadline that is dropped before it fires, as when a request head arrives in time.
        let first = timer.sleep(Duration::from_millis(40));
        assert!(tokio::time::timeout(Duration::from_millis(5), first).await.is_err());
        // The next one reuses the same `Sleep`, later: it must fire at its own deadline, not the first one's.
        let start = Instant::now();
        timer.sleep(Duration::from_millis(120)).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(120), "fired early: {waited:?}");
        assert!(waited < Duration::from_secs(2), "fired late: {waited:?}");
    }

    #[tokio::test]
    async fn an_earlier_deadline_after_a_later_one_fires_early_enough() {
        let timer = ConnTimer::new();
        let long = timer.sleep(Duration::from_secs(30));
        assert!(tokio::time::timeout(Duration::from_millis(5), long).await.is_err());
        let start = Instant::now();
        timer.sleep(Duration::from_millis(50)).await;
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn hyper_reset_moves_the_deadline() {
        let timer = ConnTimer::new();
        let mut s = timer.sleep(Duration::from_secs(60));
        timer.reset(&mut s, Instant::now() + Duration::from_millis(30));
        assert!(tokio::time::timeout(Duration::from_secs(2), s).await.is_ok());
    }

    #[tokio::test]
    async fn a_lent_deadline_goes_back_and_a_busy_slot_lends_a_fresh_one() {
        let slot = TimerSlot::default();
        {
            let d = slot.deadline(Instant::now() + Duration::from_secs(60));
            tokio::pin!(d);
            assert!(tokio::time::timeout(Duration::from_millis(5), d.as_mut()).await.is_err());
            // While the first is out, a concurrent request (HTTP/2) gets its own, which still fires.
            let start = Instant::now();
            slot.deadline(Instant::now() + Duration::from_millis(30)).await;
            assert!(start.elapsed() >= Duration::from_millis(30));
        }
        assert!(slot.slot.lock().unwrap().is_some(), "the connection's Sleep was not returned");
        // Reused, with an earlier deadline than the one it last had.
        let start = Instant::now();
        slot.deadline(Instant::now() + Duration::from_millis(40)).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(40) && waited < Duration::from_secs(2), "{waited:?}");
    }
}
