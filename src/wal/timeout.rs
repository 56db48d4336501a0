//! A deterministic timeout combinator: the guarded future is always polled first, and the timer
//! is created only if it is still pending (no timer on the fast path). No unbiased `select!`,
//! which is non-deterministic under madsim.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::env::BoxFuture;

struct Timeout<F, M> {
    fut: Pin<Box<F>>,
    make_sleep: Option<M>,
    sleep: Option<BoxFuture<'static, ()>>,
}

impl<F: Future, M: FnOnce() -> BoxFuture<'static, ()>> Future for Timeout<F, M> {
    type Output = Option<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is boxed or never pinned, so `Timeout` is `Unpin`.
        let this = self.get_mut();
        if let Poll::Ready(v) = this.fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if this.sleep.is_none() {
            let make = this.make_sleep.take().expect("timer is created once");
            this.sleep = Some(make());
        }
        match this.sleep.as_mut().map(|s| s.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    }
}

impl<F, M> Unpin for Timeout<F, M> {}

/// Runs `fut`; returns `None` if the sleep made by `make_sleep` finishes first.
pub async fn with_timeout<F, M>(fut: F, make_sleep: M) -> Option<F::Output>
where
    F: Future,
    M: FnOnce() -> BoxFuture<'static, ()>,
{
    Timeout { fut: Box::pin(fut), make_sleep: Some(make_sleep), sleep: None }.await
}
