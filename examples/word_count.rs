//! Counts the words of a text the program owns, without copying it: the
//! tasks borrow its lines (`&str`), each worker keeps its own counts, and
//! the exit hooks hand them over to be merged. Then a streaming pass over
//! the same borrowed lines prints a running total as results arrive.
//!
//! Run with `cargo run --example word_count`.

use std::collections::HashMap;

use statepool::prelude::*;

/// The text: a verse of the Rubaiyat (public domain), many times over.
fn text() -> String {
    let verse = "The Moving Finger writes; and, having writ,\n\
                 Moves on: nor all thy Piety nor Wit\n\
                 Shall lure it back to cancel half a Line,\n\
                 Nor all thy Tears wash out a Word of it.\n";
    verse.repeat(2_500)
}

/// One worker's word counts, over every line it counted.
#[worker_state]
#[derive(Default)]
struct Tally {
    counts: HashMap<String, usize>,
}

/// Counts the words of one borrowed line into the worker's tally; returns
/// how many there were.
#[task]
fn count_line(tally: &mut Tally, line: &str) -> usize {
    let mut words = 0;
    for word in line
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *tally.counts.entry(word.to_lowercase()).or_default() += 1;
        words += 1;
    }
    words
}

/// Hands the worker's counts over when its life ends.
#[worker_exit]
fn hand_over(tally: Tally) -> HashMap<String, usize> {
    tally.counts
}

fn main() -> Result<(), PoolError> {
    let text = text();
    let mut pool = TallyPool::new(4);

    // A blocking call over borrowed lines: `text` is not copied.
    let per_line: Vec<usize> = pool.map(text.lines())?;
    let total: usize = per_line.iter().sum();

    // Without keep_alive the workers ended with the call: merge their counts.
    let mut merged: HashMap<String, usize> = HashMap::new();
    for counts in pool.exit_results() {
        for (word, n) in counts {
            *merged.entry(word).or_default() += n;
        }
    }
    assert_eq!(merged.values().sum::<usize>(), total);
    let mut top: Vec<(&String, &usize)> = merged.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!(
        "{} lines, {total} words, {} distinct",
        per_line.len(),
        merged.len()
    );
    for (word, n) in top.iter().take(5) {
        println!("  {word:>8} {n}");
    }

    // A streaming pass: the input iterator borrows `text` and is pulled on
    // this thread as results are taken; the items are owned lines.
    let mut running = 0;
    let stream = pool.imap_borrowed_with(
        |_: &mut Tally, line: String| line.split_whitespace().count(),
        text.lines().map(str::to_owned),
    );
    for (i, words) in stream.enumerate() {
        running += words?;
        if (i + 1) % 2_500 == 0 {
            println!("  after {:>5} lines: {running} words", i + 1);
        }
    }
    assert_eq!(running, text.split_whitespace().count());
    pool.join()?;
    Ok(())
}
