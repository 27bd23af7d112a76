//! The stack's high-water mark: cortex-m-rt (`paint-stack`) fills the stack with a
//! pattern at reset; the deepest overwritten word marks the deepest use, and
//! repainting below the stack pointer measures one call alone.

/// Paints the unused stack again (everything more than 64 bytes below the
/// current stack pointer, which this function's own frame fits in) so that the
/// next [`stack_high_water`] measures what follows; returns the bytes in use
/// above that point (subtract it from the next high-water mark).
pub fn repaint_stack_below_sp() -> usize {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = &raw const _stack_start as usize;
    let floor = &raw const _stack_end as usize;
    let sp = cortex_m::register::msp::read() as usize;
    let limit = sp.saturating_sub(64) & !3;
    let mut addr = floor;
    while addr < limit {
        // SAFETY: [_stack_end, sp − 64) is stack RAM below every live frame
        // (this bench runs with interrupts idle: nothing else uses the stack
        // meanwhile), word-aligned; cortex-m-rt painted it the same way at reset.
        unsafe { (addr as *mut u32).write_volatile(cortex_m_rt::STACK_PAINT_VALUE) };
        addr += 4;
    }
    top - limit
}

/// Bytes of the stack ever used: cortex-m-rt (`paint-stack`) filled the stack with
/// `STACK_PAINT_VALUE` at reset; the lowest word that differs marks the deepest use.
pub fn stack_high_water() -> usize {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = &raw const _stack_start as usize;
    let mut addr = &raw const _stack_end as usize;
    while addr < top {
        // SAFETY: [_stack_end, _stack_start) is RAM reserved for the stack by
        // cortex-m-rt's linker script, word-aligned (asserted there); reading it is
        // always valid, and a volatile read of a painted word races with nothing.
        let word = unsafe { (addr as *const u32).read_volatile() };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    top - addr
}
