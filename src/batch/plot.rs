//! The quality/size frontier of one model: each recipe's file size against its KL divergence
//! from the source model (log scale), labelled with the recipe name.

use crate::error::Result;
use crate::io::png::err;
use plotters::prelude::*;
use std::path::Path;

/// Writes the PNG of `points` (recipe, bytes, KLD) for `model` to `path`.
pub fn write(path: &Path, model: &str, points: &[(String, u64, f64)]) -> Result<()> {
    crate::io::png::save(path, |tmp| draw(tmp, model, points))
}

fn draw(path: &Path, model: &str, points: &[(String, u64, f64)]) -> Result<()> {
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let xs: Vec<f64> = points.iter().map(|p| mib(p.1)).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.2.max(1e-6)).collect();
    let (x_lo, x_hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let (y_lo, y_hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| (a.min(y), b.max(y)));
    let pad = ((x_hi - x_lo) * 0.15).max(x_hi * 0.05).max(1.0);
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{model}: file size against KL divergence"), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d((x_lo - pad).max(0.0)..x_hi + pad, (y_lo / 3.0..y_hi * 3.0).log_scale())
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .y_labels(8)
        .y_label_formatter(&|v| format!("{v:.1e}"))
        .x_desc("file size (MiB)")
        .y_desc("KLD vs source (lower is better)")
        .draw()
        .map_err(|e| err(path, e))?;
    let blue = RGBColor(30, 90, 200);
    chart
        .draw_series(points.iter().enumerate().map(|(i, p)| {
            // Labels of points that (nearly) coincide are stacked instead of overprinted.
            let near =
                (0..i).filter(|&j| close(xs[j], xs[i], x_hi - x_lo) && close(ys[j].ln(), ys[i].ln(), 0.5)).count();
            EmptyElement::at((xs[i], ys[i]))
                + Circle::new((0, 0), 5, blue.filled())
                + Text::new(
                    format!("{} ({:.2e})", p.0, p.2),
                    (8, -18 + 18 * near as i32),
                    ("sans-serif", 16).into_font(),
                )
        }))
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))?;
    Ok(())
}

/// Whether `a` and `b` are within 4% of `span` (or equal when the span is zero).
fn close(a: f64, b: f64, span: f64) -> bool {
    (a - b).abs() <= 0.04 * span.max(1e-9)
}
