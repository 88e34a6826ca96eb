//! Writing compressed-tensors `pack-quantized` checkpoints (what vLLM loads): the tensors of one
//! quantized linear layer, and the `quantization_config` entry of `config.json`. Layout and
//! config as compressed-tensors 0.20.0 writes them (see `crate::quant::compressed`).

use crate::io::safetensors::writer::PlannedTensor;
use crate::quant::compressed::{pack_zero_points, Packed, Scheme};
use serde_json::{json, Value};

/// The compressed-tensors release whose layout and config this module reproduces.
pub const COMPRESSED_TENSORS_VERSION: &str = "0.20.0";

/// The tensors replacing `<prefix>.weight` (`prefix` is the module name, e.g.
/// `model.layers.0.mlp.down_proj`): `weight_packed` (I32), `weight_scale` (BF16),
/// `weight_shape` (I64 [2]) and, for an asymmetric scheme, `weight_zero_point` (I32, packed
/// along the rows). Each with its little-endian bytes, in this order.
pub fn layer_tensors(prefix: &str, p: &Packed, scheme: &Scheme) -> Vec<(PlannedTensor, Vec<u8>)> {
    let (rows, cols) = (p.rows, p.cols);
    let groups = scheme.n_groups(cols);
    let tensor = |suffix: &str, dtype: &'static str, shape: Vec<usize>, bytes: Vec<u8>| {
        (PlannedTensor { name: format!("{prefix}.{suffix}"), dtype, shape, nbytes: bytes.len() }, bytes)
    };
    let mut out = vec![
        tensor("weight_packed", "I32", vec![rows, scheme.packed_cols(cols)], bytemuck::cast_slice(&p.packed).to_vec()),
        tensor("weight_scale", "BF16", vec![rows, groups], bytemuck::cast_slice(&p.scale).to_vec()),
        tensor(
            "weight_shape",
            "I64",
            vec![2],
            [rows as i64, cols as i64].iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    ];
    if let Some(zp) = &p.zero_point {
        let packed = pack_zero_points(zp, rows, groups, scheme.bits);
        out.push(tensor(
            "weight_zero_point",
            "I32",
            vec![scheme.packed_zp_rows(rows), groups],
            bytemuck::cast_slice(&packed).to_vec(),
        ));
    }
    out
}

/// `config.json`'s `quantization_config` for a model whose `Linear` layers, except the modules
/// named in `ignore` (exact names, or compressed-tensors' `re:` regexes, e.g. `lm_head`), are
/// stored with `scheme`.
pub fn quantization_config(scheme: &Scheme, ignore: &[String]) -> Value {
    let (strategy, group_size) = match scheme.group_size {
        Some(g) => ("group", json!(g)),
        None => ("channel", Value::Null),
    };
    json!({
        "config_groups": {
            "group_0": {
                "format": "pack-quantized",
                "input_activations": null,
                "output_activations": null,
                "targets": ["Linear"],
                "weights": {
                    "dynamic": false,
                    "group_size": group_size,
                    "num_bits": scheme.bits,
                    "strategy": strategy,
                    "symmetric": scheme.symmetric,
                    "type": "int"
                }
            }
        },
        "format": "pack-quantized",
        "global_compression_ratio": null,
        "ignore": ignore,
        "kv_cache_scheme": null,
        "quant_method": "compressed-tensors",
        "quantization_status": "compressed",
        "sparsity_config": {},
        "transform_config": {},
        "version": COMPRESSED_TENSORS_VERSION
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::compressed::quantize;

    #[test]
    fn layer_tensors_shapes_and_config() {
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
        let c = quantization_config(&Scheme { bits: 8, group_size: None, symmetric: true }, &["lm_head".into()]);
        assert_eq!(c["config_groups"]["group_0"]["weights"]["strategy"], "channel");
        assert_eq!(c["config_groups"]["group_0"]["weights"]["group_size"], Value::Null);
        assert_eq!(c["ignore"][0], "lm_head");
        assert_eq!(c["format"], "pack-quantized");
    }
}
