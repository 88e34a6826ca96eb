//! The input Hessian of every linear layer, `H = sum_t x_t x_t^T` over the calibration tokens
//! (the second-order statistics GPTQ compensates errors with), collected through the
//! calibration hook next to the per-column statistics. The output head's is not collected.

use crate::forward::LinearSite;
use crate::Result;
use candle_core::Tensor;
use std::collections::HashMap;

/// Accumulated `X^T X` per linear input (`d x d`, row-major f32) and the tokens summed.
#[derive(Default)]
pub struct Hessians {
    pub sums: HashMap<LinearSite, (Vec<f32>, u64)>,
}

impl Hessians {
    /// Adds the rows of `x` (`[tokens, d]`) to `site`'s sum.
    pub fn add(&mut self, site: LinearSite, x: &Tensor) -> Result<()> {
        if site == LinearSite::Output {
            return Ok(());
        }
        let (t, d) = x.dims2()?;
        let xtx = x.t()?.matmul(x)?.flatten_all()?.to_vec1::<f32>()?;
        let (sum, count) = self.sums.entry(site).or_insert_with(|| (vec![0.0; d * d], 0));
        sum.iter_mut().zip(&xtx).for_each(|(s, v)| *s += v);
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
        let x = Tensor::from_vec(vec![1f32, 2.0, 3.0, -1.0], (2, 2), &Device::Cpu).unwrap();
        h.add(site, &x).unwrap();
        h.add(LinearSite::Output, &x).unwrap();
        let m = h.into_means();
        // (1,2)(1,2)^T + (3,-1)(3,-1)^T = [[10, -1], [-1, 5]], over 2 tokens.
        assert_eq!(m[&site], vec![5.0, -0.5, -0.5, 2.5]);
        assert!(!m.contains_key(&LinearSite::Output));
    }
}
