//! One tensor of an architecture's description: its role, its Hugging Face name (with `{i}`
//! for the layer), and how Hugging Face lays it out relative to sinkquant's canonical layout.
//! GGUF names are the role's own (`Role::gguf_name`).

use crate::model::roles::{LayerTensor, Role};

/// Where a tensor sits: once in the model, or in every block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Global(Role),
    Layer(LayerTensor),
}

impl Slot {
    pub fn matches(self, role: Role) -> bool {
        match (self, role) {
            (Slot::Global(a), b) => a == b,
            (Slot::Layer(a), Role::Layer(_, b)) => a == b,
            _ => false,
        }
    }
}

/// How a Hugging Face tensor differs from the canonical layout (rows are output features,
/// fused projections stack Q, K, V or gate, up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Plain,
    /// GPT-2's `Conv1D`: stored `[in, out]`, the transpose of a linear layer's weight.
    Conv1D,
    /// GPT-NeoX's `query_key_value` (weight rows or bias): per head, that head's q, k and v
    /// rows; canonical is all q rows, then k, then v (as llama.cpp's converter stores it).
    QkvPerHead,
}

#[derive(Clone, Copy, Debug)]
pub struct TensorName {
    pub slot: Slot,
    pub hf: &'static str,
    pub layout: Layout,
    /// Whether a model of the architecture always has it (biases an option turns on do not).
    pub required: bool,
}

/// A tensor of every block, always present, plainly laid out.
pub const fn layer(t: LayerTensor, hf: &'static str) -> TensorName {
    TensorName { slot: Slot::Layer(t), hf, layout: Layout::Plain, required: true }
}

/// A tensor of the model as a whole, always present.
pub const fn global(r: Role, hf: &'static str) -> TensorName {
    TensorName { slot: Slot::Global(r), hf, layout: Layout::Plain, required: true }
}

impl TensorName {
    /// The same tensor, present only when the model's config asks for it.
    pub const fn optional(self) -> Self {
        TensorName { required: false, ..self }
    }

    pub const fn layout(self, layout: Layout) -> Self {
        TensorName { layout, ..self }
    }

    pub fn render_hf(&self, role: Role) -> String {
        match role.layer() {
            Some(i) => self.hf.replace("{i}", &i.to_string()),
            None => self.hf.to_string(),
        }
    }

    pub fn parse_hf(&self, name: &str) -> Option<Role> {
        self.parse(name, self.hf)
    }

    pub fn parse_gguf(&self, name: &str) -> Option<Role> {
        match self.slot {
            Slot::Global(r) => (r.gguf_name() == name).then_some(r),
            Slot::Layer(t) => {
                let pattern = format!("blk.{{i}}.{}", t.gguf_stem());
                self.parse(name, &pattern)
            }
        }
    }

    fn parse(&self, name: &str, pattern: &str) -> Option<Role> {
        match self.slot {
            Slot::Global(r) => (pattern == name).then_some(r),
            Slot::Layer(t) => {
                let (pre, post) = pattern.split_once("{i}")?;
                let digits = name.strip_prefix(pre)?.strip_suffix(post)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some(Role::Layer(digits.parse().ok()?, t))
            }
        }
    }
}
