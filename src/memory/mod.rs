//! Memory: how much a run may use (`--max-memory`, by default what the machine has free), what
//! it will need (an estimate made before the long work starts), and what the process holds.
//!
//! Weights are computed from their memory map, so their pages are file-backed: the kernel
//! drops and re-reads them as it needs. The budget counts anonymous memory only: copies,
//! activations, logits and working buffers.

mod estimate;
mod probe;

pub use estimate::{estimate, Estimate, Work, ROW_BLOCK_BYTES};
pub use probe::{available_bytes, resident_anon_bytes};

use crate::error::{Error, Result};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The anonymous memory a run may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Budget {
    pub bytes: u64,
    /// Whether the user set it (`--max-memory`) rather than it being what was free.
    pub explicit: bool,
}

impl Budget {
    /// `--max-memory` if given, otherwise the memory available now (`MemAvailable`; 8 GiB where
    /// the system does not say).
    pub fn new(max: Option<u64>) -> Self {
        match max {
            Some(bytes) => Budget { bytes, explicit: true },
            None => Budget { bytes: available_bytes().unwrap_or(8 * GIB), explicit: false },
        }
    }

    /// Bytes of hidden states carried between layers at once: an eighth of the budget, at most
    /// 256 MiB (more only saves re-reading the weights, which the page cache mostly does).
    pub fn states(&self) -> usize {
        (self.bytes / 8).min(256 * MIB) as usize
    }

    /// Bytes of the base model's logits `compare` keeps in memory; beyond, they go to a
    /// temporary file (read back a block at a time, which costs little beside the forward
    /// pass): a sixteenth of the budget, at most 16 MiB.
    pub fn logits(&self) -> usize {
        (self.bytes / 16).min(16 * MIB) as usize
    }
}

/// Parses a size: a number with an optional unit K, M, G or T (powers of 1024, `B`, `iB` and
/// case optional): `512M`, `1.5GiB`, `24g`, `1000000`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches('b').trim_end_matches('i');
    let mult = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => MIB,
        "g" => GIB,
        "t" => 1 << 40,
        _ => return Err(Error::Invalid(format!("size {s:?}: unknown unit (use K, M, G or T)"))),
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok((n * mult as f64) as u64),
        _ => Err(Error::Invalid(format!("size {s:?}: expected a positive number with an optional unit, e.g. 8G"))),
    }
}

/// A size for people: `1.25 GiB`, `380 MiB`, `64 KiB` (rounded up below a GiB).
pub fn human(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{:.2} GiB", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.0} MiB", (bytes as f64 / MIB as f64).ceil())
    } else {
        format!("{:.0} KiB", (bytes as f64 / 1024.0).ceil())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512M").unwrap(), 512 * MIB);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 * GIB / 2);
        assert_eq!(parse_size("24g").unwrap(), 24 * GIB);
        assert_eq!(parse_size("2 GB").unwrap(), 2 * GIB);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        for bad in ["", "G", "-1G", "0", "3X", "1.2.3M"] {
            assert!(parse_size(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_budget_splits_into_states_and_logits() {
        let b = Budget { bytes: 128 * MIB, explicit: true };
        assert_eq!(b.states() as u64, 16 * MIB);
        assert_eq!(b.logits() as u64, 8 * MIB);
        let big = Budget { bytes: 64 * GIB, explicit: false };
        assert_eq!((big.states() as u64, big.logits() as u64), (256 * MIB, 16 * MIB));
        assert_eq!(human(3 * GIB / 2), "1.50 GiB");
        assert_eq!(human(300 * MIB + 1), "301 MiB");
        assert_eq!(human(64 << 10), "64 KiB");
    }
}
