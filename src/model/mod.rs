//! One description of a model, whatever file it came from: architecture, hyperparameters, and
//! each tensor by role, read in Hugging Face's canonical layout.

pub mod arch;
pub mod convert;
pub mod gguf_keys;
pub mod hparams;
pub mod roles;
pub mod rope_scaling;
#[cfg(test)]
mod unimplemented;

pub use arch::Arch;
pub use hparams::{Act, ConfigError, HParams, SpecialIds};
pub use roles::{LayerTensor, Role};

use crate::error::{Error, Result};
use crate::io::compressed_tensors::CompressedTensors;
use crate::io::gguf::GgufFile;
use crate::io::safetensors::SafetensorsModel;
use crate::io::store::{TensorEntry, TensorStore};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the weights came from.
pub enum Source {
    Gguf(GgufFile),
    Safetensors(SafetensorsModel),
}

pub struct Model {
    pub path: PathBuf,
    pub hparams: HParams,
    pub source: Source,
    /// Role of each recognised tensor, in canonical (role) order, with its name in the file.
    roles: BTreeMap<Role, String>,
    /// Tensors of the file that have no role in the architecture.
    pub unrecognised: Vec<String>,
    /// compressed-tensors `pack-quantized` layers (roles map to their `weight_packed` tensor).
    pub compressed: Option<CompressedTensors>,
}

/// Whether `path` starts with the GGUF magic.
pub fn is_gguf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"GGUF"
}

