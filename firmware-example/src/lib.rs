//! # matpac-firmware-example: shared glue
//!
//! Target-independent pieces of the two firmware binaries, built for the host too so
//! that the host can reproduce, byte for byte, what the firmware prints:
//!
//! * [`report`]: runs the runtime's fixed-point front end over a PCM clip and writes
//!   the text report that the QEMU binary prints through semihosting
//!   (`examples/host_report.rs` writes the same text on the host).
//! * [`tags`]: runs the runtime's streaming `Tagger` over a PCM clip and writes its
//!   events in `matpac tag`'s text format (QEMU binary and host compare them).
//! * [`line`](mod@line): one event as one line of that format, into any writer or a fixed
//!   buffer (the board's USB serial port).
//! * [`pcm`]: little-endian 16-bit PCM decoding and WAV data lookup.
//! * [`kernel_check`]: the runtime's DSP-extension kernels against its generic ones,
//!   run by the QEMU binary on Cortex-M4.
//!
//! ```
//! use matpac_firmware_example::report::write_report;
//! use matpac_runtime::frontend::FrontendConfig;
//!
//! let clip = [0u8; 2 * 800]; // 50 ms of silence, s16le
//! let mut text = String::new();
//! let frames = write_report(&mut text, &FrontendConfig::default(), &clip, &mut ()).unwrap();
//! assert_eq!(frames, 3);
//! assert!(text.starts_with("matpac-frontend v1 samples=800 "));
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod kernel_check;
pub mod line;
pub mod pcm;
pub mod report;
pub mod tags;
