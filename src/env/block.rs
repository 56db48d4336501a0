//! Blocking at the API edge, and cooperative yielding.
//!
//! OS-thread callers (the `*_blocking` API, the CLI's writer threads) wait on engine futures
//! with [`block_on`]: a thread-park waker, no runtime. Engine tasks never call it (it would hang
//! the single simulator thread under madsim).

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static WAKER: RefCell<Option<Waker>> = const { RefCell::new(None) };
    static IN_BLOCK_ON: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while the current thread runs a future under [`block_on`]: an OS thread calling the
/// blocking API, which may itself block on a file's sync (`Config::leader_sync`).
pub(crate) fn in_block_on() -> bool {
    IN_BLOCK_ON.with(|b| b.get())
}

fn thread_waker() -> Waker {
    WAKER.with(|w| w.borrow_mut().get_or_insert_with(|| Waker::from(Arc::new(ThreadWaker(thread::current())))).clone())
}

/// Runs `fut` to completion on the calling OS thread, parking between polls.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_BLOCK_ON.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(IN_BLOCK_ON.with(|b| b.replace(true)));
    let mut fut = pin!(fut);
    let waker = thread_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Yields once to the executor (runtime-agnostic: works on tokio and madsim).
pub async fn yield_now() {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false).await
}
