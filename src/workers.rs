//! Dedicated worker threads: one per core for CPU-heavy work (token signing, argon2), and one
//! that owns the SQLite connection.
//!
//! CPU-bound work must stay off the async runtime. Handing each job to a general blocking pool
//! costs a thread wake-up and two context switches per job, which at RSA-signing rates was a
//! fifth of the server's CPU; long-lived workers pulling from one queue keep signing back to
//! back under load, and hand their answers back in batches while more work is queued. Each
//! worker also owns a state `S` it reuses for every job (argon2's memory).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The names of the threads, by job (Linux shows the first 15 bytes, in `top -H` and /proc):
/// the benchmark tells from them where the server's CPU went.
pub mod names {
    /// The RSA signing threads (`ferriam-sign-0`, …).
    pub const SIGNING: &str = "ferriam-sign";
    /// The argon2 threads (`ferriam-argon2-0`, …).
    pub const HASHING: &str = "ferriam-argon2";
    /// The thread that owns the SQLite connection.
    pub const DATABASE: &str = "ferriam-sqlite";
}

/// A job runs on the worker's state and returns how to hand its answer back.
type Job<S> = Box<dyn FnOnce(&mut S) -> Delivery + Send>;

/// Hands one finished job's answer to its waiting request (wakes the runtime task).
type Delivery = Box<dyn FnOnce() + Send>;

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
                serve(&queue, S::default(), HOLD);
            })?;
        }
        Ok(Self { jobs })
    }
}

impl<S: Send + 'static> Workers<S> {
    /// Starts one thread named `name`, at normal priority, that owns `state` (a database
    /// connection) and runs every job on it in turn. It hands each answer back at once: its
    /// jobs are short, holding them measured no faster, and a job that waits on the file's lock
    /// (a `ferriam` command writing) must not hold back the answers before it.
    pub fn dedicated(name: &str, state: S) -> Result<Self, WorkerError> {
        let (jobs, queue) = flume::unbounded::<Job<S>>();
        spawn(name.to_owned(), move || {
            serve(&queue, state, Duration::ZERO)
        })?;
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
            let answer = work(state);
            Box::new(move || {
                let _ = reply.send(answer);
            })
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

/// How long a finished answer may wait for the ones after it, so that one wake-up of the
/// runtime collects several (see `serve`): about eight RSA signatures on a 2 vCPU machine.
const HOLD: Duration = Duration::from_millis(2);

/// Runs queued jobs on `state` until the last sender is gone.
///
/// Every answer handed back wakes a runtime thread, and on a machine whose cores are all busy
/// signing, that wake-up preempts a worker: two context switches per request, a tenth of the
/// CPU at RSA rates. So while more jobs are queued, answers are held and handed back together,
/// up to `hold` after the first was ready. When the queue is empty, or the next job would run
/// past `hold`, everything held goes out: a lone request never waits, and a long job (argon2)
/// never holds an answer back.
fn serve<S>(queue: &flume::Receiver<Job<S>>, mut state: S, hold: Duration) {
    let mut held = Held {
        hold,
        ..Held::default()
    };
    loop {
        let job = match queue.try_recv() {
            Ok(job) => job,
            Err(flume::TryRecvError::Disconnected) => break,
            Err(flume::TryRecvError::Empty) => {
                held.deliver();
                match queue.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            }
        };
        let started = Instant::now();
        // A panicking job loses its answer (the caller gets WorkerError), not the thread.
        let delivery = catch_unwind(AssertUnwindSafe(|| job(&mut state)));
        let finished = Instant::now();
        if let Ok(delivery) = delivery {
            held.push(delivery, finished);
        }
        // The next job will likely take as long as this one did.
        if queue.is_empty() || held.is_due(finished + (finished - started)) {
            held.deliver();
        }
    }
    held.deliver();
}

/// Answers finished but not yet handed back, when the oldest was ready, and how long it may
/// wait.
#[derive(Default)]
struct Held {
    deliveries: Vec<Delivery>,
    since: Option<Instant>,
    hold: Duration,
}

impl Held {
    fn push(&mut self, delivery: Delivery, ready: Instant) {
        self.since.get_or_insert(ready);
        self.deliveries.push(delivery);
    }

    /// Whether the oldest held answer will have waited its full hold by `at`.
    fn is_due(&self, at: Instant) -> bool {
        self.since
            .is_some_and(|since| at.saturating_duration_since(since) >= self.hold)
    }

    fn deliver(&mut self) {
        self.since = None;
        for delivery in self.deliveries.drain(..) {
            delivery();
        }
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

    /// One thread that holds answers as the signing workers do, so that every job queues
    /// behind the one before it.
    fn one_holding_worker<S: Send + 'static>(state: S) -> Workers<S> {
        let (jobs, queue) = flume::unbounded::<Job<S>>();
        spawn("test-holding".into(), move || serve(&queue, state, HOLD)).unwrap();
        Workers { jobs }
    }

    #[tokio::test]
    async fn a_burst_of_queued_jobs_is_answered_in_full() {
        let workers = one_holding_worker(0u32);
        let mut answers = tokio::task::JoinSet::new();
        for i in 0..200u32 {
            let workers = workers.clone();
            answers.spawn(async move { (i, workers.run(move |_| i * 3).await) });
        }
        let mut seen = 0;
        while let Some(joined) = answers.join_next().await {
            let (i, answer) = joined.unwrap();
            assert_eq!(answer.unwrap(), i * 3);
            seen += 1;
        }
        assert_eq!(seen, 200);
    }

    /// Runs a first job of `first_takes`, then queues a second one that cannot end until the
    /// first one's answer has arrived; true if it did (false: the answer was held back, and
    /// the second job gave up after 10 s).
    async fn first_answer_arrives_during_second_job(
        workers: Workers<()>,
        first_takes: Duration,
    ) -> bool {
        let (started, running) = oneshot::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let workers = workers.clone();
            async move {
                let job = move |_: &mut ()| {
                    let _ = started.send(());
                    std::thread::sleep(first_takes);
                };
                workers.run(job).await
            }
        });
        running.await.unwrap();
        let second = tokio::spawn(async move {
            let job = move |_: &mut ()| released.recv_timeout(Duration::from_secs(10)).is_ok();
            workers.run(job).await
        });
        first.await.unwrap().unwrap();
        let _ = release.send(());
        second.await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_long_job_is_answered_before_the_next_one_ends() {
        let workers = one_holding_worker(());
        assert!(first_answer_arrives_during_second_job(workers, HOLD * 3).await);
    }

    #[tokio::test]
    async fn the_dedicated_thread_answers_every_job_at_once() {
        let workers = Workers::dedicated("test-dedicated", ()).unwrap();
        assert!(first_answer_arrives_during_second_job(workers, HOLD / 4).await);
    }

    #[test]
    fn held_answers_fall_due_after_the_hold() {
        let ready = Instant::now();
        let mut held = Held {
            hold: HOLD,
            ..Held::default()
        };
        assert!(!held.is_due(ready + HOLD), "nothing held, nothing due");
        held.push(Box::new(|| ()), ready);
        held.push(Box::new(|| ()), ready + HOLD / 2);
        assert!(!held.is_due(ready + HOLD / 2));
        assert!(held.is_due(ready + HOLD), "the oldest answer decides");
        held.deliver();
        assert!(!held.is_due(ready + HOLD * 2), "delivered answers are gone");
    }
}