impl Model {
    /// Opens a GGUF file, a safetensors file (with `config.json` beside it), or a Hugging Face
    /// directory, and checks every expected tensor is present with the expected shape.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if path.is_file() && (is_gguf(path) || path.extension().is_some_and(|x| x.eq_ignore_ascii_case("gguf"))) {
            Self::from_gguf(GgufFile::open(path)?)
        } else {
            Self::from_safetensors(SafetensorsModel::open(path)?)
        }
    }

    pub fn from_gguf(g: GgufFile) -> Result<Self> {
        let path = g.path().to_path_buf();
        let arch_name = g
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::corrupt(&path, "no general.architecture metadata"))?;
        let arch = Arch::from_gguf(arch_name).ok_or_else(|| {
            let supported: Vec<&str> = Arch::all().map(|a| a.gguf_name()).collect();
            Error::unsupported(&path, format!("architecture {arch_name:?} (supported: {})", supported.join(", ")))
        })?;
        if let Some(n) = g.get(&format!("{arch_name}.expert_count")).and_then(|v| v.as_i64()).filter(|&n| n > 0) {
            return Err(Error::unsupported(
                &path,
                format!("a mixture-of-experts {arch_name} model ({n} experts; sinkquant handles dense models)"),
            ));
        }
        let has_output = g.store.get("output.weight").is_some();
        let hparams = HParams::from_gguf(arch, &g, has_output)?;
        let names: Vec<String> = g
            .store
            .entries()
            .iter()
            .map(|e| e.name.clone())
            .filter(|n| !hparams::ROPE_TENSORS.contains(&n.as_str()))
            .collect();
        let (roles, unrecognised) = assign_roles(&names, |n| arch.role_of_gguf(n));
        let m = Model { path, hparams, source: Source::Gguf(g), roles, unrecognised, compressed: None };
        m.check_shapes()?;
        Ok(m)
    }

    pub fn from_safetensors(st: SafetensorsModel) -> Result<Self> {
        let cfg_path = st.dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::corrupt(&cfg_path, format!("invalid JSON: {e}")))?;
        let hparams = HParams::from_hf_config(&cfg).map_err(|e| e.at(&cfg_path))?;
        let arch = hparams.arch;
        let compressed = CompressedTensors::from_config(&cfg, &cfg_path, &st.store)?;
        let c = compressed.as_ref();
        let names: Vec<String> = st
            .store
            .entries()
            .iter()
            .map(|e| e.name.clone())
            .filter(|n| !c.is_some_and(|c| c.is_companion(n)))
            .collect();
        let (roles, unrecognised) =
            assign_roles(&names, |n| arch.role_of_hf(&c.map_or(n.into(), |c| c.logical_name(n))));
        let path = st.dir.clone();
        let m = Model { path, hparams, source: Source::Safetensors(st), roles, unrecognised, compressed };
        m.check_shapes()?;
        Ok(m)
    }

    pub fn arch(&self) -> Arch {
        self.hparams.arch
    }

    pub fn store(&self) -> &TensorStore {
        match &self.source {
            Source::Gguf(g) => &g.store,
            Source::Safetensors(s) => &s.store,
        }
    }

    pub fn gguf(&self) -> Option<&GgufFile> {
        match &self.source {
            Source::Gguf(g) => Some(g),
            Source::Safetensors(_) => None,
        }
    }

    /// Recognised tensors in role order.
    pub fn roles(&self) -> impl Iterator<Item = (Role, &TensorEntry)> {
        self.roles.iter().map(|(r, n)| (*r, self.store().get(n).expect("role names come from the store")))
    }

    pub fn tensor(&self, role: Role) -> Option<&TensorEntry> {
        self.roles.get(&role).and_then(|n| self.store().get(n))
    }

    /// The roles this architecture and these hyperparameters call for, with canonical shapes:
    /// the description's required tensors, and its optional ones the file has.
    pub fn expected_roles(&self) -> Vec<(Role, Vec<usize>)> {
        let hp = &self.hparams;
        let mut out = Vec::new();
        for t in self.arch().tensors() {
            let roles: Vec<Role> = match t.slot {
                arch::Slot::Global(r) => vec![r],
                arch::Slot::Layer(l) => (0..hp.n_layers).map(|i| Role::Layer(i, l)).collect(),
            };
            for r in roles {
                let needed = t.required || (r == Role::Output && !hp.tied_embeddings);
                if needed || self.roles.contains_key(&r) {
                    out.push((r, canonical_shape(hp, r)));
                }
            }
        }
        out.sort_by_key(|(r, _)| *r);
        out
    }

    fn check_shapes(&self) -> Result<()> {
        let store = self.store();
        let expected = self.expected_roles();
        for (role, shape) in &expected {
            let Some(e) = self.tensor(*role) else {
                let name = match self.gguf() {
                    Some(_) => role.gguf_name(),
                    None => self.arch().hf_name(*role).unwrap_or_else(|| role.gguf_name()),
                };
                let file = store.paths().next().unwrap_or(&self.path).to_path_buf();
                return Err(Error::corrupt(file, format!("tensor {name} is missing")));
            };
            let actual = self.shape_of(*role, e);
            if &actual != shape {
                return Err(Error::corrupt(
                    store.path_of(e),
                    format!("tensor {} has shape {:?}, the hyperparameters call for {:?}", e.name, actual, shape),
                ));
            }
        }
        if let Some((role, _)) = self.roles.iter().find(|(r, _)| !expected.iter().any(|(x, _)| x == *r)) {
            let e = self.tensor(*role).expect("present");
            return Err(Error::corrupt(
                store.path_of(e),
                format!("tensor {} is beyond the {} layers of the model", e.name, self.hparams.n_layers),
            ));
        }
        Ok(())
    }

    /// One tensor dequantized to f32 in Hugging Face's layout and convention.
    pub fn read_canonical(&self, role: Role) -> Result<(Vec<usize>, Vec<f32>)> {
        let e = self
            .tensor(role)
            .ok_or_else(|| Error::Invalid(format!("{}: model has no tensor {role}", self.path.display())))?;
        if let Some((c, l)) = self.compressed.as_ref().and_then(|c| Some((c, c.layer(&e.name)?))) {
            // A packed layer decodes to Hugging Face's layout (GPT-NeoX's per-head QKV included).
            let data = c.read(self.store(), l)?;
            return Ok(convert::hf_to_canonical(&self.hparams, role, &[l.rows, l.cols], data));
        }
        let data = self.store().read_f32(e)?;
        Ok(match self.source {
            Source::Gguf(_) => (e.shape.clone(), convert::gguf_to_hf(&self.hparams, role, &e.shape, data)),
            Source::Safetensors(_) => convert::hf_to_canonical(&self.hparams, role, &e.shape, data),
        })
    }

    /// Whether `role` can be read in blocks of rows ([`Model::read_rows`]): the embeddings and
    /// the output head, which no layout conversion touches, stored uncompressed.
    pub fn reads_rows(&self, role: Role) -> bool {
        let e = self.tensor(role);
        matches!(role, Role::TokenEmbd | Role::Output | Role::PosEmbd)
            && e.is_some_and(|e| e.shape.len() == 2)
            && self.arch().hf_layout(role) == arch::Layout::Plain
            && self.compressed.as_ref().is_none_or(|c| e.is_some_and(|e| c.layer(&e.name).is_none()))
    }

    /// Rows `rows` of a tensor that [`Model::reads_rows`], in f32 (the same values as the
    /// rows of [`Model::read_canonical`]).
    pub fn read_rows(&self, role: Role, rows: std::ops::Range<usize>) -> Result<Vec<f32>> {
        let e = self.tensor(role).filter(|_| self.reads_rows(role));
        let e =
            e.ok_or_else(|| Error::Invalid(format!("{}: tensor {role} cannot be read by rows", self.path.display())))?;
        self.store().read_f32_rows(e, rows)
    }

    /// A norm's effective gain: its canonical values plus the architecture's stored offset
    /// (Gemma's norms multiply by `1 + w`).
    pub fn norm_gain(&self, role: Role) -> Result<Vec<f32>> {
        let (_, mut w) = self.read_canonical(role)?;
        let offset = self.arch().gguf_norm_offset();
        if offset != 0.0 {
            w.iter_mut().for_each(|x| *x += offset);
        }
        Ok(w)
    }

    /// A tensor's shape in Hugging Face's layout (a packed layer's `weight_shape`).
    pub fn canonical_shape(&self, role: Role) -> Option<Vec<usize>> {
        self.tensor(role).map(|e| self.shape_of(role, e))
    }

    fn shape_of(&self, role: Role, e: &TensorEntry) -> Vec<usize> {
        match self.compressed.as_ref().and_then(|c| c.layer(&e.name)) {
            Some(l) => convert::hf_shape(self.arch(), role, &[l.rows, l.cols]),
            None if self.gguf().is_none() => convert::hf_shape(self.arch(), role, &e.shape),
            None => e.shape.clone(),
        }
    }

    /// Bytes on disk: the GGUF file, or all weight files of a safetensors model.
    pub fn bytes_on_disk(&self) -> u64 {
        match &self.source {
            Source::Gguf(g) => g.file_size(),
            Source::Safetensors(_) => {
                self.store().paths().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
            }
        }
    }

    /// Parameters (elements of all tensors) and total tensor bytes.
    pub fn size(&self) -> (u64, u64) {
        let s = self.store();
        (s.entries().iter().map(|e| e.n_elements() as u64).sum(), s.total_bytes())
    }
}

