use statepool::prelude::*;

#[worker_state]
#[derive(Default)]
struct Calc;

#[task]
fn mul_add(_calc: &mut Calc, a: u32, b: u32, c: String) -> String {
    format!("{c}{}", a * b)
}

fn main() {
    let out = CalcPool::new(2).map([(2, 3, "x".to_string()), (4, 5, "y".into())]).unwrap();
    assert_eq!(out, ["x6", "y20"]);
}
