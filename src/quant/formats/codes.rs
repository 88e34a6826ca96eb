//! A block's grid: the values its stored scales allow each of its weights, and the codes that
//! pick from them. Quantizers that choose codes themselves (error compensation in
//! `crate::quant::methods`) take the scales a ggml quantizer chose for a block, pick each
//! weight's code with [`Grid::nearest`] and store the codes with `set_codes`, so the block stays
//! an exact ggml block whatever the codes are.
//!
//! Every weight `e` of a block decodes as `scale[g] * v(c) + offset[g]`, `g = e / group`, with
//! `v(c) = c` for the linear types and `v(c) = table[c]` for the non-linear IQ4 types. Each
//! type's file says how its bytes give the scales (`grid`) and where a code goes (`set_codes`);
//! `tests` pins both to the type's dequantizer, bit for bit, on random blocks and codes.

/// The grid of one block.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Weights sharing one scale and offset.
    pub group: usize,
    pub scale: [f32; 16],
    pub offset: [f32; 16],
    /// The lowest and highest code.
    pub lo: i32,
    pub hi: i32,
    /// The values of codes `0..16`, for the non-linear types.
    pub table: Option<&'static [i8; 16]>,
}

impl Grid {
    /// A linear grid of `groups` groups of `group` weights, codes `lo..=hi`.
    pub fn linear(group: usize, lo: i32, hi: i32) -> Grid {
        Grid { group, scale: [0.0; 16], offset: [0.0; 16], lo, hi, table: None }
    }

    /// The value code `c` gives weight `e`, as the type's dequantizer computes it.
    #[inline]
    pub fn value(&self, e: usize, c: i32) -> f32 {
        let g = e / self.group;
        let v = match self.table {
            Some(t) => t[c as usize] as f32,
            None => c as f32,
        };
        self.scale[g] * v + self.offset[g]
    }

    /// The code whose value is nearest to `w` for weight `e` (ties to the lower code).
    #[inline]
    pub fn nearest(&self, e: usize, w: f32) -> i32 {
        let g = e / self.group;
        let (s, o) = (self.scale[g], self.offset[g]);
        if s == 0.0 || !s.is_finite() {
            return self.zero_code();
        }
        let t = (w - o) / s;
        match self.table {
            None => {
                let c = (t.round() as i32).clamp(self.lo, self.hi);
                // Rounding in units of the scale can miss by one next to a midpoint.
                let best = |a: i32, b: i32| {
                    if (self.value(e, b) - w).abs() < (self.value(e, a) - w).abs() {
                        b
                    } else {
                        a
                    }
                };
                let c = if c > self.lo { best(c, c - 1) } else { c };
                if c < self.hi {
                    best(c, c + 1)
                } else {
                    c
                }
            }
            Some(table) => {
                let mut best = 0;
                let mut err = f32::INFINITY;
                for (k, &v) in table.iter().enumerate() {
                    let d = (v as f32 - t).abs();
                    if d < err {
                        err = d;
                        best = k;
                    }
                }
                best as i32
            }
        }
    }

    /// The code of value 0 (or nearest to it): what a weight of a zero-scale group takes.
    fn zero_code(&self) -> i32 {
        match self.table {
            None => 0.clamp(self.lo, self.hi),
            Some(t) => t.iter().enumerate().min_by_key(|(_, v)| v.unsigned_abs()).map_or(0, |(k, _)| k as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::quant::formats::GgmlType;

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn uniform(&mut self) -> f32 {
            (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    /// For every type with codes: quantize random weights, set random codes, and check that the
    /// dequantizer gives exactly the grid's values; `nearest` never picks a farther value than
    /// the code it replaced.
    #[test]
    fn grids_decode_as_the_dequantizer_does() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for ty in GgmlType::ALL.iter().copied().filter(|t| t.format().is_quantized()) {
            let f = ty.format();
            let n = f.block_size();
            for trial in 0..50 {
                let x: Vec<f32> = (0..n).map(|_| rng.uniform() * if trial % 2 == 0 { 1.0 } else { 0.02 }).collect();
                let mut block = vec![0u8; f.type_size()];
                f.quantize(&x, None, &mut block);
                let grid = f.grid(&block).unwrap_or_else(|| panic!("{ty}: no grid"));
                let span = (grid.hi - grid.lo + 1) as u64;
                let codes: Vec<i32> = (0..n).map(|_| grid.lo + (rng.next() % span) as i32).collect();
                f.set_codes(&mut block, &codes);
                let mut y = vec![0f32; n];
                f.dequantize(&block, &mut y);
                let again = f.grid(&block).unwrap();
                for e in 0..n {
                    assert_eq!(y[e], grid.value(e, codes[e]), "{ty} trial {trial} weight {e} code {}", codes[e]);
                    assert_eq!(again.value(e, codes[e]), y[e], "{ty}: setting codes changed the scales");
                    let c = grid.nearest(e, x[e]);
                    assert!((grid.lo..=grid.hi).contains(&c), "{ty}: code {c} out of range");
                    let near = (grid.value(e, c) - x[e]).abs();
                    assert!(near <= (y[e] - x[e]).abs(), "{ty}: nearest code {c} is farther than {}", codes[e]);
                }
            }
        }
    }

    /// The codes a ggml quantizer stored are its nearest ones for most weights (ggml's searches
    /// round each weight to its nearest level once the scale is chosen).
    #[test]
    fn nearest_codes_reproduce_a_quantized_block() {
        let mut rng = Rng(42);
        for ty in GgmlType::ALL.iter().copied().filter(|t| t.format().is_quantized()) {
            let f = ty.format();
            let n = f.block_size();
            let x: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
            let mut block = vec![0u8; f.type_size()];
            f.quantize(&x, None, &mut block);
            let mut y = vec![0f32; n];
            f.dequantize(&block, &mut y);
            let grid = f.grid(&block).unwrap();
            let codes: Vec<i32> = (0..n).map(|e| grid.nearest(e, y[e])).collect();
            let mut again = block.clone();
            f.set_codes(&mut again, &codes);
            assert_eq!(again, block, "{ty}: the nearest codes of the dequantized block are not its codes");
        }
    }
}
