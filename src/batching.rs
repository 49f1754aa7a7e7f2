//! A background thread that takes queued items in batches, for work that must leave the
//! request path (recording exchanges, writing log lines).
//!
//! Why not a channel: a worker blocked on a channel is woken for every item, and under load
//! that wake-up (a futex call and a context switch per request) cost more than the work it
//! moved off the request path. Here the worker, once woken, takes everything queued, then
//! naps for a tick while the next batch gathers, so a busy server wakes it about once per
//! tick, not once per request. It sleeps without a timer only when nothing is queued, and
//! only the first item after that wakes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// What happens to an item pushed while `capacity` items are already waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Drop it and count the drop (what may be lost, such as recorded exchanges).
    Drop,
    /// The pushing thread consumes the queued batch and its item itself: it waits, nothing
    /// is lost (log lines).
    ConsumeInline,
}

type Consumer<T> = Box<dyn FnMut(Vec<T>) + Send>;

struct Shared<T> {
    pending: Mutex<Vec<T>>,
    /// Held while a batch is consumed, so batches are consumed one at a time, in order.
    consumer: Mutex<Consumer<T>>,
    capacity: usize,
    when_full: WhenFull,
    tick: Duration,
    worker: OnceLock<std::thread::Thread>,
    /// The worker sleeps until woken (nothing was queued when it looked).
    sleeping: AtomicBool,
    /// A reader is waiting in `settle`: take the next batch without the tick's nap.
    hurry: AtomicBool,
    stopping: AtomicBool,
    accepted: AtomicU64,
    dropped: AtomicU64,
    consumed: Mutex<u64>,
    consumed_moved: Condvar,
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T> Shared<T> {
    /// Consumes what is queued now; the number of items consumed.
    fn consume_pending(&self) -> usize {
        let mut consumer = lock(&self.consumer);
        let batch = std::mem::take(&mut *lock(&self.pending));
        let taken = batch.len();
        if taken > 0 {
            consumer(batch);
            self.count_consumed(taken);
        }
        taken
    }

    fn count_consumed(&self, items: usize) {
        *lock(&self.consumed) += items as u64;
        self.consumed_moved.notify_all();
    }

    fn wake_worker(&self) {
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }
}

/// The handle that queues items; dropping it consumes what is queued and ends the thread.
pub struct BatchWorker<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> BatchWorker<T> {
    /// Starts the worker thread `name`; `consume` gets every batch, in the order pushed.
    pub fn start(
        name: &str,
        capacity: usize,
        when_full: WhenFull,
        tick: Duration,
        consume: impl FnMut(Vec<T>) + Send + 'static,
    ) -> std::io::Result<BatchWorker<T>> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::new()),
            consumer: Mutex::new(Box::new(consume)),
            capacity,
            when_full,
            tick,
            worker: OnceLock::new(),
            sleeping: AtomicBool::new(false),
            hurry: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            consumed: Mutex::new(0),
            consumed_moved: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || run(&worker))?;
        Ok(BatchWorker { shared, thread: Some(thread) })
    }

    /// Queues an item; false when it was dropped because the queue was full.
    pub fn push(&self, item: T) -> bool {
        let shared = &self.shared;
        let mut pending = lock(&shared.pending);
        if pending.len() >= shared.capacity {
            match shared.when_full {
                WhenFull::Drop => {
                    drop(pending);
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                WhenFull::ConsumeInline => {
                    drop(pending);
                    let mut consumer = lock(&shared.consumer);
                    let mut batch = std::mem::take(&mut *lock(&shared.pending));
                    batch.push(item);
                    let items = batch.len();
                    shared.accepted.fetch_add(1, Ordering::SeqCst);
                    consumer(batch);
                    shared.count_consumed(items);
                    return true;
                }
            }
        }
        pending.push(item);
        // Counted while the item is visible to the worker only under the same lock, so
        // `settle` never waits for an item it cannot see.
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        drop(pending);
        if shared.sleeping.swap(false, Ordering::SeqCst) {
            shared.wake_worker();
        }
        true
    }

    /// Items dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every item pushed before this call is consumed, at most `limit`; false
    /// when the limit passed first.
    pub fn settle(&self, limit: Duration) -> bool {
        let shared = &self.shared;
        let target = shared.accepted.load(Ordering::SeqCst);
        let deadline = Instant::now() + limit;
        let mut consumed = lock(&shared.consumed);
        while *consumed < target {
            shared.hurry.store(true, Ordering::SeqCst);
            shared.wake_worker();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            consumed = shared
                .consumed_moved
                .wait_timeout(consumed, left.min(shared.tick))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

impl<T: Send + 'static> Drop for BatchWorker<T> {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake_worker();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run<T>(shared: &Shared<T>) {
    let _ = shared.worker.set(std::thread::current());
    loop {
        if shared.consume_pending() > 0 {
            // Let the next batch gather, unless a reader waits for this one.
            if !shared.hurry.swap(false, Ordering::SeqCst) && !shared.stopping.load(Ordering::SeqCst) {
                std::thread::park_timeout(shared.tick);
            }
            continue;
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        shared.sleeping.store(true, Ordering::SeqCst);
        // An item pushed before `sleeping` was set saw it clear and did not wake us: look again.
        if lock(&shared.pending).is_empty() && !shared.stopping.load(Ordering::SeqCst) {
            std::thread::park();
        }
        shared.sleeping.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting(capacity: usize, when_full: WhenFull) -> (BatchWorker<u32>, Arc<Mutex<Vec<u32>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let worker = BatchWorker::start("test-batch", capacity, when_full, Duration::from_millis(5), move |batch| {
            lock(&sink).extend(batch)
        })
        .unwrap();
        (worker, seen)
    }

    #[test]
    fn every_item_is_consumed_in_order_and_settle_sees_them() {
        let (worker, seen) = collecting(1 << 20, WhenFull::Drop);
        for i in 0..10_000 {
            assert!(worker.push(i));
        }
        assert!(worker.settle(Duration::from_secs(10)));
        assert_eq!(*lock(&seen), (0..10_000).collect::<Vec<_>>());
        // After a sleep without a timer, the first new item wakes the worker.
        assert!(worker.push(7));
        assert!(worker.settle(Duration::from_secs(10)));
        assert_eq!(lock(&seen).last(), Some(&7));
    }

    #[test]
    fn pushes_from_many_threads_all_arrive() {
        let (worker, seen) = collecting(1 << 20, WhenFull::ConsumeInline);
        let worker = Arc::new(worker);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let worker = Arc::clone(&worker);
                std::thread::spawn(move || (0..5_000).for_each(|i| assert!(worker.push(t * 5_000 + i))))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert!(worker.settle(Duration::from_secs(10)));
        let mut all = lock(&seen).clone();
        all.sort_unstable();
        assert_eq!(all, (0..20_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_queue_drops_or_consumes_inline_as_asked() {
        // A consumer that blocks until released keeps the queue full.
        let gate = Arc::new(Mutex::new(()));
        for when_full in [WhenFull::Drop, WhenFull::ConsumeInline] {
            let held = lock(&gate);
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (sink, consumer_gate) = (Arc::clone(&seen), Arc::clone(&gate));
            let worker = BatchWorker::start("test-full", 2, when_full, Duration::from_millis(5), move |batch| {
                let _pass = lock(&consumer_gate);
                lock(&sink).extend(batch);
            })
            .unwrap();
            assert!(worker.push(1));
            // The worker takes item 1 and blocks on the gate; 2 and 3 fill the queue.
            while !lock(&worker.shared.pending).is_empty() {
                std::thread::yield_now();
            }
            assert!(worker.push(2) && worker.push(3));
            match when_full {
                WhenFull::Drop => {
                    assert!(!worker.push(4));
                    assert_eq!(worker.dropped(), 1);
                    drop(held);
                }
                WhenFull::ConsumeInline => {
                    let pusher = {
                        let worker = Arc::new(worker);
                        let w = Arc::clone(&worker);
                        (std::thread::spawn(move || w.push(4)), worker)
                    };
                    drop(held);
                    assert!(pusher.0.join().unwrap());
                    assert!(pusher.1.settle(Duration::from_secs(10)));
                    assert_eq!(pusher.1.dropped(), 0);
                    assert_eq!(*lock(&seen), vec![1, 2, 3, 4]);
                    continue;
                }
            }
            assert!(worker.settle(Duration::from_secs(10)));
            assert_eq!(*lock(&seen), vec![1, 2, 3]);
        }
    }

    #[test]
    fn dropping_the_handle_consumes_what_is_queued() {
        let (worker, seen) = collecting(1 << 20, WhenFull::Drop);
        (0..1000).for_each(|i| {
            worker.push(i);
        });
        drop(worker);
        assert_eq!(lock(&seen).len(), 1000);
    }
}
