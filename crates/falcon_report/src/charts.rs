//! Charts, each drawn twice from one description: SVG for the Markdown
//! report (sharp at any zoom) and PNG for places that do not show SVG.
//! Text uses the DejaVu Sans font shipped in `fonts/`, so the result is the
//! same on a machine with no fonts installed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ReportError;

static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Registers the bundled font under the family name the charts use.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans font is a valid TTF"));
    });
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// What to draw.
#[derive(Clone, Debug)]
pub enum Chart {
    /// Groups of bars: one group per `groups` entry, one bar per series.
    Bars {
        title: String,
        y_desc: String,
        groups: Vec<String>,
        series: Vec<(String, Vec<Option<f64>>)>,
    },
    /// Lines over x.
    Lines {
        title: String,
        x_desc: String,
        y_desc: String,
        series: Vec<(String, Vec<(f64, f64)>)>,
    },
}

const SIZE: (u32, u32) = (960, 540);

fn upper(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.15
    } else {
        1.0
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    match chart {
        Chart::Bars {
            title,
            y_desc,
            groups,
            series,
        } => {
            let max = series
                .iter()
                .flat_map(|(_, v)| v.iter().flatten())
                .copied()
                .fold(0.0, f64::max);
            let n = groups.len().max(1);
            let mut c = ChartBuilder::on(root)
                .caption(title, ("sans-serif", 24))
                .margin(16)
                .x_label_area_size(48)
                .y_label_area_size(72)
                .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..upper(max))
                .map_err(e)?;
            let groups_for_labels = groups.clone();
            c.configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&move |x: &f64| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        groups_for_labels
                            .get(i as usize)
                            .cloned()
                            .unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc(y_desc.as_str())
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(e)?;
            let k = series.len().max(1) as f64;
            let width = 0.8 / k;
            for (si, (name, values)) in series.iter().enumerate() {
                let col = color(si);
                c.draw_series(values.iter().enumerate().filter_map(|(gi, v)| {
                    let v = (*v)?;
                    let x0 = gi as f64 - 0.4 + si as f64 * width;
                    Some(Rectangle::new(
                        [(x0, 0.0), (x0 + width * 0.9, v)],
                        col.filled(),
                    ))
                }))
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled()));
            }
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(e)?;
        }
        Chart::Lines {
            title,
            x_desc,
            y_desc,
            series,
        } => {
            let xs = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
            let x_max = xs.fold(0.0, f64::max).max(1.0);
            let y_max = series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|q| q.1))
                .fold(0.0, f64::max);
            let mut c = ChartBuilder::on(root)
                .caption(title, ("sans-serif", 24))
                .margin(16)
                .x_label_area_size(48)
                .y_label_area_size(72)
                .build_cartesian_2d(0f64..x_max, 0f64..upper(y_max))
                .map_err(e)?;
            c.configure_mesh()
                .x_desc(x_desc.as_str())
                .y_desc(y_desc.as_str())
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(e)?;
            // A NaN y splits a series: the gap is drawn as a gap. Past a
            // dozen series the legend would cover the plot: colours only.
            let legend = series.len() <= 12;
            for (si, (name, points)) in series.iter().enumerate() {
                let col = color(si);
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for &(x, y) in points {
                    if x.is_finite() && y.is_finite() {
                        if let Some(s) = segments.last_mut() {
                            s.push((x, y));
                        }
                    } else if segments.last().is_some_and(|s| !s.is_empty()) {
                        segments.push(Vec::new());
                    }
                }
                for (k, seg) in segments.into_iter().enumerate() {
                    let single = (seg.len() == 1).then(|| seg[0]);
                    let ann = c
                        .draw_series(LineSeries::new(seg, col.stroke_width(2)))
                        .map_err(e)?;
                    if k == 0 && legend {
                        ann.label(name.as_str()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                        });
                    }
                    if let Some(p) = single {
                        c.draw_series(std::iter::once(Circle::new(p, 2, col.filled())))
                            .map_err(e)?;
                    }
                }
            }
            if legend && !series.is_empty() {
                c.configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(e)?;
            }
        }
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Writes `DIR/STEM.svg` and `DIR/STEM.png`.
pub fn render(dir: &Path, stem: &str, chart: &Chart) -> Result<(), ReportError> {
    register_font();
    let fail = |message: String| ReportError::Chart {
        chart: stem.to_owned(),
        message,
    };
    let svg = dir.join(format!("{stem}.svg"));
    draw(&SVGBackend::new(&svg, SIZE).into_drawing_area(), chart).map_err(fail)?;
    let png = dir.join(format!("{stem}.png"));
    draw(&BitMapBackend::new(&png, SIZE).into_drawing_area(), chart).map_err(fail)?;
    Ok(())
}
