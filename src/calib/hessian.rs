//! The input Hessian of every linear layer, `H = sum_t x_t x_t^T` over the calibration tokens
//! (the second-order statistics GPTQ compensates errors with), collected through the
//! calibration hook next to the per-column statistics, the output head's included.

use crate::forward::LinearSite;
use crate::Result;
use candle_core::Tensor;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};
use std::collections::HashMap;

/// Accumulated `X^T X` per linear input (`d x d`, row-major f32) and the tokens summed.
#[derive(Default)]
pub struct Hessians {
    pub sums: HashMap<LinearSite, (Vec<f32>, u64)>,
}

impl Hessians {
    /// Adds the rows of `x` (`[tokens, d]`) to `site`'s sum: the lower triangle only (the sum is
    /// symmetric; [`Self::into_means`] fills the rest), a symmetric rank-`tokens` update.
    pub fn add(&mut self, site: LinearSite, x: &Tensor) -> Result<()> {
        let (t, d) = x.dims2()?;
        let rows = x.flatten_all()?.to_vec1::<f32>()?;
        let (sum, count) = self.sums.entry(site).or_insert_with(|| (vec![0.0; d * d], 0));
        let xm = MatRef::from_row_major_slice(&rows, t, d);
        // Column-major: its lower triangle is the row-major upper one.
        let dst = MatMut::from_column_major_slice_mut(sum, d, d);
        triangular::matmul(
            dst,
            BlockStructure::TriangularLower,
            Accum::Add,
            xm.transpose(),
            BlockStructure::Rectangular,
            xm,
            BlockStructure::Rectangular,
            1.0f32,
            Par::rayon(0),
        );
        *count += t as u64;
        Ok(())
    }

    /// Bytes the Hessians of a model take: one `d x d` f32 matrix per distinct linear input.
    pub fn bytes_for(inputs: &[usize]) -> u64 {
        inputs.iter().map(|&d| (d * d * 4) as u64).sum()
    }

    /// The mean `X^T X / tokens` of each input.
    pub fn into_means(self) -> HashMap<LinearSite, Vec<f32>> {
        self.sums
            .into_iter()
            .map(|(site, (mut h, n))| {
                let n = n.max(1) as f32;
                let d = (h.len() as f64).sqrt() as usize;
                // The sum is in the upper triangle (row-major): mirror it.
                for r in 0..d {
                    for c in 0..r {
                        h[r * d + c] = h[c * d + r];
                    }
                }
                h.iter_mut().for_each(|v| *v /= n);
                (site, h)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LayerTensor;
    use candle_core::Device;

    #[test]
    fn sums_outer_products_of_the_rows() {
        let mut h = Hessians::default();
        let site = LinearSite::Layer(0, LayerTensor::FfnDown);
        let x = Tensor::from_vec(vec![1f32, 2.0, 0.5, 3.0, -1.0, 2.0], (2, 3), &Device::Cpu).unwrap();
        h.add(site, &x).unwrap();
        let y = Tensor::from_vec(vec![0f32, 1.0, 1.0], (1, 3), &Device::Cpu).unwrap();
        h.add(site, &y).unwrap();
        h.add(LinearSite::Output, &y).unwrap();
        let m = h.into_means();
        // Rows (1,2,0.5), (3,-1,2), (0,1,1): sum of outer products over 3 tokens.
        let want = [10.0, -1.0, 6.5, -1.0, 6.0, 0.0, 6.5, 0.0, 5.25].map(|v: f32| v / 3.0);
        assert_eq!(m[&site], want);
        assert_eq!(m[&LinearSite::Output], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    }
}
