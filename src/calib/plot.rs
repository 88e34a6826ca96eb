//! The scan's PNG: per-layer residual-stream magnitudes (top 1-3 and median, log scale, as in
//! Sun et al.'s first figure) above the share of attention on the first token per layer.
//! Drawn with plotters (see `crate::io::png`).

use super::report::ScanReport;
use crate::error::Result;
use crate::io::png::err;
use plotters::prelude::*;
use std::path::Path;

/// Writes the plot to `path` (PNG), under a temporary name until complete.
pub fn write(path: &Path, r: &ScanReport) -> Result<()> {
    crate::io::png::save(path, |tmp| draw(tmp, r))
}

fn draw(path: &Path, r: &ScanReport) -> Result<()> {
    let n = r.layers.len().max(2);
    let x_max = (n - 1) as f64;
    let root = BitMapBackend::new(path, (1100, 820)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let (upper, lower) = root.split_vertically(500);
    let positive = |v: f64| if v > 0.0 { v } else { 1e-3 };
    let top = r.layers.iter().map(|l| l.top1 as f64).fold(1.0, f64::max) * 3.0;
    let bottom = r.layers.iter().map(|l| positive(l.median)).fold(f64::INFINITY, f64::min).min(1.0) / 3.0;
    let model =
        Path::new(&r.model).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| r.model.clone());
    let mut chart = ChartBuilder::on(&upper)
        .caption(format!("{model}: residual-stream magnitudes after each layer"), ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, (bottom..top).log_scale())
        .map_err(|e| err(path, e))?;
    chart.configure_mesh().x_desc("layer").y_desc("|activation|").draw().map_err(|e| err(path, e))?;
    let series: [(&str, RGBColor, Vec<(f64, f64)>); 4] = [
        ("top 1", RED, r.layers.iter().map(|l| (l.layer as f64, positive(l.top1 as f64))).collect()),
        ("top 2", RGBColor(230, 120, 0), r.layers.iter().map(|l| (l.layer as f64, positive(l.top2 as f64))).collect()),
        ("top 3", RGBColor(200, 170, 0), r.layers.iter().map(|l| (l.layer as f64, positive(l.top3 as f64))).collect()),
        ("median", BLUE, r.layers.iter().map(|l| (l.layer as f64, positive(l.median))).collect()),
    ];
    for (label, color, points) in series {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| err(path, e))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| err(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(path, e))?;

    let mut sinks = ChartBuilder::on(&lower)
        .caption("attention on the first token (mean over query positions and heads)", ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..100f64)
        .map_err(|e| err(path, e))?;
    sinks.configure_mesh().x_desc("layer").y_desc("% of attention").draw().map_err(|e| err(path, e))?;
    let points: Vec<(f64, f64)> = r.sink_share.iter().enumerate().map(|(i, s)| (i as f64, 100.0 * s)).collect();
    let green = RGBColor(0, 140, 60);
    sinks.draw_series(LineSeries::new(points.clone(), green.stroke_width(2))).map_err(|e| err(path, e))?;
    sinks.draw_series(points.into_iter().map(|p| Circle::new(p, 3, green.filled()))).map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))?;
    Ok(())
}
