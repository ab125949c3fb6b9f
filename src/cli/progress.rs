//! Progress bars on standard error (indicatif), with rate and time left, drawn only on a
//! terminal: piped or redirected output stays clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a bar counts.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Items.
    Items,
    /// Bytes.
    Bytes,
}

/// One bar for one long command.
pub struct Progress {
    bar: ProgressBar,
    unit: Unit,
    sized: Option<bool>,
}

impl Progress {
    /// A bar labelled `what`, counting `unit`; hidden unless standard error is a terminal.
    pub fn new(what: &'static str, unit: Unit) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_message(what);
        Progress { bar, unit, sized: None }
    }

    /// `done` so far out of `total` (0: not known).
    pub fn show(&mut self, done: u64, total: u64) {
        let sized = total > 0;
        if self.sized != Some(sized) {
            self.sized = Some(sized);
            let template = match (self.unit, sized) {
                (Unit::Items, true) => "{msg} [{bar:30}] {pos}/{len} items, {per_sec}, {eta} left",
                (Unit::Items, false) => "{msg} {pos} items, {per_sec}",
                (Unit::Bytes, true) => "{msg} [{bar:30}] {bytes}/{total_bytes}, {bytes_per_sec}, {eta} left",
                (Unit::Bytes, false) => "{msg} {bytes}, {bytes_per_sec}",
            };
            let style = ProgressStyle::with_template(template)
                .map(|s| s.progress_chars("#> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            self.bar.set_style(style);
        }
        if sized {
            self.bar.set_length(total);
        }
        self.bar.set_position(done);
    }

    /// Removes the bar.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
