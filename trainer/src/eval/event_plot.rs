//! The log-mel spectrogram of a clip with its events drawn underneath: one
//! lane per class, detections as filled bars (darker = higher score) and
//! reference events, when given, as outlines. Written by `matpac tag --png`
//! and the demo report.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::EvalError;
use super::events::TimedEvent;
use crate::frontend::LogMel;

/// Pixels per mel band.
const MEL_PX: i32 = 3;
/// Height of one class lane, pixels.
const LANE_PX: i32 = 18;
/// Left margin for the class names, pixels.
const LEFT: i32 = 150;
/// Top margin for the title, pixels.
const TOP: i32 = 28;
/// Most pixel columns; longer clips average frames into one column.
const MAX_COLUMNS: usize = 2400;

/// A dark-blue → teal → yellow ramp for `v` in `[0, 1]`.
fn ramp(v: f64) -> RGBColor {
    let stops = [
        (20.0, 20.0, 70.0),
        (30.0, 150.0, 140.0),
        (250.0, 230.0, 60.0),
    ];
    let v = v.clamp(0.0, 1.0) * 2.0;
    let (i, t) = if v < 1.0 { (0, v) } else { (1, v - 1.0) };
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * t) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draws the spectrogram (`mel`, frames of `hop_seconds`, 60 dB range below
/// its maximum) and the events to `path`. Returns `Ok(false)` when no system
/// font could draw the text (the picture is then drawn without it).
pub fn spectrogram_events_png(
    path: &Path,
    mel: &LogMel,
    hop_seconds: f64,
    detected: &[TimedEvent],
    truth: &[TimedEvent],
    title: &str,
) -> Result<bool, EvalError> {
    let plot = Plot {
        mel,
        hop_seconds,
        detected,
        truth,
        title,
    };
    let draw = |text| draw(path, &plot, text);
    match draw(true) {
        Ok(()) => Ok(true),
        Err(_) => draw(false).map(|()| false).map_err(EvalError::Report),
    }
}

/// What one picture shows.
struct Plot<'a> {
    mel: &'a LogMel,
    hop_seconds: f64,
    detected: &'a [TimedEvent],
    truth: &'a [TimedEvent],
    title: &'a str,
}

