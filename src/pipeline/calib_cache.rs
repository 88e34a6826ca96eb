//! Calibration outcomes saved to disk so that several recipes of one model share one
//! calibration pass (`quantize --calib-cache DIR`, used by `quantize batch`): what the planner
//! and the quantizers take from calibration, the protected tensors and each matrix's column
//! importance. A file is named by a key the caller derives from everything the calibration
//! depends on; it is written atomically, so concurrent writers of one key are harmless.

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use crate::model::{Model, Role};
use crate::plan::{Protected, Protection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What calibration gives the rest of the pipeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Calibration {
    pub protected: Protected,
    /// Mean squared input per column of each matrix.
    pub importance: BTreeMap<Role, Vec<f32>>,
    /// Calibration chunks used.
    pub chunks: usize,
    /// Mean `x x^T` of each matrix's input, when collected (GPTQ); never cached.
    pub hessians: BTreeMap<Role, std::sync::Arc<Vec<f32>>>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    chunks: usize,
    dims: Vec<usize>,
    writers: Vec<(String, Protection)>,
    dominated: Vec<(String, Protection)>,
    importance: Vec<(String, Vec<f32>)>,
}

fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.json"))
}

fn by_name<T: Clone>(m: &BTreeMap<Role, T>) -> Vec<(String, T)> {
    m.iter().map(|(r, v)| (r.gguf_name(), v.clone())).collect()
}

/// The cached calibration for `key`, if a readable file for it exists and names only tensors
/// `model` has.
pub fn load(dir: &Path, key: &str, model: &Model) -> Option<Calibration> {
    let text = std::fs::read_to_string(path(dir, key)).ok()?;
    let s: Stored = serde_json::from_str(&text).ok()?;
    if s.key != key {
        return None;
    }
    let names: BTreeMap<String, Role> = model.roles().map(|(r, _)| (r.gguf_name(), r)).collect();
    let roles = |list: Vec<(String, Protection)>| -> Option<BTreeMap<Role, Protection>> {
        list.into_iter().map(|(n, v)| Some((*names.get(&n)?, v))).collect()
    };
    Some(Calibration {
        protected: Protected { dims: s.dims, writers: roles(s.writers)?, dominated: roles(s.dominated)? },
        importance: s.importance.into_iter().map(|(n, v)| Some((*names.get(&n)?, v))).collect::<Option<_>>()?,
        chunks: s.chunks,
        hessians: BTreeMap::new(),
    })
}

pub fn save(dir: &Path, key: &str, c: &Calibration) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let s = Stored {
        key: key.to_string(),
        chunks: c.chunks,
        dims: c.protected.dims.clone(),
        writers: by_name(&c.protected.writers),
        dominated: by_name(&c.protected.dominated),
        importance: by_name(&c.importance),
    };
    let mut f = AtomicFile::create(path(dir, key))?;
    f.write_all(serde_json::to_string(&s).expect("calibration serializes").as_bytes())?;
    f.commit()
}
