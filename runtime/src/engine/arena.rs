//! Safe split borrows of the arena: one tensor mutable, the others readable.

use crate::model::TensorSlot;

/// The read-only part of the arena around an output tensor.
#[derive(Clone, Copy)]
pub(crate) struct Inputs<'s> {
    before: &'s [u8],
    after: &'s [u8],
    out_start: usize,
    out_end: usize,
}

/// Cuts `arena` so that `out` is writable; `None` if it does not fit.
pub(crate) fn split<'s>(
    arena: &'s mut [u8],
    out: &TensorSlot,
) -> Option<(Inputs<'s>, &'s mut [u8])> {
    let end = out.offset.checked_add(out.len)?;
    if end > arena.len() {
        return None;
    }
    let (before, rest) = arena.split_at_mut(out.offset);
    let (out_bytes, after) = rest.split_at_mut(out.len);
    Some((
        Inputs {
            before,
            after,
            out_start: out.offset,
            out_end: end,
        },
        out_bytes,
    ))
}

impl<'s> Inputs<'s> {
    /// A tensor that does not overlap the output (the plan guarantees it for
    /// every input of a step); `None` otherwise.
    pub fn get(&self, slot: &TensorSlot) -> Option<&'s [u8]> {
        let end = slot.offset.checked_add(slot.len)?;
        if end <= self.out_start {
            self.before.get(slot.offset..end)
        } else if slot.offset >= self.out_end {
            self.after
                .get(slot.offset - self.out_end..end - self.out_end)
        } else {
            None
        }
    }
}