fn draw(path: &Path, plot: &Plot<'_>, text: bool) -> Result<(), String> {
    let Plot {
        mel,
        hop_seconds,
        detected,
        truth,
        title,
    } = *plot;
    let mut classes: Vec<&str> = truth
        .iter()
        .chain(detected)
        .map(|e| e.label.as_str())
        .collect();
    classes.sort_unstable();
    classes.dedup();
    let per_col = mel.n_frames.div_ceil(MAX_COLUMNS).max(1);
    let cols = mel.n_frames.div_ceil(per_col).max(1) as i32;
    let spec_h = mel.n_mels as i32 * MEL_PX;
    let size = (
        (LEFT + cols + 20) as u32,
        (TOP + spec_h + 8 + LANE_PX * classes.len() as i32 + 24) as u32,
    );
    let e = |e: &dyn std::fmt::Display| e.to_string();
    crate::io::write_png(path, size, |buffer| {
        let root = BitMapBackend::with_buffer(buffer, size).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let max = mel.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = max - 6.0 * std::f32::consts::LN_10; // 60 dB in natural-log power
        for c in 0..cols as usize {
            let frames = c * per_col..((c + 1) * per_col).min(mel.n_frames);
            let n = frames.len() as f32;
            for m in 0..mel.n_mels {
                let v = frames.clone().map(|t| mel.frame(t)[m]).sum::<f32>() / n;
                let y = TOP + spec_h - (m as i32 + 1) * MEL_PX;
                let x = LEFT + c as i32;
                let colour = ramp(f64::from((v - floor) / (max - floor).max(1e-6)));
                for dy in 0..MEL_PX {
                    root.draw_pixel((x, y + dy), &colour).map_err(|x| e(&x))?;
                }
            }
        }
        let x_of = |seconds: f64| LEFT + (seconds / hop_seconds / per_col as f64).round() as i32;
        let lane_top = |label: &str| {
            let i = classes.iter().position(|c| *c == label).unwrap_or(0) as i32;
            TOP + spec_h + 8 + i * LANE_PX
        };
        for ev in detected {
            let y = lane_top(&ev.label);
            let shade = (200.0 * (1.0 - f64::from(ev.score.clamp(0.0, 1.0)))) as u8;
            root.draw(&Rectangle::new(
                [
                    (x_of(ev.onset), y + 3),
                    (x_of(ev.offset).max(x_of(ev.onset) + 1), y + LANE_PX - 3),
                ],
                RGBColor(220, shade / 2, shade / 2).filled(),
            ))
            .map_err(|x| e(&x))?;
        }
        for ev in truth {
            let y = lane_top(&ev.label);
            root.draw(&Rectangle::new(
                [(x_of(ev.onset), y + 1), (x_of(ev.offset), y + LANE_PX - 1)],
                ShapeStyle::from(&BLACK).stroke_width(1),
            ))
            .map_err(|x| e(&x))?;
        }
        if text {
            let left = ("sans-serif", 12)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            for (i, c) in classes.iter().enumerate() {
                let y = TOP + spec_h + 8 + i as i32 * LANE_PX + LANE_PX / 2;
                root.draw(&Text::new(c.to_string(), (LEFT - 6, y), left.clone()))
                    .map_err(|x| e(&x))?;
            }
            root.draw(&Text::new(
                "mel bands".to_string(),
                (LEFT - 6, TOP + spec_h / 2),
                left.clone(),
            ))
            .map_err(|x| e(&x))?;
            let seconds = mel.n_frames as f64 * hop_seconds;
            let step = if seconds > 60.0 { 10.0 } else { 1.0 };
            let mut s = 0.0;
            while s <= seconds {
                root.draw(&Text::new(
                    format!("{s:.0}"),
                    (x_of(s), size.1 as i32 - 12),
                    ("sans-serif", 11)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(|x| e(&x))?;
                s += step;
            }
            root.draw(&Text::new(
                format!("{title}  (filled: detections, darker = higher score; outlined: reference; time in s)"),
                (10, 8),
                ("sans-serif", 14).into_font().color(&BLACK),
            ))
            .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_of_the_expected_size() {
        let mel = LogMel {
            n_frames: 300,
            n_mels: 80,
            data: (0..300 * 80).map(|i| (i % 97) as f32 * -0.1).collect(),
        };
        let ev = |on, off, label: &str| TimedEvent {
            onset: on,
            offset: off,
            label: label.into(),
            score: 0.8,
        };
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("s.png");
        spectrogram_events_png(
            &png,
            &mel,
            0.01,
            &[ev(0.5, 1.5, "kick")],
            &[ev(0.4, 1.2, "kick"), ev(2.0, 2.5, "snare")],
            "test",
        )
        .unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        // 150 + 300 + 20 wide; 28 + 240 + 8 + 2 lanes + 24 high.
        assert_eq!((info.width, info.height), (470, 28 + 240 + 8 + 2 * 18 + 24));
        let px = |x: i32, y: i32| {
            let i = (y as usize * info.width as usize + x as usize) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        // The spectrogram area is painted (not the white background), with more than one colour.
        let row: Vec<[u8; 3]> = (0..300).map(|c| px(LEFT + c, TOP + 40)).collect();
        assert!(
            row.iter().all(|p| *p != [255, 255, 255]),
            "spectrogram not drawn"
        );
        assert!(
            row.iter().any(|p| *p != row[0]),
            "spectrogram is one flat colour"
        );
        // The detection (kick, 0.5–1.5 s = frames 50–150) is a red bar in its lane.
        let lane_y = TOP + 240 + 8 + LANE_PX / 2;
        let bar = px(LEFT + 100, lane_y);
        assert!(bar[0] > 150 && bar[1] < 150, "no detection bar: {bar:?}");
    }
}
