//! Smoke test of the runtime through hand-written trait impls.

use statepool::{BoxError, ExitValue, Pool, Task, WorkerContext, WorkerExit, WorkerState};

#[derive(Default)]
struct Sum(u64, usize);
impl WorkerState for Sum {
    fn start_life(_: &WorkerContext) -> Result<Self, BoxError> {
        Ok(Sum(0, 0))
    }
    fn end_life(self, ctx: &WorkerContext) -> Result<Option<ExitValue>, BoxError> {
        Ok(Some(ExitValue::new(<Self as WorkerExit>::exit(self, ctx)?)))
    }
}
impl Task for Sum {
    type Input = u64;
    type Output = u64;
    fn run(&mut self, x: u64) -> Result<u64, BoxError> {
        if x == 1_000_000_007 {
            panic!("boom")
        }
        self.0 += x;
        self.1 += 1;
        Ok(x * 2)
    }
}
impl WorkerExit for Sum {
    type Output = (u64, usize);
    fn exit(self, _: &WorkerContext) -> Result<(u64, usize), BoxError> {
        Ok((self.0, self.1))
    }
}

#[test]
fn smoke() {
    let mut pool = Pool::<Sum>::new(4).keep_alive();
    for _ in 0..50 {
        let v = pool.map(0..1000).unwrap();
        assert_eq!(v, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    }
    let v: Vec<u64> = pool.imap(0..1000).map(Result::unwrap).collect();
    assert_eq!(v, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    let v: Vec<u64> = pool.imap(0u64..).take(10).map(Result::unwrap).collect();
    assert_eq!(v.len(), 10);
    pool.join().unwrap();
    let ex = pool.exit_results();
    assert_eq!(ex.len(), 4);
    let mut p2 = Pool::<Sum>::new(3).worker_lifespan(7);
    let r = p2.map(vec![1, 2, 1_000_000_007, 4]);
    println!("{r:?}");
    assert!(r.is_err());
    assert_eq!(p2.map(0..100).unwrap().len(), 100);
    let ex = p2.exit_results();
    assert!(ex.iter().all(|e| e.1 <= 7));
}
