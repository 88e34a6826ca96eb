//! The batch manifest: a TOML file listing models and recipes; the run is their product.
//! Relative paths are taken from the manifest's folder.
//!
//! ```toml
//! out_dir = "out"            # outputs go to out/<model name>/<recipe name>.<format>
//! calib = "c4.txt"           # optional; the built-in calibration set otherwise
//! eval = "wiki.txt"          # optional; adds PPL/KLD to the report
//! calib_chunks = 32          # optional, as `quantize --calib-chunks`
//! eval_chunks = 8            # optional, as `quantize --eval-chunks`
//! ctx = 512                  # optional, tokens per calibration and evaluation chunk
//! [[models]]
//! path = "models/smollm2-135m"
//! name = "smollm2"           # optional; the file or folder name otherwise
//! [[recipes]]
//! name = "int4-keep"
//! type = "int4"              # int8, int4 or a llama.cpp type name (q4_k_m, q3_k_m, ...)
//! outliers = "keep"          # keep | fold | both | none (default fold)
//! format = "gguf"            # or "safetensors" (a compressed-tensors directory)
//! imatrix = true             # optional; false quantizes without calibration statistics
//! method = "gptq"            # optional: rtn (default, so that a model's recipes share one
//!                            # cached calibration), gptq or auto (as `quantize`'s default)
//! allocation = "mixture"     # optional: auto (default, as `quantize`: mixture and
//!                            # head-to-layers measured), mixture or head-to-layers
//! calib = "code.txt"         # optional per-recipe calibration and evaluation texts
//! ```

use crate::error::{Error, Result};
use crate::pipeline::{Allocation, CalibSpec, Method, OutlierPolicy, OutputFormat, Preset};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the TOML file holds, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    out_dir: PathBuf,
    calib: Option<PathBuf>,
    eval: Option<PathBuf>,
    calib_chunks: Option<usize>,
    eval_chunks: Option<usize>,
    ctx: Option<usize>,
    #[serde(default)]
    models: Vec<RawModel>,
    #[serde(default)]
    recipes: Vec<RawRecipe>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    path: PathBuf,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    outliers: Option<String>,
    format: Option<String>,
    imatrix: Option<bool>,
    method: Option<String>,
    allocation: Option<String>,
    calib: Option<PathBuf>,
    eval: Option<PathBuf>,
}

/// A recipe's settings parsed from their names.
struct Settings {
    preset: Preset,
    outliers: OutlierPolicy,
    method: Method,
    allocation: Option<Allocation>,
    format: Format,
}

impl RawRecipe {
    fn settings(&self) -> Result<Settings> {
        let preset = Preset::parse(&self.ty)?;
        let outliers = self.outliers.as_deref().map_or(Ok(OutlierPolicy::Fold), OutlierPolicy::parse)?;
        let method = self.method.as_deref().map_or(Ok(Method::default()), Method::parse)?;
        let allocation = match self.allocation.as_deref() {
            None => None,
            Some(a) if a.eq_ignore_ascii_case("auto") => None,
            Some(a) => Some(Allocation::parse(a)?),
        };
        let format = match self.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("gguf") => Format::Gguf,
            Some("safetensors") => Format::Safetensors,
            Some(f) => return Err(Error::Invalid(format!("unknown format {f:?} (known: gguf, safetensors)"))),
        };
        // The pipeline's rule for which classes each format takes.
        OutputFormat::for_class(format == Format::Gguf, preset)?;
        Ok(Settings { preset, outliers, method, allocation, format })
    }
}

/// Where a recipe's output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Gguf,
    Safetensors,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Gguf => "gguf",
            Format::Safetensors => "safetensors",
        }
    }
}

