//! Resident memory read from /proc (Linux); `None` elsewhere or when unreadable.

/// A `kB` field of `/proc/<who>/status`, in bytes.
fn status_field(who: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{who}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// This process's peak resident memory so far.
pub fn peak_rss() -> Option<u64> {
    status_field("self", "VmHWM:")
}

/// Resident memory of process `pid` now.
pub fn rss_of(pid: u32) -> Option<u64> {
    status_field(&pid.to_string(), "VmRSS:")
}

/// Anonymous resident memory of process `pid` now.
pub fn anon_of(pid: u32) -> Option<u64> {
    status_field(&pid.to_string(), "RssAnon:")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            // Current first: the peak read after it can only be as large or larger.
            let now = super::rss_of(std::process::id()).unwrap();
            let peak = super::peak_rss().unwrap();
            assert!(now > 0 && peak >= now, "peak {peak} now {now}");
        }
    }
}
