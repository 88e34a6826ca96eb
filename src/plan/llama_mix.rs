//! llama.cpp's per-tensor choices for each mixture (`llama_tensor_get_type_impl` and
//! `tensor_type_fallback` in src/llama-quant.cpp, llama.cpp as vendored in llama-cpp-python
//! 0.3.36), restricted to the dense models sinkquant describes. This is the baseline the planner
//! starts from, so that `--type q4_k_m` gives llama.cpp's file before sinkquant changes it.

use super::preset::Mixture;
use crate::model::{LayerTensor, Role};
use crate::quant::formats::GgmlType;

/// What the model looks like to the rules.
pub struct ModelShape {
    pub n_layers: usize,
    pub tied_embeddings: bool,
    /// Query heads per KV head.
    pub n_gqa: usize,
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third between.
pub fn use_more_bits(i: usize, n: usize) -> bool {
    let (i, n) = (i as i64, n as i64);
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// The type llama.cpp gives `role` in mixture `m` before the block-size fallback, with a short
/// reason when the rule differs from the mixture's default type.
pub fn rule_type(m: Mixture, role: Role, s: &ModelShape, has_imatrix: bool) -> (GgmlType, Option<&'static str>) {
    use GgmlType as T;
    use LayerTensor::*;
    use Mixture as M;
    let default = m.default_type();
    if m.is_float() {
        return (default, None);
    }
    let is_output = role == Role::Output || (s.tied_embeddings && role == Role::TokenEmbd);
    if is_output {
        // Q6_K unless the mixture is Q8_0 (the fallback turns a misfit into Q8_0 below).
        return if default == T::Q8_0 { (T::Q8_0, None) } else { (T::Q6_K, Some("output matrix")) };
    }
    let (i, n) = match role {
        Role::Layer(i, _) => (i, s.n_layers),
        _ => return (default, None),
    };
    let Role::Layer(_, t) = role else { unreachable!() };
    let pick = |ty: GgmlType, why: &'static str| (ty, Some(why));
    match t {
        AttnV => match m {
            M::Q2_K => pick(if s.n_gqa >= 4 { T::Q4_K } else { T::Q3_K }, "attn_v in Q2_K"),
            M::Q3_K_M => pick(if i < 2 { T::Q5_K } else { T::Q4_K }, "attn_v in Q3_K_M"),
            M::Q3_K_L => pick(T::Q5_K, "attn_v in Q3_K_L"),
            M::Q4_K_M | M::Q5_K_M if use_more_bits(i, n) => pick(T::Q6_K, "attn_v, more bits in this layer"),
            M::Q4_K_S if i < 4 => pick(T::Q5_K, "attn_v of the first 4 layers"),
            M::IQ4_NL | M::IQ4_XS if s.n_gqa >= 4 => pick(T::Q5_K, "attn_v with 4 or more query heads per KV head"),
            _ => (default, None),
        },
        FfnDown => match m {
            M::Q2_K => pick(T::Q3_K, "ffn_down in Q2_K"),
            M::Q3_K_M => pick(if i < n / 16 { T::Q5_K } else { T::Q4_K }, "ffn_down in Q3_K_M"),
            M::Q3_K_L => pick(T::Q5_K, "ffn_down in Q3_K_L"),
            M::Q4_K_M if use_more_bits(i, n) => pick(T::Q6_K, "ffn_down, more bits in this layer"),
            M::Q5_K_M if use_more_bits(i, n) => pick(T::Q6_K, "ffn_down, more bits in this layer"),
            M::Q4_K_S if i < n / 8 => pick(T::Q5_K, "ffn_down of the first eighth"),
            M::Q4_0 if has_imatrix && i < n / 8 => pick(T::Q4_1, "ffn_down of the first eighth"),
            M::Q5_0 if has_imatrix && i < n / 8 => pick(T::Q5_1, "ffn_down of the first eighth"),
            M::IQ4_NL | M::IQ4_XS if !has_imatrix && i < n / 8 => pick(T::Q5_K, "ffn_down of the first eighth"),
            _ => (default, None),
        },
        AttnQkv => match m {
            M::Q3_K_M | M::Q3_K_L => pick(T::Q4_K, "attn_qkv in Q3_K_M/L"),
            M::Q4_K_M => pick(T::Q5_K, "attn_qkv in Q4_K_M"),
            M::Q5_K_M => pick(T::Q6_K, "attn_qkv in Q5_K_M"),
            _ => (default, None),
        },
        AttnOutput => match m {
            M::Q2_K => pick(T::Q3_K, "attn_output in Q2_K"),
            M::Q3_K_M => pick(T::Q4_K, "attn_output in Q3_K_M"),
            M::Q3_K_L => pick(T::Q5_K, "attn_output in Q3_K_L"),
            _ => (default, None),
        },
        _ => (default, None),
    }
}

/// The type a row of `ncols` weights can take instead of `ty` when `ncols` is not a multiple of
/// its block (`tensor_type_fallback`); F16 when even the fallback does not fit.
pub fn fallback(ty: GgmlType, ncols: usize) -> GgmlType {
    use GgmlType as T;
    if ncols % ty.block_size() == 0 {
        return ty;
    }
    let f = match ty {
        T::Q2_K | T::Q3_K => T::Q4_0,
        T::IQ4_XS => T::IQ4_NL,
        T::Q4_K => T::Q5_0,
        T::Q5_K => T::Q5_1,
        T::Q6_K => T::Q8_0,
        other => other,
    };
    if ncols % f.block_size() == 0 {
        f
    } else {
        T::F16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_llama_cpp() {
        let s = ModelShape { n_layers: 30, tied_embeddings: true, n_gqa: 3 };
        let r = |m, role| rule_type(m, role, &s, true).0;
        // Tied embeddings are the output matrix: Q6_K, which does not fit 576 columns.
        assert_eq!(r(Mixture::Q4_0, Role::TokenEmbd), GgmlType::Q6_K);
        assert_eq!(fallback(GgmlType::Q6_K, 576), GgmlType::Q8_0);
        assert_eq!(fallback(GgmlType::Q4_K, 896), GgmlType::Q5_0);
        assert_eq!(fallback(GgmlType::Q3_K, 640), GgmlType::Q4_0);
        assert_eq!(fallback(GgmlType::Q4_K, 1536), GgmlType::Q4_K);
        assert_eq!(fallback(GgmlType::Q4_0, 40), GgmlType::F16);
        // use_more_bits for 30 layers: 0..3, 27.., and every third from 3.
        let more: Vec<usize> = (0..30).filter(|&i| use_more_bits(i, 30)).collect();
        assert_eq!(more, vec![0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]);
        assert_eq!(r(Mixture::Q4_K_M, Role::Layer(5, LayerTensor::FfnDown)), GgmlType::Q6_K);
        assert_eq!(r(Mixture::Q4_K_M, Role::Layer(6, LayerTensor::FfnDown)), GgmlType::Q4_K);
        assert_eq!(r(Mixture::Q4_0, Role::Layer(2, LayerTensor::FfnDown)), GgmlType::Q4_1);
        assert_eq!(rule_type(Mixture::Q4_0, Role::Layer(2, LayerTensor::FfnDown), &s, false).0, GgmlType::Q4_0);
        assert_eq!(r(Mixture::Q3_K_M, Role::Layer(1, LayerTensor::AttnV)), GgmlType::Q5_K);
        assert_eq!(r(Mixture::Q3_K_M, Role::Layer(0, LayerTensor::FfnDown)), GgmlType::Q5_K);
        assert_eq!(r(Mixture::Q3_K_M, Role::Layer(2, LayerTensor::FfnDown)), GgmlType::Q4_K);
        assert_eq!(r(Mixture::Q8_0, Role::TokenEmbd), GgmlType::Q8_0);
        // The i-quants: attn_v gets Q5_K with 4+ query heads per KV head; ffn_down of the first
        // eighth only without an imatrix; IQ4_XS falls back to IQ4_NL.
        assert_eq!(r(Mixture::IQ4_NL, Role::Layer(9, LayerTensor::AttnV)), GgmlType::IQ4_NL);
        let gqa4 = ModelShape { n_gqa: 4, ..s };
        assert_eq!(rule_type(Mixture::IQ4_XS, Role::Layer(9, LayerTensor::AttnV), &gqa4, true).0, GgmlType::Q5_K);
        assert_eq!(r(Mixture::IQ4_XS, Role::Layer(2, LayerTensor::FfnDown)), GgmlType::IQ4_XS);
        assert_eq!(rule_type(Mixture::IQ4_NL, Role::Layer(2, LayerTensor::FfnDown), &s, false).0, GgmlType::Q5_K);
        assert_eq!(r(Mixture::IQ4_XS, Role::TokenEmbd), GgmlType::Q6_K);
        assert_eq!(fallback(GgmlType::IQ4_XS, 576), GgmlType::IQ4_NL);
        assert_eq!(fallback(GgmlType::IQ4_NL, 40), GgmlType::F16);
    }
}
