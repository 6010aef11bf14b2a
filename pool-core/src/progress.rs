//! The progress bar of a call (feature `progress`, drawn by `indicatif`):
//! workers add the items of each chunk they finish, so a bar costs an
//! atomic add a chunk, not an item. Without the feature, [`Progress`] is
//! empty and its methods do nothing.

use crate::PoolError;

#[cfg(feature = "progress")]
mod bars {
    use std::fmt;
    use std::sync::{Arc, OnceLock};

    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

    /// Makes the bar of a call from its length in items, where known.
    #[derive(Clone)]
    pub(crate) struct BarMaker(Arc<dyn Fn(Option<u64>) -> ProgressBar + Send + Sync>);

    impl fmt::Debug for BarMaker {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("BarMaker")
        }
    }

    /// Every default bar of the process, so that the bars of calls that
    /// run at once (nested pools, several pools) are drawn one per line
    /// rather than over each other. indicatif prunes finished bars.
    fn all_bars() -> &'static MultiProgress {
        static BARS: OnceLock<MultiProgress> = OnceLock::new();
        BARS.get_or_init(MultiProgress::new)
    }

    impl BarMaker {
        /// statepool's bar, drawn on standard error (nothing is drawn when it
        /// is not a terminal): items done of the total, rate and time left;
        /// a count and a rate where the length is unknown.
        pub(crate) fn standard() -> Self {
            BarMaker(Arc::new(|len| {
                let (bar, template) = match len {
                    Some(len) => (
                        ProgressBar::new(len),
                        "[{elapsed_precise}] {wide_bar} {human_pos}/{human_len} items ({per_sec}, {eta} left) {msg}",
                    ),
                    None => (
                        ProgressBar::new_spinner(),
                        "{spinner} [{elapsed_precise}] {human_pos} items ({per_sec}) {msg}",
                    ),
                };
                let style = ProgressStyle::with_template(template)
                    .expect("a valid template")
                    .progress_chars("=> ");
                all_bars().add(bar.with_style(style))
            }))
        }

        /// The user's bars (see `Pool::progress_bar_with`).
        pub(crate) fn custom(
            make: impl Fn(Option<u64>) -> ProgressBar + Send + Sync + 'static,
        ) -> Self {
            BarMaker(Arc::new(make))
        }

        fn start(&self, len: Option<usize>) -> super::Progress {
            let bar = (self.0)(len.map(|n| n as u64));
            super::Progress(Some(bar))
        }
    }

    impl super::Bars {
        /// Bars made by `maker`.
        pub(crate) fn new(maker: BarMaker) -> Self {
            super::Bars(Some(maker))
        }

        /// The bar of a call of `len` items (where known), if the pool
        /// shows bars.
        pub(crate) fn start(&self, len: Option<usize>) -> super::Progress {
            self.0
                .as_ref()
                .map_or_else(super::Progress::default, |maker| maker.start(len))
        }
    }

    /// Ends `bar` as its call ended.
    pub(super) fn finish(bar: &ProgressBar, end: super::End<'_>) {
        match end {
            super::End::Done => bar.finish(),
            super::End::Failed(err) => {
                // The error and its sources: `PoolError::Task` says which
                // item failed, its source why.
                let mut message = format!("failed: {err}");
                let mut source = std::error::Error::source(err);
                while let Some(cause) = source {
                    message.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                bar.abandon_with_message(message);
            }
            super::End::Stopped => bar.abandon(),
        }
    }

    impl super::Progress {
        #[inline]
        pub(crate) fn inc(&self, items: usize) {
            if let Some(bar) = &self.0 {
                bar.inc(items as u64);
            }
        }

        pub(crate) fn finish(&self, end: super::End<'_>) {
            if let Some(bar) = &self.0 {
                finish(bar, end);
            }
        }
    }
}

#[cfg(feature = "progress")]
pub(crate) use bars::BarMaker;

/// Whether and how a pool shows a bar for each call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bars(#[cfg(feature = "progress")] Option<BarMaker>);

/// The bar of one call, where the pool shows one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress(#[cfg(feature = "progress")] Option<indicatif::ProgressBar>);

/// How a call ended, for its bar.
#[derive(Debug, Clone, Copy)]
pub(crate) enum End<'e> {
    /// Every item ran: the bar is full and finished.
    Done,
    /// The call failed: the bar stops where it was, marked failed.
    #[cfg_attr(not(feature = "progress"), allow(dead_code))]
    Failed(&'e PoolError),
    /// The caller stopped it early (an `Imap` dropped before its end): the
    /// bar stops where it was.
    Stopped,
}

impl<'e> End<'e> {
    /// The end of a call that returned `result`.
    pub(crate) fn of<T>(result: &'e Result<T, PoolError>) -> Self {
        match result {
            Ok(_) => End::Done,
            Err(err) => End::Failed(err),
        }
    }
}

#[cfg(not(feature = "progress"))]
impl Bars {
    #[inline(always)]
    pub(crate) fn start(&self, _len: Option<usize>) -> Progress {
        Progress::default()
    }
}

#[cfg(not(feature = "progress"))]
impl Progress {
    #[inline(always)]
    pub(crate) fn inc(&self, _items: usize) {}

    #[inline(always)]
    pub(crate) fn finish(&self, _end: End<'_>) {}
}
