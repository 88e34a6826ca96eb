//! The floating-point element types of dense weights in a Hugging Face directory, and the one
//! f32 encoder to them.

/// Element type of dense weights in `model.safetensors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightDtype {
    F16,
    Bf16,
    F32,
}

impl WeightDtype {
    /// The safetensors header's dtype.
    pub fn safetensors_name(self) -> &'static str {
        match self {
            WeightDtype::F16 => "F16",
            WeightDtype::Bf16 => "BF16",
            WeightDtype::F32 => "F32",
        }
    }

    /// `config.json`'s `torch_dtype`.
    pub fn torch_name(self) -> &'static str {
        match self {
            WeightDtype::F16 => "float16",
            WeightDtype::Bf16 => "bfloat16",
            WeightDtype::F32 => "float32",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        if self == WeightDtype::F32 {
            4
        } else {
            2
        }
    }

    /// f32 values to this type's little-endian bytes (round to nearest even).
    pub fn encode(self, data: &[f32]) -> Vec<u8> {
        match self {
            WeightDtype::F32 => bytemuck::cast_slice(data).to_vec(),
            WeightDtype::F16 => data.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect(),
            WeightDtype::Bf16 => data.iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect(),
        }
    }
}
