//! Human-readable numbers for terminal output.

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

pub fn count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1}K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

pub fn shape(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// The estimate of a run's memory, on one line.
pub fn memory_line(e: &sinkquant::memory::Estimate) -> String {
    let limit = match e.budget.explicit {
        true => format!("--max-memory {}", bytes(e.budget.bytes)),
        false => format!("{} free", bytes(e.budget.bytes)),
    };
    let stages = [("calibration", e.calibration), ("quantization", e.quantization), ("evaluation", e.evaluation)]
        .iter()
        .filter(|(_, b)| *b > 0)
        .map(|(n, b)| format!("{n} {}", bytes(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("memory: about {} at peak (held {}; {stages}), of {limit}", bytes(e.peak()), bytes(e.base))
}
