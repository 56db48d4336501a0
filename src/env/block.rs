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

/// A broadcast for OS threads blocked at the API edge: many callers wait for "some futures
/// completed", and one `notify_all` wakes them all with a single call, instead of one unpark
/// per caller (waking 32 writers one by one costs more than an fdatasync on a fast disk).
///
/// Protocol: a waiter registers (SeqCst), then re-checks its condition under the mutex before
/// each wait; a notifier publishes its completions, fences, and only locks and notifies when
/// someone is registered. The fences make "completion not seen, and waiter not seen" impossible.
/// A waiter also re-checks every `SAFETY_TICK`, so a completion path that forgot to notify costs
/// latency, never a hang.
#[derive(Debug, Default)]
pub struct Broadcast {
    generation: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
    waiters: std::sync::atomic::AtomicUsize,
}

const SAFETY_TICK: std::time::Duration = std::time::Duration::from_millis(50);

impl Broadcast {
    /// A broadcast with no waiters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every waiting thread (cheap when none waits).
    pub fn notify_all(&self) {
        use std::sync::atomic::{fence, Ordering};
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) == 0 {
            return;
        }
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.cv.notify_all();
    }

    /// Blocks until `ready` returns `Some`, or until `deadline` (then `None`).
    pub fn wait_until<T>(&self, mut ready: impl FnMut() -> Option<T>, deadline: std::time::Instant) -> Option<T> {
        use std::sync::atomic::{fence, Ordering};
        self.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let out = loop {
            if let Some(v) = ready() {
                break Some(v);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                break None;
            }
            let wait = (deadline - now).min(SAFETY_TICK);
            g = self.cv.wait_timeout(g, wait).unwrap_or_else(|p| p.into_inner()).0;
        };
        drop(g);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        out
    }
}
