//! Running the built `gatehouse` binary as an operator would, for the CLI tests: on a
//! database, with what it read on stdin, and the two ways a command ends (printed, or
//! refused in one line).

use std::path::{Path, PathBuf};
use std::process::Output;

/// `gatehouse ARGS --db DB`, with `stdin` on its standard input.
pub fn gatehouse(db: &Path, args: &[&str], stdin: &str) -> Output {
    let db = db.to_str().expect("utf-8 test path");
    let mut all = args.to_vec();
    all.extend_from_slice(&["--db", db]);
    super::run_gatehouse(&all, stdin)
}

/// A new empty database at `dir/g.db`, made as an operator makes one (`db init`): no other
/// command creates one.
pub fn new_db(dir: &Path) -> PathBuf {
    let db = dir.join("g.db");
    ok(&gatehouse(&db, &["db", "init"], ""));
    db
}

/// What a command that succeeded printed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A refusal: non-zero exit and exactly one line on stderr.
pub fn refused(out: &Output) -> String {
    assert!(!out.status.success(), "should have failed");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    err
}
