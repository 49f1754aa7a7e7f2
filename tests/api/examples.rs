//! The Python and Node examples in `examples/` run against the built binary, so the snippets
//! the README points at cannot rot. `.ci/run` installs python3 and nodejs and sets
//! SCIMLAB_REQUIRE_EXAMPLE_RUNTIMES=1, so there a missing interpreter fails the test;
//! elsewhere the test says it was skipped.

use std::path::Path;
use std::process::Command;

const SCIMLAB: &str = env!("CARGO_BIN_EXE_scimlab");

fn examples_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

/// Runs `program args…` in `examples/`; `None` when the interpreter is absent (and allowed to be).
fn run_example(program: &str, args: &[&str]) -> Option<std::process::Output> {
    let mut command = Command::new(program);
    // The example's servers inherit DATABASE_URL: one schema of their own.
    crate::database::isolate(&mut command, &[]);
    let output = command.args(args).current_dir(examples_dir()).env("SCIMLAB_BIN", SCIMLAB).output();
    match output {
        Ok(output) => Some(output),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("SCIMLAB_REQUIRE_EXAMPLE_RUNTIMES").is_err(),
                "SCIMLAB_REQUIRE_EXAMPLE_RUNTIMES is set but `{program}` is not installed"
            );
            eprintln!("skipped: install {program} to run the examples/ test");
            None
        }
        Err(error) => panic!("cannot start {program}: {error}"),
    }
}

fn assert_passed(what: &str, output: std::process::Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_python_example_passes_against_the_binary() {
    if let Some(output) = run_example("python3", &["-m", "unittest", "-v", "python/test_scim_client.py"]) {
        let report = String::from_utf8_lossy(&output.stderr).to_string();
        assert_passed("examples/python", output);
        assert!(report.contains("OK"), "unittest ran no tests:\n{report}");
    }
}

#[test]
fn the_node_example_passes_against_the_binary() {
    if let Some(output) = run_example("node", &["--test", "--test-reporter=tap", "node/scim-client.test.mjs"]) {
        let report = String::from_utf8_lossy(&output.stdout).to_string();
        assert_passed("examples/node", output);
        assert!(report.contains("# pass") && !report.contains("# pass 0"), "node --test ran no tests:\n{report}");
    }
}
