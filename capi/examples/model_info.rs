//! Prints the buffer sizes a model needs as C preprocessor definitions, through
//! `matpac_model_info`: `-DWINDOW_LEN=<bytes> -DARENA_LEN=<bytes>` (run-qemu-c.sh sizes
//! the C example's static buffers with it).
//!
//! ```text
//! cargo run -p matpac-capi --example model_info -- MODEL.onnx
//! ```

// One call into the C interface, whose functions are `unsafe extern "C"`.
#![allow(unsafe_code)]

use std::process::ExitCode;

use matpac_capi::{MatpacInfo, MatpacStatus, matpac_model_info, matpac_status_message};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: model_info MODEL.onnx");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut info = MatpacInfo::default();
    // SAFETY: `bytes` is readable for its length and `info` writable for the call.
    let status = unsafe { matpac_model_info(bytes.as_ptr(), bytes.len(), &mut info) };
    if status != MatpacStatus::Ok {
        // SAFETY: matpac_status_message returns a static NUL-terminated string.
        let message = unsafe { std::ffi::CStr::from_ptr(matpac_status_message(status as i32)) };
        eprintln!("{path}: {}", message.to_string_lossy());
        return ExitCode::FAILURE;
    }
    println!(
        "-DWINDOW_LEN={} -DARENA_LEN={}",
        info.window_len, info.arena_len
    );
    ExitCode::SUCCESS
}
