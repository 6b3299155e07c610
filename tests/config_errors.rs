//! Bad config is refused with exit 2, a message naming file:line (or the
//! file) and the fix, and nothing is started. No stack needed.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use support::bin;

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(body: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[paths]\nstate-dir = \"state\"\n[hub]\ncommand = [\"/bin/sleep\", \"600\"]\n[proxy]\ncommand = [\"/bin/sleep\", \"600\"]\n{body}"
        );
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        Case { dir }
    }

    fn up(&self) -> support::Run {
        Command::new(bin())
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .arg("up")
            .output()
            .unwrap()
            .into()
    }

    fn nothing_started(&self) {
        let run = self.dir.path().join("state/run");
        assert!(
            !run.join("supervisor.pid").exists(),
            "a supervisor was started"
        );
        assert!(!run.join("hub.pid").exists(), "a hub was started");
    }
}

#[test]
fn unknown_key_exit_2_with_file_line_and_fix() {
    let c = Case::new("[course]\nnmae = \"typo\"\n");
    let r = c.up();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("config.toml:8:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("nmae") && r.stderr.contains("fix:"),
        "{}",
        r.stderr
    );
    c.nothing_started();
}

#[test]
fn wrong_type_exit_2_with_file_line() {
    let c = Case::new("[supervisor]\nmax-restarts = \"five\"\n");
    let r = c.up();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("config.toml:8:"), "{}", r.stderr);
    assert!(r.stderr.contains("max-restarts = \"five\""), "{}", r.stderr);
    c.nothing_started();
}

#[test]
fn missing_token_file_exit_2_names_it() {
    let c2 = Case::new("");
    let cfg = c2.dir.path().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[hub]\n",
        "[hub]\ntoken-file = \"/nonexistent/hub-token\"\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let r = c2.up();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("/nonexistent/hub-token") && r.stderr.contains("missing"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[hub] token-file"), "{}", r.stderr);
    c2.nothing_started();
}

#[test]
fn world_readable_token_exit_2_says_chmod() {
    let c = Case::new("");
    let tok = c.dir.path().join("proxy-token");
    std::fs::write(&tok, "s3cr3t-value-never-shown\n").unwrap();
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = c.dir.path().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[proxy]\n",
        &format!("[proxy]\ntoken-file = \"{}\"\n", tok.display()),
    );
    std::fs::write(&cfg, text).unwrap();
    let r = c.up();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("chmod 600 {}", tok.display())),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("s3cr3t") && !r.stdout.contains("s3cr3t"));
    c.nothing_started();
    let check: support::Run = Command::new(bin())
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check", "--json"])
        .output()
        .unwrap()
        .into();
    assert_eq!(check.code, 2);
    let v: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(!check.stdout.contains("s3cr3t"));
}

#[test]
fn completions_and_man_page_need_no_config() {
    let r: support::Run = Command::new(bin())
        .args(["completions", "bash"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("coursectl"));
    let r: support::Run = Command::new(bin()).arg("man").output().unwrap().into();
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains(".TH coursectl"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
}
