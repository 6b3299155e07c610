//! The roster from the real hub (`[assignments.roster] from = "hub"`): every
//! non-admin user, through the paginated listing, with more users than one
//! page. Needs `scripts/testbed up`.

mod support;

use support::*;

#[test]
fn roster_from_the_hub_lists_students_and_leaves_out_admins() {
    let c = Course::swarm(
        "[assignments.roster]\nfrom = \"hub\"\n[[assignments.assignment]]\nname = \"ps1\"\n",
    );
    let release = c.dir.path().join("course/release/ps1");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("ps1.ipynb"), "{}").unwrap();
    let r = c.run(&["up"]);
    assert_eq!(r.code, 0, "up: {}\n{}", r.stdout, r.stderr);

    // The hub's largest page is 200 users: 230 cross a page boundary.
    let tag = std::process::id();
    let students: Vec<String> = (0..230).map(|i| format!("ro{tag}s{i:03}")).collect();
    let client = http();
    let hub = c.hub_api();
    let token = c.hub_token();
    let body = serde_json::json!({ "usernames": students });
    let resp = client
        .post(format!("{hub}/users"))
        .header("Authorization", format!("token {token}"))
        .json(&body)
        .send()
        .unwrap();
    assert!(
        resp.status().is_success(),
        "create users: {}",
        resp.status()
    );
    // The hub's admin `ta` (swarm_config.py's admin_users) exists from the
    // start; coursectl's token cannot make admins, by design.
    let ta: serde_json::Value = client
        .get(format!("{hub}/users/ta"))
        .header("Authorization", format!("token {token}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ta["admin"], true, "{ta}");

    let r = c.run(&["release", "ps1", "--dry-run", "--json"]);
    assert!(
        r.code == 0 || r.code == 3,
        "release --dry-run: {}\n{}",
        r.stdout,
        r.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v["report"]["students"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["student"].as_str())
        .collect();
    for s in &students {
        assert!(names.contains(&s.as_str()), "{s} missing from the roster");
    }
    assert!(
        !names.contains(&"ta"),
        "the hub's admin `ta` is in the roster"
    );
    assert!(!names.contains(&"coursectl"), "a service is in the roster");
    assert_eq!(v["report"]["dry_run"], true);
}
