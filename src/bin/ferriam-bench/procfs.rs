//! CPU time and memory of a server process and its descendants, read from Linux's /proc:
//! `utime + stime` from /proc/PID/stat (and per thread from /proc/PID/task/TID/stat), the
//! machine's busy and idle time from /proc/stat, `VmRSS` and `VmHWM` from /proc/PID/status, and
//! the peak reset by writing 5 to /proc/PID/clear_refs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferriam::workers::names;

/// A process and the processes it started (node:cluster workers, for the peer).
#[derive(Clone, Copy, Debug)]
pub struct ProcTree {
    pub root: u32,
}

/// What /proc/PID/stat (or /proc/PID/task/TID/stat) tells: the name, the parent and the CPU
/// ticks spent.
struct Stat {
    name: String,
    ppid: u32,
    ticks: u64,
    /// The ticks of its children that ended and were waited for.
    children_ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let close = text.rfind(')')?;
    let name = text.get(text.find('(')? + 1..close)?.to_owned();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let ppid = fields.get(1)?.parse().ok()?;
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (utime, stime) = (tick(11)?, tick(12)?);
    let children_ticks = tick(13).unwrap_or(0) + tick(14).unwrap_or(0);
    Some(Stat {
        name,
        ppid,
        ticks: utime + stime,
        children_ticks,
    })
}

/// The summed resident memory of `pids` in KiB.
fn rss_kb_of(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&p| status_kb(p, "VmRSS")).sum()
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

    /// The root's CPU ticks, in all and by what its threads do. A thread that ended counts in
    /// the total only.
    fn thread_ticks(&self) -> Option<ThreadTicks> {
        let mut ticks = ThreadTicks::default();
        for entry in std::fs::read_dir(format!("/proc/{}/task", self.root))
            .ok()?
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if let Some(thread) = parse_stat(&text) {
                ticks.add(&thread.name, thread.ticks);
            }
        }
        // The process total is read last: read first, a thread still running could show more
        // time than the total taken a moment before it.
        ticks.total = stat(self.root)?.ticks;
        Some(ticks)
    }

    /// Resident memory now, summed over the tree, in KiB.
    pub fn rss_kb(&self) -> u64 {
        rss_kb_of(&self.pids())
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

/// CPU ticks of a server process, in all and for the threads Ferriam names after their job.
#[derive(Clone, Copy, Debug, Default)]
struct ThreadTicks {
    total: u64,
    signing: u64,
    hashing: u64,
    database: u64,
}

impl ThreadTicks {
    /// Counts a thread's ticks under its job, told by its name (Linux keeps 15 bytes of it).
    fn add(&mut self, thread_name: &str, ticks: u64) {
        if thread_name.starts_with(names::SIGNING) {
            self.signing += ticks;
        } else if thread_name.starts_with(names::HASHING) {
            self.hashing += ticks;
        } else if thread_name.starts_with(names::DATABASE) {
            self.database += ticks;
        }
    }
}

/// The whole machine's CPU ticks from the first line of /proc/stat: (busy, busy + idle).
fn machine_ticks() -> Option<(u64, u64)> {
    parse_machine_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn parse_machine_ticks(proc_stat: &str) -> Option<(u64, u64)> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
    let idle = f.get(3)? + f.get(4)?;
    Some((busy, busy + idle))
}

/// The ticks of the load generator: this process, and the children it waited for (wrk, which
/// ends within the run it generates the load of).
fn generator_ticks() -> Option<u64> {
    let me = stat(std::process::id())?;
    Some(me.ticks + me.children_ticks)
}

/// The machine's, the load generator's and a server's ticks at one moment.
#[derive(Clone, Copy, Debug)]
struct CpuSnapshot {
    machine_busy: u64,
    machine_total: u64,
    generator: u64,
    server: ThreadTicks,
}

impl CpuSnapshot {
    fn take(tree: &ProcTree) -> Option<Self> {
        let (machine_busy, machine_total) = machine_ticks()?;
        Some(Self {
            machine_busy,
            machine_total,
            generator: generator_ticks()?,
            server: tree.thread_ticks()?,
        })
    }
}

/// Where the machine's CPU time went during a run, each as a fraction of it (cores × run
/// time): the server's signing, argon2 and database threads, the rest of the server (the async
/// runtime), the load generator (ferriam-bench and wrk), the rest of the machine (other
/// processes, interrupts: on a shared machine, what disturbed the run) and idle time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuSplit {
    pub signing: f64,
    pub hashing: f64,
    pub database: f64,
    pub runtime: f64,
    pub generator: f64,
    pub elsewhere: f64,
    pub idle: f64,
}

impl CpuSplit {
    fn between(start: &CpuSnapshot, end: &CpuSnapshot) -> Option<Self> {
        let total = end.machine_total.checked_sub(start.machine_total)?;
        if total == 0 {
            return None;
        }
        let share = |ticks: u64| ticks as f64 / total as f64;
        let (a, b) = (&start.server, &end.server);
        let signing = b.signing.saturating_sub(a.signing);
        let hashing = b.hashing.saturating_sub(a.hashing);
        let database = b.database.saturating_sub(a.database);
        let server = b.total.saturating_sub(a.total);
        let generator = end.generator.saturating_sub(start.generator);
        let busy = end.machine_busy.saturating_sub(start.machine_busy);
        Some(Self {
            signing: share(signing),
            hashing: share(hashing),
            database: share(database),
            runtime: share(server.saturating_sub(signing + hashing + database)),
            generator: share(generator),
            elsewhere: share(busy.saturating_sub(server + generator)),
            idle: share(total.saturating_sub(busy)),
        })
    }
}

