//! CPU and load accounting for the figures (issue 14.5): the CPU time of the processes a
//! figure measures (the daemon, gpg and its agent, or the bench's own thread) beside its wall
//! time, and how busy the machine was with *other* processes meanwhile, so that a noisy run
//! can be recognised.
//!
//! Sources: `/proc/stat` (every CPU's busy time), `/proc/<pid>/stat` (one process's user and
//! system time), `getrusage` (this process, this thread, waited-for children). All in seconds.
use std::time::Instant;

/// Clock ticks per second of `/proc` (USER_HZ).
fn hz() -> f64 {
    // SAFETY: sysconf only reads a constant of the running kernel.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Busy CPU seconds of the whole machine so far, every core added (user, nice, system, irq,
/// softirq, steal; idle and iowait are not busy).
pub fn machine_busy() -> f64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = s.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
    (at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) / hz()
}

/// User plus system CPU seconds of a live process (`None` once it is gone).
pub fn process_cpu(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields count from its end.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // After the name: state(0) … utime(11) stime(12).
    Some((ticks(11) + ticks(12)) / hz())
}

fn rusage(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes one plain struct that we own.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut r) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(r.ru_utime) + tv(r.ru_stime)
}

/// CPU seconds of this whole process (the bench, every thread).
pub fn self_cpu() -> f64 {
    rusage(libc::RUSAGE_SELF)
}

/// CPU seconds of the calling thread.
pub fn thread_cpu() -> f64 {
    rusage(libc::RUSAGE_THREAD)
}

/// CPU seconds of the children waited for so far.
pub fn children_cpu() -> f64 {
    rusage(libc::RUSAGE_CHILDREN)
}

/// The CPU seconds of every live process whose command line contains `needle` (gpg-agent,
/// which detaches from the gpg that started it and is never waited for).
pub fn cpu_of_processes_with(needle: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .filter_map(process_cpu)
        .sum()
}

/// One figure's measurement: wall time, the CPU of what it measures, and the load of the rest.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Measured {
    pub wall_s: f64,
    /// CPU seconds of the processes the figure measures.
    pub cpu_s: f64,
    /// Average number of cores other processes kept busy meanwhile (the machine's busy time
    /// less the measured CPU and the bench's own), over the wall time.
    pub others_cores: f64,
}

impl Measured {
    pub fn cpu_ms_per(&self, n: usize) -> f64 {
        self.cpu_s * 1000.0 / n.max(1) as f64
    }
    pub fn per_s(&self, n: usize) -> f64 {
        n as f64 / self.wall_s
    }
}

/// Started before a figure; [`Meter::stop`] takes the CPU the figure's processes used.
pub struct Meter {
    t: Instant,
    busy: f64,
    own: f64,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            t: Instant::now(),
            busy: machine_busy(),
            own: self_cpu(),
        }
    }

    /// `measured_cpu_s`: the CPU of the measured processes during the figure. The bench's own
    /// CPU (polling a log, or being the measured thread) is never counted as others' load.
    pub fn stop(self, measured_cpu_s: f64, measured_in_self: bool) -> Measured {
        let wall_s = self.t.elapsed().as_secs_f64();
        let busy = machine_busy() - self.busy;
        let own = self_cpu() - self.own;
        let ours = if measured_in_self {
            own
        } else {
            own + measured_cpu_s
        };
        Measured {
            wall_s,
            cpu_s: measured_cpu_s,
            others_cores: ((busy - ours) / wall_s).max(0.0),
        }
    }
}

/// The load averages and the machine's busy cores right now (one second), for the header.
pub fn load_now() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let b = machine_busy();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let busy = machine_busy() - b;
    format!(
        "loadavg {} · {busy:.2} cores busy over 1 s",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    )
}
