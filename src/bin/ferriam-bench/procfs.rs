//! CPU time and memory of a server process and its descendants, read from Linux's /proc:
//! `utime + stime` from /proc/PID/stat, `VmRSS` and `VmHWM` from /proc/PID/status, and the
//! peak reset by writing 5 to /proc/PID/clear_refs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A process and the processes it started (node:cluster workers, for the peer).
#[derive(Clone, Copy, Debug)]
pub struct ProcTree {
    pub root: u32,
}

/// What /proc/PID/stat tells: the parent and the CPU ticks spent.
struct Stat {
    ppid: u32,
    ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        ppid,
        ticks: utime + stime,
    })
}

/// A `kB` line of /proc/PID/status.
fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on every common Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

impl ProcTree {
    pub fn new(root: u32) -> Self {
        Self { root }
    }

    /// The root and all its living descendants.
    pub fn pids(&self) -> Vec<u32> {
        let mut parents: Vec<(u32, u32)> = Vec::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                    if let Some(s) = stat(pid) {
                        parents.push((pid, s.ppid));
                    }
                }
            }
        }
        let mut tree = vec![self.root];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(
                parents
                    .iter()
                    .filter(|(_, ppid)| *ppid == parent)
                    .map(|(pid, _)| *pid),
            );
            i += 1;
        }
        tree
    }

    /// CPU seconds (user + system) used so far by the tree's living processes.
    pub fn cpu_seconds(&self) -> f64 {
        let ticks: u64 = self
            .pids()
            .into_iter()
            .filter_map(stat)
            .map(|s| s.ticks)
            .sum();
        ticks as f64 / clock_ticks()
    }

    /// Resident memory now, summed over the tree, in KiB.
    pub fn rss_kb(&self) -> u64 {
        self.pids()
            .into_iter()
            .filter_map(|p| status_kb(p, "VmRSS"))
            .sum()
    }

    /// The root's own peak resident memory (VmHWM) in KiB.
    pub fn root_hwm_kb(&self) -> u64 {
        status_kb(self.root, "VmHWM").unwrap_or(0)
    }

    /// Resets the peak-RSS counters (Linux ≥ 4.0, needs write access to clear_refs).
    pub fn reset_peak(&self) -> bool {
        self.pids()
            .into_iter()
            .all(|p| std::fs::write(format!("/proc/{p}/clear_refs"), "5").is_ok())
    }
}

/// Samples the tree's summed RSS every 50 ms in the background and keeps the maximum, so a
/// multi-process server gets a peak too (VmHWM is per process).
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max_kb: Arc<AtomicU64>,
    handle: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(tree: ProcTree) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max_kb = Arc::new(AtomicU64::new(tree.rss_kb()));
        let handle = {
            let (stop, max_kb) = (stop.clone(), max_kb.clone());
            tokio::task::spawn_blocking(move || {
                // Bounded: at most one hour of samples even if `finish` is never called.
                for _ in 0..72_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    max_kb.fetch_max(tree.rss_kb(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Self {
            stop,
            max_kb,
            handle,
        }
    }

    /// Stops sampling and returns the largest summed RSS seen, in KiB.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.await;
        self.max_kb.load(Ordering::Relaxed)
    }
}

/// The resources a server used during one measured stretch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub peak_rss_kb: u64,
}

/// Measures CPU seconds and peak RSS of `tree` around a stretch of work.
pub struct UsageMeter {
    tree: ProcTree,
    cpu_start: f64,
    sampler: RssSampler,
    hwm_reset: bool,
}

impl UsageMeter {
    pub fn start(tree: ProcTree) -> Self {
        let hwm_reset = tree.reset_peak();
        Self {
            tree,
            cpu_start: tree.cpu_seconds(),
            sampler: RssSampler::start(tree),
            hwm_reset,
        }
    }

    pub async fn finish(self) -> Usage {
        let cpu = self.tree.cpu_seconds() - self.cpu_start;
        let sampled = self.sampler.finish().await;
        let single = self.tree.pids().len() == 1;
        // A single process's VmHWM is exact when it could be reset; otherwise the samples.
        let peak = if single && self.hwm_reset {
            sampled.max(self.tree.root_hwm_kb())
        } else {
            sampled
        };
        Usage {
            cpu_seconds: cpu.max(0.0),
            peak_rss_kb: peak,
        }
    }
}
