//! The worker threads behind the `threads` feature: one per extra core, started once per
//! process and kept spinning between jobs so that handing one half of a convolution to
//! the other core costs about a microsecond, not the wake-up of a sleeping thread.
//!
//! On the 2-vCPU VM of docs/performance.md, waking a sleeping rayon worker for each of
//! two 500 µs halves cost 100–300 µs per call; a spinning worker gets within 3% of the
//! ideal. Workers spin for [`SPIN`] after their last job, then sleep until the next one.
//!
//! [`run`] hands out task indices one at a time to the caller and the workers alike, so a
//! worker that is still waking up only takes what is left: a call is never slower than
//! running its tasks on the caller's thread, and it allocates nothing.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! let sum = AtomicUsize::new(0);
//! onnx2rs_runtime::pool::run(8, &|i| {
//!     sum.fetch_add(i, Ordering::Relaxed);
//! });
//! assert_eq!(sum.into_inner(), 28);
//! ```
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: long enough to span the gaps between
/// the parallel steps of one run and between back-to-back runs.
pub const SPIN: Duration = Duration::from_millis(2);

/// A job as the workers see it: its lifetime is erased, and [`run`] keeps the borrow
/// alive until no worker can call it any more.
type Job = &'static (dyn Fn(usize) + Sync);

/// What the caller of [`run`] and the workers share for the current job.
struct State {
    job: Option<Job>,
    next: usize,
    tasks: usize,
}

struct Pool {
    /// The job and the next task index to hand out: a task is claimed under this lock.
    state: Mutex<State>,
    /// Bumped once per job, so that spinning workers notice one with a plain load.
    epoch: AtomicUsize,
    /// Tasks that workers have claimed and not yet finished.
    running: AtomicUsize,
    /// Set when a task panicked on a worker; [`run`] panics in the caller after the job.
    panicked: AtomicBool,
    /// Held while one caller's job is under way; other callers run theirs serially.
    busy: Mutex<()>,
    /// Workers asleep (or about to be) on `wake`.
    sleeping: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    workers: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = Pool {
            state: Mutex::new(State {
                job: None,
                next: 0,
                tasks: 0,
            }),
            epoch: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            busy: Mutex::new(()),
            sleeping: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            workers: cores - 1,
        };
        // A worker that cannot be started leaves its share to the caller.
        for i in 0..pool.workers {
            let _ = std::thread::Builder::new()
                .name(format!("onnx2rs-{i}"))
                .spawn(|| work(self::pool()));
        }
        pool
    })
}

/// Starts the workers if they are not running yet (generated `Model::new` calls this, so
/// that the first run does not pay for it).
pub fn start() {
    pool();
}

/// The threads a job may run on: the caller and the workers.
pub fn threads() -> usize {
    pool().workers + 1
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A task's panic never happens while a pool lock is held; recover the data anyway.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    /// The next task index of the current job, with the job, if any is left.
    fn claim(&self, worker: bool) -> Option<(Job, usize)> {
        let mut s = lock(&self.state);
        let job = s.job?;
        (s.next < s.tasks).then(|| {
            let i = s.next;
            s.next += 1;
            if worker {
                self.running.fetch_add(1, Ordering::Relaxed);
            }
            (job, i)
        })
    }
}

/// A worker's loop: run the tasks of each new job, spin for [`SPIN`], then sleep.
fn work(pool: &'static Pool) {
    let mut seen = pool.epoch.load(Ordering::Acquire);
    let mut idle = Instant::now();
    let mut spins = 0u32;
    loop {
        let epoch = pool.epoch.load(Ordering::Acquire);
        spins = spins.wrapping_add(1);
        if epoch != seen {
            seen = epoch;
            while let Some((job, i)) = pool.claim(true) {
                let call = std::panic::AssertUnwindSafe(|| job(i));
                if std::panic::catch_unwind(call).is_err() {
                    pool.panicked.store(true, Ordering::Relaxed);
                }
                pool.running.fetch_sub(1, Ordering::Release);
            }
            idle = Instant::now();
        } else if !spins.is_multiple_of(1024) {
            std::hint::spin_loop();
        } else if idle.elapsed() < SPIN {
            // Every 1024 turns (reading the clock is slower than a turn), let any other
            // thread that waits for this core run: with more threads than cores, a
            // spinning worker would otherwise hold one for its whole time slice.
            std::thread::yield_now();
        } else {
            let guard = lock(&pool.sleep);
            // `run` bumps the epoch, then notifies under this lock if anyone sleeps: either
            // it sees this count or this check sees its epoch, so no wake-up is lost.
            pool.sleeping.fetch_add(1, Ordering::SeqCst);
            if pool.epoch.load(Ordering::SeqCst) == seen {
                drop(
                    pool.wake
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner),
                );
            }
            pool.sleeping.fetch_sub(1, Ordering::SeqCst);
            idle = Instant::now();
        }
    }
}

/// Ends a job, also when a task panics on the caller's thread: no task is handed out any
/// more, and the borrow of the job outlives every task a worker claimed.
struct Finish(&'static Pool);

impl Drop for Finish {
    fn drop(&mut self) {
        let mut s = lock(&self.0.state);
        s.job = None;
        s.next = s.tasks;
        drop(s);
        let mut spins = 0u32;
        while self.0.running.load(Ordering::Acquire) != 0 {
            // A worker descheduled mid-task (more threads than cores) needs this core.
            spins = spins.saturating_add(1);
            match spins < 1 << 14 {
                true => std::hint::spin_loop(),
                false => std::thread::yield_now(),
            }
        }
    }
}

/// Calls `task(i)` once for each `i` in `0..tasks`, on this thread and the pool's
/// workers, and returns when all calls have returned. Each call must be independent of
/// the others. While another thread's job is under way (or from inside a task), the
/// calls run here in order. A panic in a task is raised here after the job.
pub fn run(tasks: usize, task: &(dyn Fn(usize) + Sync)) {
    let pool = pool();
    let busy = match pool.busy.try_lock() {
        Ok(guard) => Some(guard),
        // A task panicked in an earlier job; the pool itself is consistent.
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    };
    if busy.is_none() || tasks < 2 || pool.workers == 0 {
        (0..tasks).for_each(task);
        return;
    }
    // SAFETY: the job is only called for indices claimed under `state` while `job` is
    // `Some`; `Finish` clears it and then waits until every claimed call has returned,
    // before this function (and so the borrow of `task`) ends, on unwinding too.
    #[allow(unsafe_code)]
    let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(task) };
    {
        let mut s = lock(&pool.state);
        *s = State {
            job: Some(job),
            next: 0,
            tasks,
        };
    }
    pool.epoch.fetch_add(1, Ordering::SeqCst);
    if pool.sleeping.load(Ordering::SeqCst) > 0 {
        drop(lock(&pool.sleep));
        pool.wake.notify_all();
    }
    let finish = Finish(pool);
    while let Some((job, i)) = pool.claim(false) {
        job(i);
    }
    drop(finish);
    drop(busy);
    if pool.panicked.swap(false, Ordering::Relaxed) {
        panic!("a task of the thread pool panicked");
    }
}
