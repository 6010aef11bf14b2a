use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Words {
    seen: Vec<String>,
}

#[task]
fn keep(words: &mut Words, word: String) {
    words.seen.push(word);
}

/// By value: the exit hook takes the state's contents without cloning.
#[worker_exit]
fn into_words(words: Words) -> Vec<String> {
    words.seen
}

fn main() {
    let mut pool = WordsPool::new(2);
    pool.map(["a", "b", "c"].map(String::from)).unwrap();
    let mut all: Vec<String> = pool.exit_results().into_iter().flatten().collect();
    all.sort();
    assert_eq!(all, ["a", "b", "c"]);
}