/// One recipe with every setting resolved (paths absolute, defaults filled in).
#[derive(Clone, Debug, Serialize)]
pub struct Recipe {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Preset,
    pub outliers: OutlierPolicy,
    pub format: Format,
    pub imatrix: bool,
    pub method: Method,
    /// The head/layers allocation; `None` measures both, as `quantize`'s default effort does.
    pub allocation: Option<Allocation>,
    pub calib: Option<PathBuf>,
    pub eval: Option<PathBuf>,
    pub calib_chunks: usize,
    pub eval_chunks: usize,
    pub ctx: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelEntry {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Clone, Debug)]
pub struct Manifest {
    /// The manifest file itself.
    pub path: PathBuf,
    pub out_dir: PathBuf,
    pub models: Vec<ModelEntry>,
    pub recipes: Vec<Recipe>,
}

/// A name usable as one path component.
fn check_name(file: &Path, what: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control() || c == ',');
    if bad {
        return Err(Error::Invalid(format!(
            "{}: {what} name {name:?} must be non-empty, must not start with '.', and must not hold '/', '\\' or ','",
            file.display()
        )));
    }
    Ok(())
}

/// The line a byte offset of `text` falls on (1-based).
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|_| Error::corrupt(path, "manifest is not UTF-8 text"))?;
        let raw: RawManifest = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| format!("line {}: ", line_of(&text, s.start))).unwrap_or_default();
            Error::corrupt(path, format!("{at}{}", e.message().trim()))
        })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base = std::path::absolute(base).map_err(|e| Error::io(path, e))?;
        Self::resolve(path, &base, raw)
    }

    fn resolve(file: &Path, base: &Path, raw: RawManifest) -> Result<Manifest> {
        let invalid = |msg: String| Error::Invalid(format!("{}: {msg}", file.display()));
        let abs = |p: &Path| base.join(p);
        if raw.models.is_empty() {
            return Err(invalid("no [[models]] listed".into()));
        }
        if raw.recipes.is_empty() {
            return Err(invalid("no [[recipes]] listed".into()));
        }
        let (calib_chunks, eval_chunks, ctx) =
            (raw.calib_chunks.unwrap_or(32), raw.eval_chunks.unwrap_or(8), raw.ctx.unwrap_or(512));
        if eval_chunks == 0 || ctx < 2 {
            return Err(invalid("eval_chunks must be at least 1, ctx at least 2".into()));
        }

        let mut models: Vec<ModelEntry> = Vec::new();
        for m in raw.models {
            let name = match m.name {
                Some(n) => n,
                None => {
                    let stem = if m.path.extension().is_some_and(|x| x == "gguf" || x == "safetensors") {
                        m.path.file_stem()
                    } else {
                        m.path.file_name()
                    };
                    stem.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                }
            };
            check_name(file, "model", &name)?;
            if models.iter().any(|o| o.name == name) {
                return Err(invalid(format!("two models are named {name:?}; give one a `name = \"...\"`")));
            }
            models.push(ModelEntry { name, path: abs(&m.path) });
        }

        let mut recipes: Vec<Recipe> = Vec::new();
        for r in raw.recipes {
            check_name(file, "recipe", &r.name)?;
            if recipes.iter().any(|o| o.name == r.name) {
                return Err(invalid(format!("two recipes are named {:?}", r.name)));
            }
            let Settings { preset, outliers, method, allocation, format } =
                r.settings().map_err(|e| invalid(format!("recipe {:?}: {e}", r.name)))?;
            let calib = CalibSpec { text: None, chunks: calib_chunks, ctx, seed: CalibSpec::default().seed };
            calib.check().map_err(|e| invalid(e.to_string()))?;
            recipes.push(Recipe {
                name: r.name,
                ty: preset,
                outliers,
                format,
                imatrix: r.imatrix.unwrap_or(true),
                method,
                allocation,
                calib: r.calib.or(raw.calib.clone()).map(|p| abs(&p)),
                eval: r.eval.or(raw.eval.clone()).map(|p| abs(&p)),
                calib_chunks,
                eval_chunks,
                ctx,
            });
        }
        Ok(Manifest { path: file.to_path_buf(), out_dir: abs(&raw.out_dir), models, recipes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| Error::Invalid(e.message().to_string()))?;
        Manifest::resolve(Path::new("m.toml"), Path::new("/base"), raw)
    }

    const GOOD: &str = r#"
        out_dir = "out"
        calib = "c4.txt"
        [[models]]
        path = "models/smollm2-135m"
        [[models]]
        path = "gguf/qwen.gguf"
        [[recipes]]
        name = "int4-keep"
        type = "int4"
        outliers = "keep"
        [[recipes]]
        name = "int8"
        type = "INT8"
        format = "safetensors"
        method = "GPTQ"
        allocation = "Head-to-Layers"
        eval = "/abs/wiki.txt"
    "#;

    #[test]
    fn resolves_paths_names_and_defaults() {
        let m = parse(GOOD).unwrap();
        assert_eq!(m.out_dir, Path::new("/base/out"));
        let names: Vec<_> = m.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["smollm2-135m", "qwen"]);
        assert_eq!(m.models[1].path, Path::new("/base/gguf/qwen.gguf"));
        let (a, b) = (&m.recipes[0], &m.recipes[1]);
        assert_eq!((a.ty.name, a.outliers, a.format), ("int4", OutlierPolicy::Keep, Format::Gguf));
        assert_eq!((b.ty.name, b.outliers, b.format), ("int8", OutlierPolicy::Fold, Format::Safetensors));
        assert_eq!(a.calib.as_deref(), Some(Path::new("/base/c4.txt")));
        assert_eq!((a.eval.as_deref(), b.eval.as_deref()), (None, Some(Path::new("/abs/wiki.txt"))));
        assert_eq!((a.calib_chunks, a.eval_chunks, a.ctx, a.imatrix), (32, 8, 512, true));
        assert_eq!((a.method, b.method), (Method::Rtn, Method::Gptq));
        assert_eq!((a.allocation, b.allocation), (None, Some(Allocation::HeadToLayers)));
    }

    #[test]
    fn rejects_bad_manifests() {
        let cases = [
            (GOOD.replace("type = \"int4\"", "type = \"q9_k\""), "unknown type"),
            (GOOD.replace("\"GPTQ\"", "\"awq\""), "unknown method"),
            (GOOD.replace("\"keep\"", "\"hide\""), "unknown outliers"),
            (GOOD.replace("\"Head-to-Layers\"", "\"greedy\""), "unknown allocation"),
            (GOOD.replace("\"safetensors\"", "\"onnx\""), "unknown format"),
            (GOOD.replace("\"INT8\"", "\"q3_k_m\""), "takes type int8 or int4"),
            (GOOD.replace("out_dir = \"out\"", "out_dir = \"out\"\ncalib_chunks = 0"), "at least 1 chunk"),
            (GOOD.replace("\"int8\"", "\"int4-keep\""), "two recipes"),
            (GOOD.replace("gguf/qwen.gguf", "other/smollm2-135m"), "two models"),
            (GOOD.replace("\"int8\"", "\"../x\""), "must not"),
            (GOOD.replace("out_dir", "outdir"), "unknown field"),
        ];
        for (text, want) in cases {
            let e = parse(&text).err().unwrap_or_else(|| panic!("accepted a manifest that should fail with {want}"));
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
        let no_recipes = GOOD.split("[[recipes]]").next().unwrap();
        assert!(parse(no_recipes).err().unwrap().to_string().contains("no [[recipes]]"));
    }

    #[test]
    fn load_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("zoo.toml");
        std::fs::write(&p, "out_dir = \"o\"\n[[models]]\npath = 3\n").unwrap();
        let e = Manifest::load(&p).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()) && e.contains("line 3"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        std::fs::write(&p, b"\xff\xfe").unwrap();
        assert!(Manifest::load(&p).unwrap_err().to_string().contains("not UTF-8"));
    }
}
