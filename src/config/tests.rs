use super::*;

fn p() -> &'static Path {
    Path::new("/etc/coursectl/config.toml")
}

#[test]
fn empty_config_gets_documented_defaults() {
    let c = parse("", p()).unwrap();
    assert_eq!(c.paths.home, "/home/{username}");
    assert_eq!(c.proxy.public_port, 8000);
    assert_eq!(c.docker.user_label, "org.jupyterhub.user");
    assert_eq!(c.supervisor.max_restarts, 5);
}

#[test]
fn example_config_parses() {
    let text = include_str!("../../config.example.toml");
    parse(text, Path::new("config.example.toml")).unwrap();
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let e = parse("[course]\nname = \"x\"\nnmae = \"y\"\n", p())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/etc/coursectl/config.toml:3:"), "{e}");
    assert!(e.contains("nmae"), "{e}");
    assert!(e.contains("fix:"), "{e}");
}

#[test]
fn wrong_type_names_line_and_expected_form() {
    let e = parse("[proxy]\npublic-port = \"eighty\"\n", p())
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.toml:2:"), "{e}");
    assert!(e.contains("[proxy] public-port: invalid type"), "{e}");
}

#[test]
fn bad_duration_is_explained() {
    let e = parse("[supervisor]\nstop-timeout = \"ten\"\n", p())
        .unwrap_err()
        .to_string();
    assert!(e.contains(":2:"), "{e}");
}

#[test]
fn home_template_must_name_the_user() {
    let e = parse("[paths]\nhome = \"/home/shared\"\n", p())
        .unwrap_err()
        .to_string();
    assert!(e.contains(":2:") && e.contains("{username}"), "{e}");
}

#[test]
fn relative_paths_resolve_against_the_config_file() {
    let c = parse(
        "[paths]\nstate-dir = \"state\"\ncourse-dir = \"course\"\n",
        Path::new("/srv/demo/config.toml"),
    )
    .unwrap();
    assert_eq!(c.state_dir(), PathBuf::from("/srv/demo/state"));
    assert_eq!(c.paths.course_dir, PathBuf::from("/srv/demo/course"));
}

#[test]
fn assignments_parse_with_due_dates() {
    let c = parse(
        "[[assignments.assignment]]\nname = \"ps1\"\ndue = \"2026-12-01T23:59:00Z\"\nlate-window = \"2d\"\n",
        p(),
    )
    .unwrap();
    let a = &c.assignments.assignment[0];
    assert_eq!(a.name, "ps1");
    assert!(a.due.is_some());
}

#[test]
fn bad_assignment_name_is_refused() {
    let e = parse("[[assignments.assignment]]\nname = \"../x\"\n", p())
        .unwrap_err()
        .to_string();
    assert!(e.contains("name"), "{e}");
}
