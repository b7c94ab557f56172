//! A waker that remembers whether it was woken, so that a task can poll rarely-ready side futures (a
//! connection's shutdown signal and deadline tick) only after one of them fired, instead of on every wake-up of
//! the task (two or three per request).
//!
//! This module owns only the flag and the forwarding to the task's waker; what the side futures are and what
//! happens when one is ready stays with the caller (`server::drive`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

/// Set when any future polled with [`Gate::waker`] wakes it; forwards the wake-up to the task.
pub struct Gate {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Gate {
    /// A gate that starts open (the side futures must be polled once to register) and its waker, to poll the
    /// side futures with.
    pub fn new() -> (Arc<Gate>, Waker) {
        let gate = Arc::new(Gate { woken: AtomicBool::new(true), task: Mutex::new(None) });
        let waker = Waker::from(gate.clone());
        (gate, waker)
    }

    /// Whether a side future woke since the last call (or the gate was opened); if so, resets the flag and
    /// remembers `task`'s waker as the one to forward to. The caller then polls the side futures with the
    /// gate's waker.
    pub fn take(&self, task: &Context<'_>) -> bool {
        if !self.woken.swap(false, Ordering::AcqRel) {
            return false;
        }
        let mut t = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if !t.as_ref().is_some_and(|w| w.will_wake(task.waker())) {
            *t = Some(task.waker().clone());
        }
        true
    }

    /// Makes the next [`Gate::take`] poll the side futures (after one of them completed and a new one was
    /// made).
    pub fn open(&self) {
        self.woken.store(true, Ordering::Release);
    }
}

impl Wake for Gate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(w) = self.task.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            w.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Poll;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_side_future_is_polled_only_after_it_woke() {
        let (gate, waker) = Gate::new();
        let mut sleep = pin!(tokio::time::sleep(Duration::from_millis(30)));
        let mut polls = 0;
        std::future::poll_fn(|cx| {
            if gate.take(cx) {
                polls += 1;
                if sleep.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                    return Poll::Ready(());
                }
            }
            // A spurious wake-up of the task does not open the gate.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
        assert_eq!(polls, 2, "polled once to register and once after the timer fired");
    }
}
