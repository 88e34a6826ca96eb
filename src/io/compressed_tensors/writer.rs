//! Writing compressed-tensors `pack-quantized` checkpoints (what vLLM loads): the tensors that
//! replace one quantized linear layer's weight. The `quantization_config` entry of
//! `config.json` is in [`super::config`].

use super::names::{self, PACKED, SCALE, SHAPE, ZERO_POINT};
use super::pack::pack_zero_points;
use super::scheme::{Packed, Scheme};
use crate::io::safetensors::writer::PlannedTensor;

/// The tensors replacing `<prefix>.weight` (`prefix` is the module name, e.g.
/// `model.layers.0.mlp.down_proj`): `weight_packed` (I32), `weight_scale` (BF16),
/// `weight_shape` (I64 [2]) and, for an asymmetric scheme, `weight_zero_point` (I32, packed
/// along the rows). Each with its little-endian bytes, in this order.
pub fn layer_tensors(prefix: &str, p: &Packed, scheme: &Scheme) -> Vec<(PlannedTensor, Vec<u8>)> {
    let (rows, cols) = (p.rows, p.cols);
    let groups = scheme.n_groups(cols);
    let tensor = |suffix: &str, dtype: &'static str, shape: Vec<usize>, bytes: Vec<u8>| {
        (PlannedTensor { name: names::tensor(prefix, suffix), dtype, shape, nbytes: bytes.len() }, bytes)
    };
    let mut out = vec![
        tensor(PACKED, "I32", vec![rows, scheme.packed_cols(cols)], bytemuck::cast_slice(&p.packed).to_vec()),
        tensor(SCALE, "BF16", vec![rows, groups], bytemuck::cast_slice(&p.scale).to_vec()),
        tensor(SHAPE, "I64", vec![2], [rows as i64, cols as i64].iter().flat_map(|x| x.to_le_bytes()).collect()),
    ];
    if let Some(zp) = &p.zero_point {
        let packed = pack_zero_points(zp, rows, groups, scheme.bits);
        out.push(tensor(
            ZERO_POINT,
            "I32",
            vec![scheme.packed_zp_rows(rows), groups],
            bytemuck::cast_slice(&packed).to_vec(),
        ));
    }
    out
}

/// The tensors of a `rows x cols` layer stored with `scheme`, without data: names, dtypes,
/// shapes and sizes are known before anything is quantized.
pub fn planned_layer(prefix: &str, rows: usize, cols: usize, scheme: &Scheme) -> Vec<PlannedTensor> {
    let dummy = Packed {
        packed: vec![0; rows * scheme.packed_cols(cols)],
        scale: vec![half::bf16::ZERO; rows * scheme.n_groups(cols)],
        zero_point: (!scheme.symmetric).then(|| vec![0; rows * scheme.n_groups(cols)]),
        rows,
        cols,
    };
    layer_tensors(prefix, &dummy, scheme).into_iter().map(|(t, _)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::compressed_tensors::quantize;

    #[test]
    fn layer_tensors_shapes() {
        let w: Vec<f32> = (0..16 * 64).map(|i| ((i * 37 % 101) as f32 - 50.0) / 500.0).collect();
        let s = Scheme { bits: 4, group_size: Some(32), symmetric: false };
        let p = quantize(&w, 16, 64, &s, None).unwrap();
        let t = layer_tensors("m.x", &p, &s);
        let got: Vec<(&str, &str, Vec<usize>, usize)> =
            t.iter().map(|(t, b)| (t.name.as_str(), t.dtype, t.shape.clone(), b.len())).collect();
        assert_eq!(
            got,
            vec![
                ("m.x.weight_packed", "I32", vec![16, 8], 16 * 8 * 4),
                ("m.x.weight_scale", "BF16", vec![16, 2], 16 * 2 * 2),
                ("m.x.weight_shape", "I64", vec![2], 16),
                ("m.x.weight_zero_point", "I32", vec![2, 2], 16),
            ]
        );
        assert!(t.iter().all(|(t, b)| t.nbytes == b.len()));
        let key = |t: &PlannedTensor| (t.name.clone(), t.dtype, t.shape.clone(), t.nbytes);
        for s in [s, Scheme { bits: 8, group_size: None, symmetric: true }] {
            let planned: Vec<_> = planned_layer("m.x", 16, 64, &s).iter().map(key).collect();
            let real = layer_tensors("m.x", &quantize(&w, 16, 64, &s, None).unwrap(), &s);
            assert_eq!(planned, real.iter().map(|(t, _)| key(t)).collect::<Vec<_>>());
        }
    }
}
