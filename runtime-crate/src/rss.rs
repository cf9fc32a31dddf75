//! The process's own memory, as the generated CLI and benchmark report it.

/// This process's peak resident set so far, in KiB: `VmHWM` from
/// `/proc/self/status`, or `None` where there is no such file (not Linux).
///
/// Unlike `getrusage`'s `ru_maxrss`, `VmHWM` starts afresh at `exec`, so a
/// large parent that started the process does not leak into it.
///
/// ```
/// let peak = onnx2rs_runtime::rss::peak_kib();
/// if cfg!(target_os = "linux") {
///     assert!(peak.unwrap() > 0);
/// }
/// ```
pub fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rest = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    rest.trim().trim_end_matches("kB").trim().parse().ok()
}
