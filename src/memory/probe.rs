//! What the system reports: free memory and this process's anonymous resident memory (Linux
//! `/proc`; `None` elsewhere).

/// `MemAvailable` of `/proc/meminfo`: memory that can be used without swapping.
pub fn available_bytes() -> Option<u64> {
    kib_field(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemAvailable:")
}

/// `RssAnon` of `/proc/self/status`: anonymous memory resident now (heap, copies, buffers; not
/// the file-backed pages of memory maps).
pub fn resident_anon_bytes() -> Option<u64> {
    kib_field(&std::fs::read_to_string("/proc/self/status").ok()?, "RssAnon:")
}

fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_in_kib() {
        let t = "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(kib_field(t, "MemAvailable:"), Some(20_000_000 * 1024));
        assert_eq!(kib_field(t, "RssAnon:"), None);
        if cfg!(target_os = "linux") {
            assert!(available_bytes().unwrap() > 0);
            assert!(resident_anon_bytes().unwrap() > 0);
        }
    }
}
