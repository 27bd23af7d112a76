//! One way to show progress in long work: an indicatif bar of `len` steps
//! drawn with a template, or a hidden one when the caller asked for quiet.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps drawn with `template` (indicatif syntax), hidden
/// when `visible` is false.
///
/// # Panics
/// If `template` is not a valid indicatif template (a programming error:
/// every template is a literal).
pub fn bar(len: u64, visible: bool, template: &str) -> ProgressBar {
    let bar = if visible {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}
