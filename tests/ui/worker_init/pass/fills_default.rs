use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
}

#[worker_init]
fn reserve(buffer: &mut Buffer) {
    buffer.bytes.reserve(64);
}

#[task]
fn capacity(buffer: &mut Buffer, _x: u8) -> bool {
    buffer.bytes.capacity() >= 64
}

fn main() {
    assert_eq!(BufferPool::new(2).map([0, 1]).unwrap(), [true, true]);
}
