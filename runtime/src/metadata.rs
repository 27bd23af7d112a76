//! The `metadata_props` of an exported tagger: the keys, their formats, and
//! readers/writers shared by the trainer's exporter and the runtime.
//!
//! Every value is plain text; lists are separated by [`LIST_SEPARATOR`].

use crate::Error;
use crate::decimal;
use crate::frontend::FrontendConfig;
use core::fmt::Write;

/// Separator of list values (class names, thresholds).
pub const LIST_SEPARATOR: char = ';';
/// Class names, in output order: `dog;siren;…`.
pub const CLASS_NAMES: &str = "matpac.class_names";
/// Per-class detection thresholds on the sigmoid score, in output order: `0.5;0.42;…`.
pub const THRESHOLDS: &str = "matpac.thresholds";
/// Windows the tagger averages scores over (optional; chosen on validation
/// scenes with the thresholds): `2`. Read by the tagger (`TaggerConfig::for_model`).
pub const SMOOTHING_WINDOWS: &str = "matpac.smoothing_windows";
/// Most classes that may start an event in one window (optional; `0` = no
/// limit; chosen on validation scenes): `2`. Read by
/// the tagger (`TaggerConfig::for_model`).
pub const TOP_K: &str = "matpac.top_k";
/// Dataset mean of the log-mel features (natural-log units), subtracted before quantisation.
pub const FEATURE_MEAN: &str = "matpac.feature_mean";
/// Dataset standard deviation of the log-mel features.
pub const FEATURE_STD: &str = "matpac.feature_std";
/// The front end, as written by [`write_frontend`].
pub const FRONTEND: &str = "matpac.frontend";
/// Input scale of the model's first `QuantizeLinear` (also in the graph; for tools).
pub const INPUT_SCALE: &str = "matpac.input_scale";
/// Input zero point (also in the graph).
pub const INPUT_ZERO_POINT: &str = "matpac.input_zero_point";
/// What the output is: `sigmoid` (tag scores), `logits` or `embedding`.
pub const OUTPUT_KIND: &str = "matpac.output";
/// Free text: what trained the model, on what, when.
pub const PROVENANCE: &str = "matpac.provenance";

/// Writes `config` as `sample_rate=16000;win_length=400;…` (every field).
pub fn write_frontend(config: &FrontendConfig, out: &mut impl Write) -> core::fmt::Result {
    write!(
        out,
        "sample_rate={};win_length={};hop_length={};n_fft={};n_mels={};f_min={};f_max={};log_eps={:e}",
        config.sample_rate,
        config.win_length,
        config.hop_length,
        config.n_fft,
        config.n_mels,
        config.f_min,
        config.f_max,
        config.log_eps
    )
}

/// Reads what [`write_frontend`] wrote. Every field must be present once.
pub fn parse_frontend(text: &str) -> Result<FrontendConfig, Error> {
    let bad = |reason| Error::Metadata {
        key: FRONTEND,
        reason,
    };
    let mut config = FrontendConfig::default();
    let mut seen = 0u8;
    for item in text
        .split(LIST_SEPARATOR)
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (key, value) = item
            .split_once('=')
            .ok_or(bad("expected key=value items"))?;
        let int = || value.parse::<usize>().map_err(|_| bad("malformed integer"));
        let float = || decimal::parse_f32(value).ok_or(bad("malformed number"));
        let bit = match key {
            "sample_rate" => {
                config.sample_rate = value.parse().map_err(|_| bad("malformed integer"))?;
                0
            }
            "win_length" => {
                config.win_length = int()?;
                1
            }
            "hop_length" => {
                config.hop_length = int()?;
                2
            }
            "n_fft" => {
                config.n_fft = int()?;
                3
            }
            "n_mels" => {
                config.n_mels = int()?;
                4
            }
            "f_min" => {
                config.f_min = float()?;
                5
            }
            "f_max" => {
                config.f_max = float()?;
                6
            }
            "log_eps" => {
                config.log_eps = float()?;
                7
            }
            _ => return Err(bad("unknown front-end field")),
        };
        if seen & (1 << bit) != 0 {
            return Err(bad("a field appears twice"));
        }
        seen |= 1 << bit;
    }
    if seen != 0xff {
        return Err(bad(
            "missing fields: every FrontendConfig field is required",
        ));
    }
    config.validate()?;
    Ok(config)
}

/// Parses one number-valued entry.
pub fn parse_f32(key: &'static str, text: &str) -> Result<f32, Error> {
    match decimal::parse_f32(text.trim()) {
        Some(v) if v.is_finite() => Ok(v),
        _ => Err(Error::Metadata {
            key,
            reason: "expected a finite number",
        }),
    }
}

/// The items of a list-valued entry, trimmed.
pub fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(LIST_SEPARATOR).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontend_round_trips() {
        let config = FrontendConfig {
            n_mels: 64,
            f_min: 60.5,
            ..Default::default()
        };
        let mut text = String::new();
        write_frontend(&config, &mut text).unwrap();
        assert_eq!(parse_frontend(&text).unwrap(), config);
    }

    #[test]
    fn malformed_frontend_is_an_error() {
        let mut text = String::new();
        write_frontend(&FrontendConfig::default(), &mut text).unwrap();
        for bad in [
            text.replace("n_mels=80", "n_mels=eighty"),
            text.replace("n_mels=80;", ""),
            format!("{text};n_mels=80"),
            format!("{text};colour=blue"),
            text.replace("hop_length=160", "hop_length=0"),
            "garbage".into(),
        ] {
            assert!(parse_frontend(&bad).is_err(), "{bad}");
        }
    }
}
