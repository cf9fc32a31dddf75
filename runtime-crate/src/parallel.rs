//! Work split between cores: over the [`crate::pool`] with the `threads` feature, and in
//! order on the caller's thread without it. Kernels decide here how finely to split, so
//! that the default build compiles to the plain loop.
#[cfg(feature = "threads")]
use std::sync::{Mutex, PoisonError};

/// The least multiply-adds (or comparable element work) worth handing a share of to
/// another core: a spinning worker takes a job in about a microsecond, and 2^18
/// multiply-adds take 2–3 µs at the product's speed.
pub(crate) const PARALLEL_MIN_MACS: usize = 1 << 18;

/// Threads that [`each`] spreads its parts over (1 without the `threads` feature).
pub(crate) fn threads() -> usize {
    #[cfg(feature = "threads")]
    return crate::pool::threads();
    #[cfg(not(feature = "threads"))]
    1
}

/// How many parts to split work of `macs` multiply-adds into: one per thread when it
/// is large enough to pay for the hand-over, at most `most`, at least 1.
pub(crate) fn parts(macs: usize, most: usize) -> usize {
    match macs >= PARALLEL_MIN_MACS {
        true => threads().min(most).max(1),
        false => 1,
    }
}

/// How many parts to split element-wise work over `values` into (copies, padding,
/// epilogues): one per thread when there are enough values, at most `most`, at least 1.
pub(crate) fn parts_of_values(values: usize, most: usize) -> usize {
    match values >= PARALLEL_MIN_VALUES {
        true => threads().min(most).max(1),
        false => 1,
    }
}

/// The most parts one call of [`each`] spreads; any beyond run on the caller's thread.
#[cfg(feature = "threads")]
const MOST_PARTS: usize = 16;

/// Calls `task` once for each of `parts` (disjoint pieces of the work, such as the
/// chunks of an output), spread over the threads.
pub(crate) fn each<P: Send>(parts: impl IntoIterator<Item = P>, task: impl Fn(P) + Sync) {
    #[cfg(feature = "threads")]
    {
        let mut parts = parts.into_iter();
        // Each part is taken out of its slot by the one task that runs it.
        let slots: [Mutex<Option<P>>; MOST_PARTS] =
            std::array::from_fn(|_| Mutex::new(parts.next()));
        let count = slots
            .iter()
            .take_while(|s| s.lock().is_ok_and(|p| p.is_some()))
            .count();
        crate::pool::run(count, &|i| {
            let part = slots[i]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(part) = part {
                task(part);
            }
        });
        parts.for_each(&task);
    }
    #[cfg(not(feature = "threads"))]
    parts.into_iter().for_each(task);
}

/// Values of element-wise work below which it stays on one thread (256 KiB of `f32`).
const PARALLEL_MIN_VALUES: usize = 1 << 16;

/// Calls `task(at, span)` for consecutive spans of `values` that together cover it: one
/// per thread when there are enough values, else the whole slice. Every span but the
/// last has a length that is a multiple of `align` (a repeating operand's period), so
/// each starts `at` a multiple of it.
pub(crate) fn spans<T: Send>(
    values: &mut [T],
    align: usize,
    task: impl Fn(usize, &mut [T]) + Sync,
) {
    let n = values.len();
    let parts = parts_of_values(n, n);
    if parts == 1 {
        return task(0, values);
    }
    // Without a period, whole cache lines of f32, so that no two threads write one line.
    let unit = if align > 1 { align } else { 16 };
    let len = n.div_ceil(parts).next_multiple_of(unit);
    each(values.chunks_mut(len).enumerate(), |(i, span)| {
        task(i * len, span)
    });
}

/// [`each`] for tasks that may fail: the first error (of any part) is returned.
pub(crate) fn try_each<P: Send>(
    parts: impl IntoIterator<Item = P>,
    task: impl Fn(P) -> crate::Result<()> + Sync,
) -> crate::Result<()> {
    let failed = std::sync::Mutex::new(None);
    each(parts, |part| {
        if let Err(e) = task(part) {
            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Calls `f` with `len` values of this thread's own scratch memory: the workspace of a
/// part that runs on a worker, since the caller's workspace serves one part only. The
/// buffer grows to the largest length asked for and is kept, so a thread allocates only
/// when a larger layout first comes. Its contents are left from earlier calls.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut values) => {
            if values.len() < len {
                values.resize(len, 0.0);
            }
            f(&mut values[..len])
        }
        // A nested call (no kernel makes one) gets a buffer of its own.
        Err(_) => f(&mut vec![0.0; len]),
    })
}