/// The canonical shape of `role` under `hp`.
pub fn canonical_shape(hp: &HParams, role: Role) -> Vec<usize> {
    let (d, q, kv) = (hp.d_model, hp.n_heads * hp.head_dim, hp.n_kv_heads * hp.head_dim);
    use LayerTensor::*;
    match role {
        Role::TokenEmbd | Role::Output => vec![hp.vocab_size, d],
        Role::PosEmbd => vec![hp.ctx_len, d],
        Role::OutputNorm | Role::OutputNormBias => vec![d],
        Role::Layer(_, t) => match t {
            AttnNorm | AttnNormBias | PostAttnNorm | FfnNorm | FfnNormBias | PostFfnNorm => vec![d],
            AttnQNorm | AttnKNorm => vec![hp.head_dim],
            AttnQ => vec![q, d],
            AttnK | AttnV => vec![kv, d],
            AttnQkv => vec![q + 2 * kv, d],
            AttnQBias => vec![q],
            AttnKBias | AttnVBias => vec![kv],
            AttnQkvBias => vec![q + 2 * kv],
            AttnOutput => vec![d, q],
            AttnOutputBias | FfnDownBias => vec![d],
            FfnGate | FfnUp => vec![hp.d_ff, d],
            FfnGateUp => vec![2 * hp.d_ff, d],
            FfnUpBias => vec![hp.d_ff],
            FfnDown => vec![d, hp.d_ff],
        },
    }
}

fn assign_roles(names: &[String], role_of: impl Fn(&str) -> Option<Role>) -> (BTreeMap<Role, String>, Vec<String>) {
    let mut roles = BTreeMap::new();
    let mut other = Vec::new();
    for n in names {
        match role_of(n) {
            Some(r) => {
                roles.insert(r, n.clone());
            }
            None => other.push(n.clone()),
        }
    }
    (roles, other)
}
