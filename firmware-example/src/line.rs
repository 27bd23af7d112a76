//! One event as one line of `matpac tag --format text` (without its `FILE: `
//! prefix): [`Event::write_text`] and a `\n`. The QEMU binary and the host write
//! these lines into any [`Write`] ([`crate::tags`]); the board's USB serial port
//! sends them from a fixed buffer ([`EventLine`]).

use core::fmt::{self, Write};

use matpac_runtime::tagger::Event;

/// Bytes an [`EventLine`] holds: the longest line, with a class name of up to about
/// 40 bytes and a stream of up to 11 days.
pub const LINE_MAX: usize = 96;

/// Writes `event` as one text line (`onset=0.500 offset=1.480 class=piano score=0.912\n`).
pub fn write_line<W: Write>(
    out: &mut W,
    event: &Event,
    class_name: &str,
    sample_rate: u32,
) -> fmt::Result {
    event.write_text(out, class_name, sample_rate)?;
    out.write_char('\n')
}

/// One event line in a fixed buffer (no allocation).
#[derive(Debug, Clone)]
pub struct EventLine {
    bytes: [u8; LINE_MAX],
    len: usize,
}

impl EventLine {
    /// The line of `event` ([`write_line`]); `Err` if it is longer than [`LINE_MAX`].
    pub fn new(event: &Event, class_name: &str, sample_rate: u32) -> Result<Self, fmt::Error> {
        let mut line = Self {
            bytes: [0; LINE_MAX],
            len: 0,
        };
        write_line(&mut line, event, class_name, sample_rate)?;
        Ok(line)
    }

    /// The line's bytes, `\n` included.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl Write for EventLine {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            class: 3,
            onset: 8_000,
            offset: 23_680,
            score: 0.9124,
        }
    }

    #[test]
    fn line_is_the_text_format_and_a_newline() {
        let line = EventLine::new(&event(), "piano", 16_000).unwrap();
        assert_eq!(
            line.as_bytes(),
            b"onset=0.500 offset=1.480 class=piano score=0.912\n"
        );
        let mut text = String::new();
        write_line(&mut text, &event(), "piano", 16_000).unwrap();
        assert_eq!(text.as_bytes(), line.as_bytes());
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_an_error() {
        let name = "n".repeat(LINE_MAX);
        assert!(EventLine::new(&event(), &name, 16_000).is_err());
        let fits = "n".repeat(40);
        let days = 16_000 * 86_400 * 11;
        let long = Event {
            onset: days,
            offset: days,
            ..event()
        };
        let line = EventLine::new(&long, &fits, 16_000);
        assert!(line.is_ok_and(|l| l.as_bytes().len() <= LINE_MAX));
    }
}
