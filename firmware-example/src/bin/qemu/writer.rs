//! The output: text to the host through semihosting, one line per call, and the
//! `error …` line that ends a failed run.

use core::fmt::{self, Write};

use cortex_m_semihosting::hio;

/// Writes `error <what>` (a run that failed prints this last).
pub fn write_error<W: Write>(out: &mut W, what: &dyn fmt::Debug) {
    let _ = writeln!(out, "error {what:?}");
}

/// Buffers text and hands it to the host one line per semihosting call (each call is a
/// trap into QEMU; per-`write_str` calls would be many times slower).
pub struct LineWriter {
    stream: hio::HostStream,
    buf: [u8; 512],
    len: usize,
}

impl LineWriter {
    /// A writer to `stream` (the semihosting stdout).
    pub fn new(stream: hio::HostStream) -> Self {
        Self {
            stream,
            buf: [0; 512],
            len: 0,
        }
    }

    /// Hands the buffered text to the host.
    pub fn flush(&mut self) {
        if let Some(bytes) = self.buf.get(..self.len) {
            let _ = self.stream.write_all(bytes);
        }
        self.len = 0;
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}
