//! Which CPU each executor runs on.
//!
//! Without a CPU set, executor `i` is pinned to the `i`-th CPU the thread starting the engine
//! may run on (normally CPU `i`; under `taskset` the allowed ones in order) when there are at
//! least as many such CPUs as executors, and executors float otherwise. With a CPU set
//! (`EngineConfig::cpuset`) executor `i` is pinned to `cpuset[i]`: how an operator keeps CPUs
//! free for something else on the machine (a load generator, the disk's interrupts, another
//! service).

use crate::error::{EngineError, Result};

/// The CPU of each of `cores` executors (see `EngineConfig::executors`), in executor order;
/// `None` floats.
pub(crate) fn plan(cores: usize, cpuset: &[usize], allowed: &[usize]) -> Result<Vec<Option<usize>>> {
    assert!(cores > 0, "an engine runs at least one executor");
    if cpuset.is_empty() {
        let pinned = cores <= allowed.len();
        return Ok((0..cores).map(|i| if pinned { allowed.get(i).copied() } else { None }).collect());
    }
    if let Some(cpu) = cpuset.iter().find(|cpu| !allowed.contains(cpu)) {
        return Err(EngineError::InvalidArgument(format!(
            "invalid engine config: cpuset names CPU {cpu}, which this process may not run on (allowed: {})",
            list(allowed)
        )));
    }
    // `EngineConfig::check` refuses more executors than CPUs in the set.
    assert!(cores <= cpuset.len(), "{cores} executors for a set of {} CPUs", cpuset.len());
    Ok(cpuset[..cores].iter().map(|&cpu| Some(cpu)).collect())
}

/// The CPUs the calling thread may run on, in ascending order (the process's, as `taskset` or
/// a cgroup left them, unless the caller pinned this thread); when the kernel will not say,
/// CPUs `0..available_parallelism`.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain bits, zero is its empty value; the kernel writes at most
    // `size_of::<cpu_set_t>()` bytes into it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if got == 0 {
        let cpus: Vec<usize> =
            (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }).collect();
        if !cpus.is_empty() {
            return cpus;
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// `0, 1, 3` for the error message.
fn list(cpus: &[usize]) -> String {
    cpus.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_set_executors_take_the_allowed_cpus_in_order() {
        assert_eq!(plan(2, &[], &[0, 1]).expect("a plan"), [Some(0), Some(1)]);
        assert_eq!(plan(1, &[], &[0, 1]).expect("a plan"), [Some(0)]);
        // Under `taskset -c 2,3`: the allowed CPUs, not 0 and 1.
        assert_eq!(plan(2, &[], &[2, 3]).expect("a plan"), [Some(2), Some(3)]);
    }

    #[test]
    fn more_executors_than_allowed_cpus_float() {
        assert_eq!(plan(3, &[], &[0, 1]).expect("a plan"), [None, None, None]);
    }

    #[test]
    fn a_set_pins_executor_i_to_its_ith_cpu() {
        assert_eq!(plan(1, &[1], &[0, 1]).expect("a plan"), [Some(1)]);
        assert_eq!(plan(2, &[3, 1], &[0, 1, 2, 3]).expect("a plan"), [Some(3), Some(1)]);
        assert_eq!(plan(1, &[3, 1], &[0, 1, 2, 3]).expect("a plan"), [Some(3)]);
    }

    #[test]
    fn a_set_naming_a_cpu_the_process_may_not_use_is_refused() {
        let e = plan(2, &[0, 7], &[0, 1]).expect_err("refused").to_string();
        assert!(e.contains("cpuset names CPU 7") && e.contains("allowed: 0, 1"), "{e}");
    }

    #[test]
    fn the_calling_thread_may_run_somewhere() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        assert!(cpus.windows(2).all(|w| w[0] < w[1]), "{cpus:?}");
    }
}
