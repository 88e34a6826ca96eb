//! A band of weight rows unpacked (`unpack.rs`) and interleaved eight rows at a time, so that
//! one 256-bit register holds four consecutive codes of each of eight rows: the dot products
//! then sum eight rows at once, lane by lane, with no horizontal additions, and convert and
//! scale eight rows' sums with one instruction each (the layout of ggml's `q4_0_8x8` repack).
//! Unpacking costs one pass over the band, shared by every token of the matmul; codes take a
//! byte per weight, so a band stays in cache.

use super::unpack::{Row, Shape};
use crate::quant::formats::GgmlType;

/// Rows interleaved together.
pub const ROWS: usize = 8;

/// A band of rows, padded to a multiple of [`ROWS`] with zero rows.
pub struct Tile {
    pub shape: Shape,
    /// Real rows (without the padding).
    pub rows: usize,
    pub cols: usize,
    /// `[row group][block][quad (8)][row (8)][4]`: 256 bytes per row group and block.
    pub codes: Vec<i8>,
    /// `[row group][block][row]`.
    pub ws: Vec<f32>,
    /// `[row group][block][half][row][2]`: each row's half-block scale twice, the multiplier
    /// `madd` takes for the 16-bit pair sums of that row's lane.
    pub hs: Vec<i16>,
    /// `[row group][half block][row]`.
    pub wo: Vec<f32>,
    row: Row,
}

impl Tile {
    pub fn new(shape: Shape, cols: usize) -> Tile {
        Tile { shape, rows: 0, cols, codes: vec![], ws: vec![], hs: vec![], wo: vec![], row: Row::new(cols) }
    }

    /// Row groups, the padding included.
    pub fn groups(&self) -> usize {
        self.rows.div_ceil(ROWS)
    }

    /// Unpacks `bytes`, whole rows of `ty` with `self.cols` weights each.
    pub fn fill(&mut self, ty: GgmlType, bytes: &[u8]) {
        let row_bytes = ty.row_bytes(self.cols).expect("validated row length");
        let nb = self.cols / 32;
        self.rows = bytes.len() / row_bytes;
        let n = self.groups() * ROWS;
        // The padding rows stay zero: codes 0, scales 0, offsets 0.
        self.codes.clear();
        self.codes.resize(n * self.cols, 0);
        self.ws.clear();
        self.ws.resize(n * nb, 0.0);
        self.hs.clear();
        self.hs.resize(n * nb * 4, 0);
        self.wo.clear();
        self.wo.resize(n * 2 * nb, 0.0);
        for (r, src) in bytes.chunks_exact(row_bytes).enumerate() {
            self.row.fill(ty, src);
            self.scatter(r);
        }
    }

    /// A tile of hand-made rows.
    #[cfg(test)]
    pub fn from_rows(shape: Shape, rows: Vec<Row>) -> Tile {
        let cols = rows[0].codes.len();
        let mut t = Tile::new(shape, cols);
        t.rows = rows.len();
        let (n, nb) = (t.groups() * ROWS, cols / 32);
        (t.codes, t.ws, t.hs, t.wo) =
            (vec![0; n * cols], vec![0.0; n * nb], vec![0; n * nb * 4], vec![0.0; n * 2 * nb]);
        for (r, row) in rows.into_iter().enumerate() {
            t.row = row;
            t.scatter(r);
        }
        t
    }

    /// Copies `self.row` into row `r`'s interleaved places.
    fn scatter(&mut self, r: usize) {
        let (g, j, nb) = (r / ROWS, r % ROWS, self.cols / 32);
        for b in 0..nb {
            let blk = &mut self.codes[(g * nb + b) * 256..(g * nb + b + 1) * 256];
            for q in 0..8 {
                blk[q * 32 + j * 4..q * 32 + j * 4 + 4]
                    .copy_from_slice(&self.row.codes[32 * b + 4 * q..32 * b + 4 * q + 4]);
            }
            self.ws[(g * nb + b) * ROWS + j] = self.row.ws[b];
            for half in 0..2 {
                let h = ((g * nb + b) * 2 + half) * 2 * ROWS + 2 * j;
                self.hs[h..h + 2].fill(self.row.hs[b][half]);
                self.wo[(g * 2 * nb + 2 * b + half) * ROWS + j] = self.row.wo[2 * b + half];
            }
        }
    }

    /// Code `i` of row `r`.
    pub fn code(&self, r: usize, i: usize) -> i8 {
        let (g, j, nb) = (r / ROWS, r % ROWS, self.cols / 32);
        self.codes[(g * nb + i / 32) * 256 + (i % 32) / 4 * 32 + j * 4 + i % 4]
    }

    /// Scale of block `b` of row `r`.
    pub fn scale(&self, r: usize, b: usize) -> f32 {
        self.ws[((r / ROWS) * (self.cols / 32) + b) * ROWS + r % ROWS]
    }

    /// Integer scale of half `half` of block `b` of row `r`.
    pub fn half_scale(&self, r: usize, b: usize, half: usize) -> i16 {
        self.hs[(((r / ROWS) * (self.cols / 32) + b) * 2 + half) * 2 * ROWS + 2 * (r % ROWS)]
    }

    /// Offset of half block `j` of row `r`.
    pub fn offset(&self, r: usize, j: usize) -> f32 {
        self.wo[((r / ROWS) * (self.cols / 16) + j) * ROWS + r % ROWS]
    }
}
