//! Dedicated worker threads: one per core for CPU-heavy work (token signing, argon2), and one
//! that owns the SQLite connection.
//!
//! CPU-bound work must stay off the async runtime. Handing each job to a general blocking pool
//! costs a thread wake-up and two context switches per job, which at RSA-signing rates was a
//! fifth of the server's CPU; long-lived workers pulling from one queue keep signing back to
//! back under load. Each worker also owns a state `S` it reuses for every job (argon2's memory).

use std::panic::{catch_unwind, AssertUnwindSafe};

use tokio::sync::oneshot;

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A queue served by one thread per core; the threads end when the last clone is dropped.
pub struct Workers<S> {
    jobs: flume::Sender<Job<S>>,
}

impl<S> Clone for Workers<S> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

/// The workers are gone or the job panicked.
#[derive(Debug, thiserror::Error)]
#[error("a worker thread failed")]
pub struct WorkerError;

impl<S: Default + 'static> Workers<S> {
    /// Starts one thread per core, named `name-N`, at a lower priority (see
    /// `yield_to_requests`), each with a fresh state.
    pub fn start(name: &str) -> Result<Self, WorkerError> {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (jobs, queue) = flume::unbounded::<Job<S>>();
        for i in 0..cores {
            let queue = queue.clone();
            spawn(format!("{name}-{i}"), move || {
                yield_to_requests();
                serve(&queue, S::default());
            })?;
        }
        Ok(Self { jobs })
    }
}

impl<S: Send + 'static> Workers<S> {
    /// Starts one thread named `name`, at normal priority, that owns `state` (a database
    /// connection) and runs every job on it in turn.
    pub fn dedicated(name: &str, state: S) -> Result<Self, WorkerError> {
        let (jobs, queue) = flume::unbounded::<Job<S>>();
        spawn(name.to_owned(), move || serve(&queue, state))?;
        Ok(Self { jobs })
    }
}

impl<S> Workers<S> {
    /// Runs `work` on a worker and waits for its result without blocking the runtime. Every
    /// queued job is a request waiting on its connection, so the queue needs no bound of its own.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut S) -> T + Send + 'static,
    ) -> Result<T, WorkerError> {
        let (reply, answer) = oneshot::channel();
        let job: Job<S> = Box::new(move |state| {
            let _ = reply.send(work(state));
        });
        self.jobs.send(job).map_err(|_| WorkerError)?;
        answer.await.map_err(|_| WorkerError)
    }
}

/// Starts a named thread running `body`.
fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> Result<(), WorkerError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(body)
        .map(drop)
        .map_err(|_| WorkerError)
}

/// Runs queued jobs on `state` until the last sender is gone.
fn serve<S>(queue: &flume::Receiver<Job<S>>, mut state: S) {
    while let Ok(job) = queue.recv() {
        // A panicking job loses its answer (the caller gets WorkerError), not the thread.
        let _ = catch_unwind(AssertUnwindSafe(|| job(&mut state)));
    }
}

/// Lowers the calling thread's priority (nice 10), so that when every core is busy the
/// threads that answer requests (the runtime's, the database's) run as soon as they wake
/// instead of waiting out a long signature or hash; the workers still get all the CPU nobody
/// else wants. On Linux the nice value is per thread.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_keeps_state_and_survives_panics() {
        let workers = Workers::<u32>::start("test").unwrap();
        assert_eq!(workers.run(|_| 6 * 7).await.unwrap(), 42);
        assert!(workers.run(|_| -> u32 { panic!("boom") }).await.is_err());
        let mut total = 0;
        for _ in 0..8 {
            total += workers
                .run(|n| {
                    *n += 1;
                    1
                })
                .await
                .unwrap();
        }
        assert_eq!(total, 8, "the workers are still there after a panic");
    }
}
