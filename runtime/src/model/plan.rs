//! Static memory plan: every arena tensor gets a byte offset such that two
//! tensors alive at the same step never overlap. Lifetimes are step intervals
//! `[first, last]` (a step's output and its inputs are alive together, so an
//! output never aliases an input). Greedy first fit, largest tensors first:
//! O(T²) for T ≤ [`super::lower::MAX_TENSORS`].

use super::program::TensorSlot;
use crate::Error;

/// Assigns `offset` to every slot; returns the arena length in bytes.
pub fn plan(slots: &mut [TensorSlot]) -> Result<usize, Error> {
    let n = slots.len();
    // Placement order: by size, descending, ties by index (a total order, so
    // the plan is deterministic). An insertion sort: T is small, and the
    // generic `sort_unstable_by` would add kilobytes of flash to the firmware
    // (`docs/architecture.md`, "Device budgets").
    let len_of = |i: usize| slots.get(i).map_or(0, |s| s.len);
    let mut order: heapless::Vec<usize, { super::lower::MAX_TENSORS }> = heapless::Vec::new();
    for i in 0..n {
        let at = order
            .iter()
            .position(|&j| len_of(j) < len_of(i))
            .unwrap_or(order.len());
        order.insert(at, i).map_err(|_| Error::InvalidModel {
            reason: "more tensors than the runtime plans",
        })?;
    }
    let mut placed: heapless::Vec<usize, { super::lower::MAX_TENSORS }> = heapless::Vec::new();
    let mut total = 0usize;
    for &i in &order {
        let Some(&me) = slots.get(i) else { continue };
        // Candidate offsets: 0 and the end of every placed, overlapping-in-time tensor.
        let mut best: Option<usize> = None;
        let candidates = core::iter::once(0).chain(placed.iter().filter_map(|&j| {
            let o = slots.get(j)?;
            live_together(&me, o).then_some(o.offset + o.len)
        }));
        for start in candidates {
            let end = start.checked_add(me.len).ok_or(Error::InvalidModel {
                reason: "arena size overflows",
            })?;
            let clash = placed.iter().any(|&j| {
                slots.get(j).is_some_and(|o| {
                    live_together(&me, o) && start < o.offset + o.len && o.offset < end
                })
            });
            if !clash && best.is_none_or(|b| start < b) {
                best = Some(start);
            }
        }
        let offset = best.unwrap_or(0);
        if let Some(s) = slots.get_mut(i) {
            s.offset = offset;
            total = total.max(offset + s.len);
        }
        // Capacity equals the slot table's, so this cannot fail.
        let _ = placed.push(i);
    }
    Ok(total)
}

fn live_together(a: &TensorSlot, b: &TensorSlot) -> bool {
    a.first <= b.last && b.first <= a.last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(len: usize, first: usize, last: usize) -> TensorSlot {
        TensorSlot {
            len,
            offset: 0,
            first,
            last,
        }
    }

    #[test]
    fn chain_reuses_memory() {
        // a(0..1) → b(1..2) → c(2..3): a and c can share.
        let mut s = [slot(100, 0, 1), slot(50, 1, 2), slot(100, 2, 3)];
        let total = plan(&mut s).unwrap();
        assert_eq!(total, 150);
        assert_eq!(s[0].offset, s[2].offset);
        assert!(s[1].offset >= 100 || s[1].offset + 50 <= s[0].offset);
    }

    #[test]
    fn no_live_overlap_on_random_lifetimes() {
        let mut seed = 12345u32;
        let mut rnd = |m: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) % m
        };
        for _ in 0..200 {
            let n = 1 + rnd(20) as usize;
            let mut s: Vec<_> = (0..n)
                .map(|_| {
                    let f = rnd(10) as usize;
                    slot(1 + rnd(500) as usize, f, f + rnd(5) as usize)
                })
                .collect();
            let total = plan(&mut s).unwrap();
            for (i, a) in s.iter().enumerate() {
                assert!(a.offset + a.len <= total);
                for b in &s[i + 1..] {
                    if live_together(a, b) {
                        assert!(
                            a.offset + a.len <= b.offset || b.offset + b.len <= a.offset,
                            "{a:?} {b:?}"
                        );
                    }
                }
            }
        }
    }
}
