//! Token signing off the async runtime, on at most as many blocking threads at once as there
//! are cores: more would only add context switches without adding speed. (Password hashing has
//! its own dedicated threads, see `password`.)

use std::sync::Arc;

use tokio::sync::Semaphore;

/// A bound on concurrent blocking work.
#[derive(Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
}

/// The pool is closed or the work panicked.
#[derive(Debug, thiserror::Error)]
#[error("blocking work failed")]
pub struct PoolError;

impl CpuPool {
    /// A pool as wide as the machine.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let _permit = self.permits.acquire().await.map_err(|_| PoolError)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| PoolError)
    }
}
