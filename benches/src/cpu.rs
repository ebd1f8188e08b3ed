//! Server CPU time, read from /proc.
//!
//! Owns: parsing `/proc/<pid>/stat` and summing user+system time over a server's process tree.
//! Must never: signal or otherwise touch the processes it reads, or guess at a pid it was not
//! given.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::time::Duration;

/// Linux reports /proc times in USER_HZ, which the kernel ABI fixes at 100 on every
/// architecture we run on, whatever CONFIG_HZ the kernel was built with.
const USER_HZ: u64 = 100;

/// The parts of one `/proc/<pid>/stat` line the bench uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    /// utime + stime of the live threads, in clock ticks.
    pub own_ticks: u64,
    /// cutime + cstime: children that exited and were waited for, in clock ticks.
    pub reaped_children_ticks: u64,
}

/// Parses one stat line. `comm` may hold spaces and parentheses, so fields are counted from the
/// last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let pid = line.get(..open)?.trim().parse().ok()?;
    let comm = line.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, so rest[11].
    let num = |i: usize| rest.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        pid,
        comm,
        state: rest.first()?.chars().next()?,
        ppid: u32::try_from(num(1)?).ok()?,
        own_ticks: num(11)? + num(12)?,
        reaped_children_ticks: num(13)? + num(14)?,
    })
}

/// Every readable process on the machine. Processes that vanish mid-scan are skipped.
fn all_processes() -> io::Result<Vec<ProcStat>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(line) = fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(stat) = parse_stat(&line) {
                out.push(stat);
            }
        }
    }
    Ok(out)
}

/// The live (non-zombie) children of `parent` whose command name is `comm`.
pub fn live_children_named(parent: u32, comm: &str) -> io::Result<Vec<u32>> {
    Ok(all_processes()?
        .into_iter()
        .filter(|p| p.ppid == parent && p.comm == comm && p.state != 'Z')
        .map(|p| p.pid)
        .collect())
}

/// CPU time used so far by `root` and all its live descendants, plus the children they reaped.
/// Counting the tree keeps the number honest if a server forks helpers.
pub fn tree_cpu(root: u32) -> io::Result<Duration> {
    Ok(ticks_to_duration(tree_ticks(root, &all_processes()?)))
}

/// CPU time used so far by this process alone (its children excluded), to show whether the
/// load generator itself was the bottleneck.
pub fn own_cpu() -> io::Result<Duration> {
    let text = fs::read_to_string("/proc/self/stat")?;
    let stat = parse_stat(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc/self/stat"))?;
    Ok(ticks_to_duration(stat.own_ticks))
}

fn tree_ticks(root: u32, procs: &[ProcStat]) -> u64 {
    let mut children: HashMap<u32, Vec<&ProcStat>> = HashMap::new();
    let mut by_pid = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
        by_pid.insert(p.pid, p);
    }
    let Some(root_stat) = by_pid.get(&root) else {
        return 0;
    };
    let mut total = 0;
    let mut stack = vec![*root_stat];
    while let Some(p) = stack.pop() {
        total += p.own_ticks + p.reaped_children_ticks;
        if let Some(kids) = children.get(&p.pid) {
            stack.extend(kids.iter().copied().filter(|k| k.pid != p.pid));
        }
    }
    total
}

fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pid: u32, comm: &str, ppid: u32, utime: u64, stime: u64, cut: u64) -> String {
        format!(
            "{pid} ({comm}) S {ppid} 1 1 0 -1 4194560 100 0 0 0 {utime} {stime} {cut} 0 20 0 9 0 \
             1234 5678 90 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
        )
    }

    #[test]
    fn parses_times_and_parent() {
        let stat = parse_stat(&line(42, "perdure", 7, 150, 30, 5)).expect("parses");
        assert_eq!(stat.pid, 42);
        assert_eq!(stat.comm, "perdure");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.ppid, 7);
        assert_eq!(stat.own_ticks, 180);
        assert_eq!(stat.reaped_children_ticks, 5);
    }

    #[test]
    fn comm_with_spaces_and_parens_does_not_shift_fields() {
        let stat = parse_stat(&line(9, "tokio) (x y", 3, 10, 20, 0)).expect("parses");
        assert_eq!(stat.comm, "tokio) (x y");
        assert_eq!(stat.ppid, 3);
        assert_eq!(stat.own_ticks, 30);
    }

    #[test]
    fn truncated_line_is_rejected() {
        assert_eq!(parse_stat("12 (x) S 1 2 3"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn tree_sums_descendants_but_not_siblings() {
        let procs: Vec<ProcStat> = [
            line(10, "server", 1, 100, 0, 7),
            line(11, "helper", 10, 20, 5, 0),
            line(12, "grandchild", 11, 3, 0, 0),
            line(13, "sibling", 1, 1000, 0, 0),
        ]
        .iter()
        .map(|l| parse_stat(l).expect("parses"))
        .collect();
        assert_eq!(tree_ticks(10, &procs), 100 + 7 + 25 + 3);
        assert_eq!(tree_ticks(99, &procs), 0);
    }

    #[test]
    fn ticks_are_hundredths_of_a_second() {
        assert_eq!(ticks_to_duration(250), Duration::from_millis(2500));
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        let text = fs::read_to_string(format!("/proc/{me}/stat")).expect("own stat");
        let stat = parse_stat(&text).expect("own stat parses");
        assert_eq!(stat.pid, me);
        assert!(tree_cpu(me).is_ok());
        assert!(own_cpu().is_ok());
    }
}
