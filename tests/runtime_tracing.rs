//! The `tracing` feature: a span per call, a span per worker life, and an
//! event per failed call, as a subscriber sees them.
#![cfg(feature = "tracing")]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use statepool::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// What the subscriber saw: `open <name> <fields>`, `close <name>` and
/// `event <name> <fields> in <span>`, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        let line = format!("open {}{}", attrs.metadata().name(), fields.0);
        self.0.lock().unwrap().push(line);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let name = ctx.span(&id).map_or("?", |span| span.name());
        self.0.lock().unwrap().push(format!("close {name}"));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let span = ctx.event_span(event).map_or("none", |span| span.name());
        let line = format!("event {}{} in {span}", event.metadata().name(), fields.0);
        self.0.lock().unwrap().push(line);
    }
}

#[worker_state]
#[derive(Default)]
struct Halver;

#[task]
fn halve(_: &mut Halver, x: u64) -> Result<u64, std::io::Error> {
    if x % 2 == 1 {
        return Err(std::io::Error::other("odd"));
    }
    Ok(x / 2)
}

/// Runs `body` with a subscriber that records what it sees, on every
/// thread (the workers' too).
fn seen_on_this_thread(body: impl FnOnce()) -> Vec<String> {
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    tracing::subscriber::with_default(subscriber, body);
    let lines = seen.0.lock().unwrap().clone();
    lines
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn calls_and_worker_lives_are_spans_and_failures_are_events() {
    // The workers' threads start inside `with_default`, but the default
    // subscriber is the calling thread's: the pool's crew is started by a
    // call, on a fresh thread of its own, so a global default is needed for
    // the workers' spans. Set one for this test binary.
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let mut pool = HalverPool::new(2).keep_alive();
    assert_eq!(pool.map(vec![0, 2, 4]).unwrap(), [0, 1, 2]);
    assert!(pool.map(vec![0, 1, 2]).is_err());
    assert_eq!(pool.imap(vec![6u64, 8]).count(), 2);
    pool.join().unwrap();
    let lines = seen.0.lock().unwrap().clone();
    let text = lines.join("\n");

    // Three calls, each a span with its kind, items and workers.
    assert_eq!(count(&lines, "open statepool.call"), 3, "{text}");
    assert!(
        text.contains("open statepool.call kind=\"map\" items=Some(3) workers=2"),
        "{text}"
    );
    assert!(
        text.contains("open statepool.call kind=\"imap\" items=Some(2) workers=2"),
        "{text}"
    );
    assert_eq!(count(&lines, "close statepool.call"), 3, "{text}");
    // Two workers, one life each: opened at init, closed at `join`.
    assert_eq!(count(&lines, "open statepool.life"), 2, "{text}");
    assert!(
        text.contains("open statepool.life worker_id=0 life=1"),
        "{text}"
    );
    assert!(
        text.contains("open statepool.life worker_id=1 life=1"),
        "{text}"
    );
    assert_eq!(count(&lines, "close statepool.life"), 2, "{text}");
    // One failure: item 1's, inside its call's span.
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("event statepool.failure"))
        .collect();
    assert_eq!(failures.len(), 1, "{text}");
    assert!(failures[0].contains("index=Some(1)"), "{text}");
    assert!(failures[0].ends_with("in statepool.call"), "{text}");
    // A thread-local subscriber sees the calls made on its thread.
    let local = seen_on_this_thread(|| {
        let mut pool = HalverPool::new(1);
        pool.apply(4).unwrap();
    });
    assert_eq!(count(&local, "open statepool.call"), 1, "{local:?}");
}
