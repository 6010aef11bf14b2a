//! The thread that pulls the inputs of streaming calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

/// The work a feed thread does for one streaming call. Never unwinds (see
/// `MapCall::feed`).
pub(crate) type Feeding = Box<dyn FnOnce() + Send>;

/// A thread that pulls the inputs of streaming calls, one call at a time,
/// kept by the pool between calls (a thread a call would cost tens of
/// microseconds). It ends when the pool drops it and its feeding is done.
pub(crate) struct FeedThread {
    feedings: Sender<Feeding>,
    /// Whether its last feeding is done.
    idle: Arc<AtomicBool>,
}

impl FeedThread {
    pub(crate) fn spawn() -> std::io::Result<Self> {
        let (feedings, queue) = channel::<Feeding>();
        let idle = Arc::new(AtomicBool::new(true));
        let done = Arc::clone(&idle);
        std::thread::Builder::new()
            .name("statepool-feeder".into())
            .spawn(move || {
                for feeding in queue {
                    feeding();
                    // Release: the next call that finds it idle (acquire)
                    // sees the feeding's end.
                    done.store(true, Ordering::Release);
                }
            })?;
        Ok(FeedThread { feedings, idle })
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Acquire)
    }

    /// Hands `feeding` to the thread; back if the thread is gone.
    pub(crate) fn run(&self, feeding: Feeding) -> Result<(), Feeding> {
        self.idle.store(false, Ordering::Relaxed);
        self.feedings.send(feeding).map_err(|e| e.0)
    }
}
