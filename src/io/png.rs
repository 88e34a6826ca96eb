//! PNG files drawn with plotters' pure-Rust bitmap backend. Text uses the embedded DejaVu Sans
//! (assets/fonts, its licence beside it), so no system font library is needed. The picture is
//! drawn under a temporary name and renamed when complete.

use crate::error::{Error, Result};
use plotters::style::{register_font, FontStyle};
use std::path::Path;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The error for a failed drawing of `path`.
pub fn err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: cannot draw the plot: {e}", path.display()))
}

/// Draws a PNG with `draw` (given the path to draw to) and moves it to `path` when complete.
pub fn save(path: &Path, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| err(path, "embedded font is invalid"))?;
    let tmp = path.with_file_name(format!("{}{}.png", crate::io::atomic::temp_prefix(path), std::process::id()));
    match draw(&tmp).and_then(|_| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(match e {
                Error::Invalid(m) => Error::Invalid(m.replace(&tmp.display().to_string(), &path.display().to_string())),
                other => other,
            })
        }
    }
}
