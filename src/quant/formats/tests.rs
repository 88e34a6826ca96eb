//! Golden tests: every dequantizer against gguf-py's (llama.cpp's Python reference) output on
//! random blocks, bit for bit. Fixture: tests/data/dequant_golden.json, made by
//! scripts/gen_dequant_golden.py.

use super::{dequantize, GgmlType};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn dequantize_matches_gguf_py_bit_for_bit() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/data/dequant_golden.json")).unwrap();
    for ty in GgmlType::ALL {
        let case = &golden[ty.name()];
        let bytes = hex(case["bytes"].as_str().unwrap());
        let want: Vec<u32> = case["f32_bits"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let mut got = vec![0f32; want.len()];
        dequantize(ty, &bytes, &mut got);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let w = f32::from_bits(*w);
            assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{ty} element {i}: got {g}, gguf-py {w}");
        }
    }
}

#[test]
fn geometry_matches_ggml() {
    let expect = [
        (GgmlType::F32, 1, 4),
        (GgmlType::F16, 1, 2),
        (GgmlType::BF16, 1, 2),
        (GgmlType::Q4_0, 32, 18),
        (GgmlType::Q4_1, 32, 20),
        (GgmlType::Q5_0, 32, 22),
        (GgmlType::Q5_1, 32, 24),
        (GgmlType::Q8_0, 32, 34),
        (GgmlType::Q2_K, 256, 84),
        (GgmlType::Q3_K, 256, 110),
        (GgmlType::Q4_K, 256, 144),
        (GgmlType::Q5_K, 256, 176),
        (GgmlType::Q6_K, 256, 210),
        (GgmlType::IQ4_NL, 32, 18),
        (GgmlType::IQ4_XS, 256, 136),
    ];
    for (ty, block, size) in expect {
        assert_eq!((ty.block_size(), ty.type_size()), (block, size), "{ty}");
        assert_eq!(GgmlType::from_id(ty.id()), Ok(ty));
        // The registered format is the variant's, and each type is registered once.
        assert_eq!(ty.name(), format!("{ty:?}"));
        assert_eq!(GgmlType::ALL.iter().filter(|t| **t == ty).count(), 1, "{ty}");
    }
    assert_eq!(GgmlType::Q4_K.row_bytes(512), Some(288));
    assert_eq!(GgmlType::Q4_K.row_bytes(576), None, "576 is not a multiple of 256");
    let iq2 = GgmlType::from_id(16).unwrap_err();
    assert_eq!(iq2, super::UnknownGgmlType { id: 16, name: Some("IQ2_XXS") });
    assert_eq!(iq2.to_string(), "ggml type IQ2_XXS (16)");
    assert_eq!(GgmlType::from_id(99).unwrap_err().to_string(), "unknown ggml type id 99");
}

#[test]
fn f16_fast_path_matches_reference() {
    let vals: Vec<u16> = (0..=u16::MAX).step_by(7).collect();
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (mut fast, mut slow) = (vec![0f32; vals.len()], vec![0f32; vals.len()]);
    super::float::dequantize_f16(&bytes, &mut fast);
    super::float::dequantize_f16_ref(&bytes, &mut slow);
    for (a, b) in fast.iter().zip(&slow) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
    }
    // A misaligned view takes the scalar path and agrees too.
    let mut shifted = vec![0u8];
    shifted.extend(&bytes);
    super::float::dequantize_f16(&shifted[1..], &mut fast);
    assert_eq!(fast[..100], slow[..100]);
}