/// Samples the tree's summed RSS every 50 ms in the background and keeps the maximum, so a
/// multi-process server gets a peak too (VmHWM is per process).
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max_kb: Arc<AtomicU64>,
    handle: tokio::task::JoinHandle<()>,
}

/// Samples between two searches of the process tree (50 ms each).
const RESCAN_EVERY: usize = 20;

impl RssSampler {
    pub fn start(tree: ProcTree) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max_kb = Arc::new(AtomicU64::new(tree.rss_kb()));
        let handle = {
            let (stop, max_kb) = (stop.clone(), max_kb.clone());
            tokio::task::spawn_blocking(move || {
                // The tree is found again once a second only: finding it reads the stat of
                // every process on the machine, which on a busy one costs the load generator
                // a noticeable share of a core at every sample.
                let mut pids = tree.pids();
                // Bounded: at most one hour of samples even if `finish` is never called.
                for i in 0..72_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if i % RESCAN_EVERY == RESCAN_EVERY - 1 {
                        pids = tree.pids();
                    }
                    max_kb.fetch_max(rss_kb_of(&pids), Ordering::Relaxed);
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
    /// Where the machine's CPU went, for a server of one process (not the peer's cluster).
    pub cpu_split: Option<CpuSplit>,
}

/// Measures CPU seconds and peak RSS of `tree` around a stretch of work.
pub struct UsageMeter {
    tree: ProcTree,
    cpu_start: f64,
    snapshot: Option<CpuSnapshot>,
    sampler: RssSampler,
    hwm_reset: bool,
}

impl UsageMeter {
    pub fn start(tree: ProcTree) -> Self {
        let hwm_reset = tree.reset_peak();
        Self {
            tree,
            cpu_start: tree.cpu_seconds(),
            snapshot: CpuSnapshot::take(&tree),
            sampler: RssSampler::start(tree),
            hwm_reset,
        }
    }

    pub async fn finish(self) -> Usage {
        let cpu = self.tree.cpu_seconds() - self.cpu_start;
        let end = CpuSnapshot::take(&self.tree);
        let sampled = self.sampler.finish().await;
        let single = self.tree.pids().len() == 1;
        // A single process's VmHWM is exact when it could be reset; otherwise the samples.
        let peak = if single && self.hwm_reset {
            sampled.max(self.tree.root_hwm_kb())
        } else {
            sampled
        };
        let cpu_split = match (single, self.snapshot, end) {
            (true, Some(start), Some(end)) => CpuSplit::between(&start, &end),
            _ => None,
        };
        Usage {
            cpu_seconds: cpu.max(0.0),
            peak_rss_kb: peak,
            cpu_split,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_after_the_name_whatever_it_holds() {
        let line = "42 (tokio) (x 1) S 7 42 42 0 -1 4194560 10 0 0 0 150 30 4 5 20 0 1 0";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.name.as_str(), s.ppid, s.ticks), ("tokio) (x 1", 7, 180));
        assert_eq!(s.children_ticks, 9);
        assert!(parse_stat("42 tokio S 7").is_none());
    }

    #[test]
    fn the_machine_is_busy_outside_idle_and_iowait() {
        let proc_stat = "cpu  100 5 20 800 10 1 2 3 0 0\ncpu0 50 2 10 400 5 0 1 1 0 0\n";
        // busy = user + nice + system + irq + softirq + steal
        assert_eq!(parse_machine_ticks(proc_stat), Some((131, 941)));
        assert_eq!(parse_machine_ticks("intr 1 2 3\n"), None);
    }

    #[test]
    fn the_split_shares_the_machine_between_threads_others_and_idle() {
        let at = |busy, total, generator, server: [u64; 4]| CpuSnapshot {
            machine_busy: busy,
            machine_total: total,
            generator,
            server: ThreadTicks {
                total: server[0],
                signing: server[1],
                hashing: server[2],
                database: server[3],
            },
        };
        let start = at(1_000, 5_000, 70, [300, 200, 0, 10]);
        // 200 ticks passed: 180 busy, of which the server took 160 (120 signing, 10 database)
        // and the load generator 14.
        let end = at(1_180, 5_200, 84, [460, 320, 0, 20]);
        let split = CpuSplit::between(&start, &end).unwrap();
        let expect = CpuSplit {
            signing: 0.6,
            hashing: 0.0,
            database: 0.05,
            runtime: 0.15,
            generator: 0.07,
            elsewhere: 0.03,
            idle: 0.1,
        };
        assert_eq!(split, expect);
        assert_eq!(CpuSplit::between(&end, &end), None, "no time passed");
    }

    #[test]
    fn a_named_thread_is_counted_under_its_job() {
        let tree = ProcTree::new(std::process::id());
        let before = tree.thread_ticks().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("{}-9", names::SIGNING))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
                .unwrap()
        };
        // Spin until /proc shows the thread's time (a tick is 10 ms), for at most 10 s.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut after = tree.thread_ticks().unwrap();
        while after.signing == before.signing && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            after = tree.thread_ticks().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(
            after.signing > before.signing,
            "the signing thread's time was seen"
        );
        // The kernel scales a process's and each thread's tick counts to their run time
        // separately (cputime_adjust), so on a loaded machine the process total may trail one
        // thread's count by a tick or two: it includes the thread within that rounding.
        assert!(
            after.total + 2 >= after.signing,
            "the process total includes it: total {} signing {}",
            after.total,
            after.signing
        );
        assert_eq!(after.database, before.database, "no database thread ran");
    }
}
