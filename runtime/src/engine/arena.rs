//! Safe split borrows of the arena: a step's output (and its scratch, if it
//! has one) mutable, the other tensors readable.

use crate::model::TensorSlot;

/// The read-only part of the arena around a step's writable tensors: up to
/// three segments, each with its byte offset in the arena.
#[derive(Clone, Copy)]
pub(crate) struct Inputs<'s> {
    pieces: [(usize, &'s [u8]); 3],
}

/// Cuts `arena` so that `out` and `scratch` (when given) are writable; `None`
/// if either does not fit or they overlap. Returns the readable rest, the
/// output bytes and the scratch bytes (empty without scratch).
pub(crate) fn split<'s>(
    arena: &'s mut [u8],
    out: &TensorSlot,
    scratch: Option<&TensorSlot>,
) -> Option<(Inputs<'s>, &'s mut [u8], &'s mut [u8])> {
    let region = |s: &TensorSlot| Some((s.offset, s.offset.checked_add(s.len)?));
    let out_r = region(out)?;
    let scratch_r = match scratch {
        Some(s) => Some(region(s)?),
        None => None,
    };
    // Writable regions in arena order, tagged 0 = output, 1 = scratch.
    let mut holes = [
        (out_r, 0usize),
        (scratch_r.unwrap_or((out_r.1, out_r.1)), 1),
    ];
    if holes[1].0.0 < holes[0].0.0 {
        holes.swap(0, 1);
    }
    if holes[0].0.1 > holes[1].0.0 || holes[1].0.1 > arena.len() {
        return None;
    }
    let mut pieces: [(usize, &'s [u8]); 3] = [(0, &[]); 3];
    let mut writable: [&'s mut [u8]; 2] = [&mut [], &mut []];
    let (mut rest, mut pos) = (arena, 0usize);
    for (i, ((start, end), which)) in holes.into_iter().enumerate() {
        let (before, tail) = rest.split_at_mut(start - pos);
        let (hole, after) = tail.split_at_mut(end - start);
        pieces[i] = (pos, before);
        writable[which] = hole;
        rest = after;
        pos = end;
    }
    pieces[2] = (pos, rest);
    let [y, scratch_bytes] = writable;
    Some((Inputs { pieces }, y, scratch_bytes))
}

impl<'s> Inputs<'s> {
    /// A tensor that does not overlap the writable ones (the plan guarantees
    /// it for every input of a step); `None` otherwise.
    pub fn get(&self, slot: &TensorSlot) -> Option<&'s [u8]> {
        let end = slot.offset.checked_add(slot.len)?;
        self.pieces.iter().find_map(|&(start, bytes)| {
            (slot.offset >= start && end <= start + bytes.len())
                .then(|| bytes.get(slot.offset - start..end - start))
                .flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(offset: usize, len: usize) -> TensorSlot {
        TensorSlot {
            len,
            offset,
            first: 0,
            last: 0,
        }
    }

    #[test]
    fn output_and_scratch_are_writable_and_the_rest_readable() {
        let mut arena: [u8; 12] = core::array::from_fn(|i| i as u8);
        for (out, scratch) in [(slot(2, 3), slot(8, 2)), (slot(8, 2), slot(2, 3))] {
            let (inputs, y, s) = split(&mut arena, &out, Some(&scratch)).unwrap();
            assert_eq!((y.len(), s.len()), (out.len, scratch.len));
            assert_eq!(inputs.get(&slot(0, 2)), Some(&[0u8, 1][..]));
            assert_eq!(inputs.get(&slot(5, 3)), Some(&[5u8, 6, 7][..]));
            assert_eq!(inputs.get(&slot(10, 2)), Some(&[10u8, 11][..]));
            // Anything touching a writable region is refused.
            assert_eq!(inputs.get(&slot(4, 2)), None);
            assert_eq!(inputs.get(&slot(7, 2)), None);
        }
        let (inputs, y, s) = split(&mut arena, &slot(4, 4), None).unwrap();
        assert_eq!((y, s.len()), (&mut [4u8, 5, 6, 7][..], 0));
        assert_eq!(inputs.get(&slot(8, 4)), Some(&[8u8, 9, 10, 11][..]));
        assert!(split(&mut arena, &slot(2, 3), Some(&slot(4, 2))).is_none()); // overlap
        assert!(split(&mut arena, &slot(10, 3), None).is_none()); // past the end
    }
}
