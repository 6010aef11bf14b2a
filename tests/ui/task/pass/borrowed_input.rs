use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Counter;

#[task]
fn len(_state: &mut Counter, text: &str) -> usize {
    text.len()
}

struct Word(String);

#[worker_state]
#[derive(Default)]
struct Joiner;

/// Several borrowed inputs, one of them `'static`.
#[task]
fn join(_state: &Joiner, word: &Word, sep: &'static str, tail: std::borrow::Cow<'_, str>) -> String {
    format!("{}{sep}{tail}", word.0)
}

fn main() {
    let lines: Vec<String> = vec!["one".into(), "three".into()];
    let mut pool = CounterPool::new(2);
    let lens: Vec<usize> = pool.map(lines.iter().map(String::as_str)).unwrap();
    assert_eq!(lens, [3, 5]);
    assert_eq!(pool.apply(&lines[1]).unwrap(), 5);

    let words = vec![Word("a".into()), Word("b".into())];
    let tails = ["x".to_string(), "y".to_string()];
    let items = words.iter().zip(tails.iter()).map(|(w, t)| (w, "-", t.as_str().into()));
    assert_eq!(JoinerPool::new(2).map(items).unwrap(), ["a-x", "b-y"]);
}
