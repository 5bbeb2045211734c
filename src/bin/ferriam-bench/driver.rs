//! The load generator: a fixed number of tasks, each repeating one operation (one request, or
//! a whole multi-request flow) back to back for a fixed time on one shared connection pool,
//! recording every operation's latency. Bounded in time and in count.

use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;

/// Upper bound on the operations of one task in one run, whatever the duration.
const MAX_OPS_PER_TASK: usize = 5_000_000;
/// An operation taking longer than this counts as an error.
const OP_TIMEOUT: Duration = Duration::from_secs(15);
/// How many distinct error messages a run keeps for the report.
const ERRORS_KEPT: usize = 3;

/// What one operation ended with, when it did not fail.
pub enum Outcome {
    Done,
    /// The prepared material (codes) ran out: this task stops.
    Exhausted,
}

/// One task's repeated operation with its own state (a refresh-token chain, a cookie jar...).
#[async_trait]
pub trait Step: Send {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome>;
}

/// The measurements of one run.
#[derive(Debug, Clone)]
pub struct Sample {
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies of the successful operations in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// p50, p90 and p99 in ms when the load tool reports only those (wrk).
    pub fixed_percentiles_ms: Option<[f64; 3]>,
    pub error_messages: Vec<String>,
    pub exhausted: bool,
    /// The load generator: "rust" (this driver) or "wrk".
    pub tool: &'static str,
}

impl Default for Sample {
    fn default() -> Self {
        Self {
            ops: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies_us: Vec::new(),
            fixed_percentiles_ms: None,
            error_messages: Vec::new(),
            exhausted: false,
            tool: "rust",
        }
    }
}

impl Sample {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// A latency percentile in milliseconds (nearest rank).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if let Some([p50, p90, p99]) = self.fixed_percentiles_ms {
            return if p <= 50.0 {
                p50
            } else if p <= 90.0 {
                p90
            } else {
                p99
            };
        }
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[i] as f64 / 1000.0
    }
}

struct TaskResult {
    latencies: Vec<u32>,
    errors: u64,
    messages: Vec<String>,
    exhausted: bool,
    ended: Instant,
}

/// Runs every step as its own task for `duration` and merges what they measured.
pub async fn drive(steps: Vec<Box<dyn Step>>, duration: Duration) -> Result<Sample> {
    let http = crate::http::client()?;
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::with_capacity(steps.len());
    for mut step in steps {
        let http = http.clone();
        handles.push(tokio::spawn(async move {
            let mut result = TaskResult {
                latencies: Vec::with_capacity(4096),
                errors: 0,
                messages: Vec::new(),
                exhausted: false,
                ended: Instant::now(),
            };
            for _ in 0..MAX_OPS_PER_TASK {
                let began = Instant::now();
                if began >= deadline {
                    break;
                }
                match tokio::time::timeout(OP_TIMEOUT, step.run(&http)).await {
                    Ok(Ok(Outcome::Done)) => {
                        let us = began.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        result.latencies.push(us);
                    }
                    Ok(Ok(Outcome::Exhausted)) => {
                        result.exhausted = true;
                        break;
                    }
                    Ok(Err(e)) => note_error(&mut result, format!("{e:#}")),
                    Err(_) => note_error(&mut result, "operation timed out".into()),
                }
            }
            result.ended = Instant::now();
            result
        }));
    }
    let mut sample = Sample::default();
    let mut last_end = start;
    for handle in handles {
        let r = handle.await?;
        sample.ops += r.latencies.len() as u64;
        sample.errors += r.errors;
        sample.latencies_us.extend(r.latencies);
        sample.exhausted |= r.exhausted;
        for m in r.messages {
            if sample.error_messages.len() < ERRORS_KEPT && !sample.error_messages.contains(&m) {
                sample.error_messages.push(m);
            }
        }
        last_end = last_end.max(r.ended);
    }
    sample.elapsed = last_end - start;
    sample.latencies_us.sort_unstable();
    Ok(sample)
}

fn note_error(result: &mut TaskResult, message: String) {
    result.errors += 1;
    if result.messages.len() < ERRORS_KEPT && !result.messages.contains(&message) {
        result.messages.push(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let sample = Sample {
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
            ..Sample::default()
        };
        assert_eq!(sample.percentile_ms(50.0), 50.0);
        assert_eq!(sample.percentile_ms(99.0), 99.0);
        assert_eq!(sample.percentile_ms(100.0), 100.0);
    }
}
