use statepool::prelude::*;

use std::fmt;
use std::io;

#[worker_state]
#[derive(Default)]
struct Parser;

#[task]
fn parse(_parser: &mut Parser, text: String) -> Result<u64, std::num::ParseIntError> {
    text.parse()
}

#[worker_state]
#[derive(Default)]
struct Reader;

/// `io::Result<T>` is a `Result` under an alias.
#[task]
fn read(_reader: &Reader, len: usize) -> io::Result<Vec<u8>> {
    if len > 3 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too long"));
    }
    Ok(vec![0; len])
}

#[worker_state]
#[derive(Default)]
struct Writer;

/// `fmt::Result` names neither type argument.
#[task]
fn write(_writer: &mut Writer, x: u8) -> fmt::Result {
    if x == 0 { Err(fmt::Error) } else { Ok(()) }
}

#[derive(Debug)]
struct MyError;
impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("my error")
    }
}
impl std::error::Error for MyError {}

mod my {
    /// A crate-local alias: any path whose last segment is `Result`.
    pub type Result<T> = std::result::Result<T, super::MyError>;
}

#[worker_state]
#[derive(Default)]
struct Custom;

#[task]
fn custom(_custom: &mut Custom, x: u8) -> my::Result<u8> {
    if x == 0 { Err(MyError) } else { Ok(x) }
}

fn main() {
    assert_eq!(ParserPool::new(2).map(["1".to_string(), "2".into()]).unwrap(), [1, 2]);
    let err = ParserPool::new(2).map(["1".to_string(), "x".into()]).unwrap_err();
    assert!(matches!(err, PoolError::Task { index: 1, .. }), "{err:?}");
    assert_eq!(ReaderPool::new(1).map([1, 2]).unwrap(), [vec![0], vec![0, 0]]);
    assert!(ReaderPool::new(1).map([5]).is_err());
    assert!(WriterPool::new(1).map([1, 2]).is_ok());
    assert!(WriterPool::new(1).map([0]).is_err());
    let err = CustomPool::new(1).map([1, 0]).unwrap_err();
    match err {
        PoolError::Task { index, source, .. } => {
            assert_eq!(index, 1);
            assert_eq!(source.to_string(), "my error");
        }
        other => panic!("{other:?}"),
    }
}
