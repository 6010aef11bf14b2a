//! Compile-time rules of the attributes: one trybuild case a file under
//! `tests/ui/<attribute>/{pass,fail}/`, with the expected `.stderr` checked
//! in (refresh with `TRYBUILD=overwrite cargo test --test ui` and review the
//! diff). One `TestCases`, so the cases are compiled in one cargo run.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/*/pass/*.rs");
    cases.compile_fail("tests/ui/*/fail/*.rs");
}
