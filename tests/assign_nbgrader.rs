//! Real nbgrader 0.9.6 (the test stack's venv): generate_assignment makes
//! release/, coursectl releases it, a student edits the notebook, coursectl
//! collects (submitted/<s>/<a> is a symlink to a read-only version), and
//! `nbgrader autograde` grades it.

mod assign_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use assign_support::*;

fn testbed_venv() -> PathBuf {
    let env = std::fs::read_to_string("/run/coursectl-testbed/env").unwrap_or_else(|_| {
        panic!("/run/coursectl-testbed/env is missing: run scripts/testbed up (it installs nbgrader 0.9.6)")
    });
    let venv = env
        .lines()
        .find_map(|l| l.strip_prefix("TESTBED_VENV="))
        .map(|v| PathBuf::from(v.trim()))
        .unwrap_or_else(|| {
            panic!("TESTBED_VENV not in /run/coursectl-testbed/env: run scripts/testbed up")
        });
    assert!(
        venv.join("bin/nbgrader").is_file(),
        "{}/bin/nbgrader is missing: run scripts/testbed up",
        venv.display()
    );
    venv
}

fn nbgrader(venv: &Path, course: &Path, args: &[&str]) -> std::process::Output {
    // alembic (run by nbgrader to create gradebook.db) must be on PATH.
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(venv.join("bin/nbgrader"));
    cmd.args(args)
        .current_dir(course)
        .env("PATH", path)
        .env("HOME", course);
    let o = run_with_deadline(&mut cmd, Duration::from_secs(300));
    assert!(
        o.status.success(),
        "nbgrader {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn notebook(answer: &str) -> serde_json::Value {
    serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}
        },
        "cells": [
            {"cell_type": "code", "id": "answer", "execution_count": null, "outputs": [],
             "metadata": {"nbgrader": {"grade": false, "solution": true, "locked": false, "task": false,
                                        "grade_id": "answer", "schema_version": 3}},
             "source": answer},
            {"cell_type": "code", "id": "test-add", "execution_count": null, "outputs": [],
             "metadata": {"nbgrader": {"grade": true, "solution": false, "locked": true, "task": false,
                                        "grade_id": "test_add", "points": 1, "schema_version": 3}},
             "source": "assert add(1, 2) == 3"}
        ]
    })
}

#[test]
fn nbgrader_autogrades_what_coursectl_collected() {
    let venv = testbed_venv();
    let c = Course::new(
        &["stud1"],
        "",
        "[[assignments.assignment]]\nname = \"ps1\"\n",
    );
    let course = c.course();
    std::fs::write(
        course.join("nbgrader_config.py"),
        format!(
            "c = get_config()\nc.CourseDirectory.course_id = 'course101'\nc.CourseDirectory.root = '{}'\n",
            course.display()
        ),
    )
    .unwrap();
    let src = course.join("source/ps1/ps1.ipynb");
    write(
        &src,
        &notebook(
            "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n",
        )
        .to_string(),
    );
    std::fs::remove_dir_all(course.join("release")).unwrap();
    nbgrader(&venv, &course, &["generate_assignment", "ps1"]);
    assert!(course.join("release/ps1/ps1.ipynb").is_file());

    let o = c.run(&["release", "ps1"], Duration::from_secs(60));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let nb_path = c.home("stud1").join("ps1/ps1.ipynb");
    let mut nb: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&nb_path).unwrap()).unwrap();
    assert!(
        nb["cells"][0]["source"]
            .to_string()
            .contains("NotImplementedError"),
        "{nb:#}"
    );
    // The student answers.
    nb["cells"][0]["source"] = "def add(a, b):\n    return a + b\n".into();
    std::fs::write(&nb_path, nb.to_string()).unwrap();

    let o = c.run(&["collect", "ps1"], Duration::from_secs(60));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let sub = c.submitted("stud1", "ps1");
    assert!(std::fs::symlink_metadata(&sub)
        .unwrap()
        .file_type()
        .is_symlink());

    nbgrader(&venv, &course, &["autograde", "ps1"]);
    assert!(course.join("autograded/stud1/ps1/ps1.ipynb").is_file());
    let q = "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); \
             print(db.execute('select sum(auto_score) from grade').fetchone()[0])";
    let o = Command::new(venv.join("bin/python"))
        .args(["-c", q])
        .arg(course.join("gradebook.db"))
        .output()
        .unwrap();
    let score = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(
        score,
        "1.0",
        "gradebook score; stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Grading read the submission; it did not change the collected version.
    assert_eq!(
        std::fs::read(sub.join("ps1.ipynb")).unwrap(),
        std::fs::read(&nb_path).unwrap()
    );
}
