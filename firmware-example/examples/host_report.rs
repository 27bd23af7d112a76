//! Prints, on the host, the front-end report the QEMU binary prints for the same clip
//! (format: `src/report.rs`). `run-qemu.sh --check` diffs the two.
//!
//! ```text
//! cargo run --release --no-default-features --target x86_64-unknown-linux-gnu \
//!     --example host_report -- clips/scene01_0-4s.s16le
//! ```

use std::io::Write;
use std::process::ExitCode;

use matpac_firmware_example::report::write_report;
use matpac_runtime::frontend::FrontendConfig;

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "clips/scene01_0-4s.s16le".into());
    let pcm = match std::fs::read(&path) {
        Ok(pcm) => pcm,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut text = String::new();
    if let Err(e) = write_report(&mut text, &FrontendConfig::default(), &pcm, &mut ()) {
        eprintln!("report: {e:?}");
        return ExitCode::FAILURE;
    }
    if std::io::stdout().write_all(text.as_bytes()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
