//! What people and scripts read, under review: the help of every command, and the human and
//! JSON output of a whole session (customer, writer, engineer), as snapshots in
//! `tests/cli/snapshots/`. A change to any of them fails here until its snapshot is accepted
//! (`INSTA_UPDATE=always cargo test --test cli snapshots`, then review the diff), so output
//! never changes unnoticed. What differs from run to run (ids, hashes, times, the temporary
//! directory) is redacted.

use std::process::Command;

use crate::kit::cli::Env;

/// Every command path (`[]`, `["tenant"]`, `["tenant", "create"]`, ...), read from the
/// `Commands:` section of each help text, depth first.
fn command_paths() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = vec![Vec::<String>::new()];
    while let Some(path) = pending.pop() {
        let help = help(&path);
        let subcommands: Vec<String> = help
            .lines()
            .skip_while(|l| l.trim() != "Commands:")
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_owned)
            .collect();
        for name in subcommands.into_iter().rev() {
            pending.push([path.clone(), vec![name]].concat());
        }
        out.push(path);
    }
    out
}

/// The help of a command, with none of the test's environment shown in it.
fn help(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(path)
        .arg("--help")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success(), "{path:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_commands_help() {
    let paths = command_paths();
    assert!(paths.len() > 40, "found only {} commands", paths.len());
    for path in paths {
        let name = if path.is_empty() { "help".to_owned() } else { format!("help-{}", path.join("-")) };
        insta::assert_snapshot!(name, help(&path));
    }
}

/// Runs a step of the session and snapshots what it printed (standard output, then standard
/// error), redacted, under `name`.
fn step(env: &Env, name: &str, args: &[&str], stdin: &[u8]) -> String {
    let out = env.run(args, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let dir = env.dir.path().to_string_lossy().into_owned();
    let shown = format!(
        "$ lockbox {}\nexit {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        args.join(" ").replace(&dir, "[DIR]"),
        out.status.code().unwrap_or(-1)
    );
    insta::with_settings!({ filters => vec![
        (regex_escape(&dir).as_str(), "[DIR]"),
        (r"\b[0-9a-f]{65,}\b", "[HEX]"),
        // Zeros stay visible: a first manifest's `prev` and a first entry's links must be them.
        (r"\b0{64}\b", "[ZEROS64]"),
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"\b[0-9a-f]{32}\b", "[ID]"),
        (r"\b[0-9a-f]{16}\b", "[HASH16]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"\b1[7-9]\d{8}\b", "[UNIX]"),
        // A signed note's signature line: the key name, then base64.
        (r"(— \S+ )[A-Za-z0-9+/]{40,}={0,2}", "$1[SIGNATURE]"),
        // How long a grant has left depends on how fast the steps ran.
        (r#""remaining_secs":\d+"#, r#""remaining_secs":[SECS]"#),
        (r"\d+[hms](?: \d+[hms])* +alice", "[REMAINING] alice"),
    ]}, {
        insta::assert_snapshot!(name, shown);
    });
    stdout
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// A whole session, each step's human output and then its JSON: the customer creates the
/// tenant, a writer stores items, an engineer asks, the customer approves a subset, the
/// engineer reads, the log is shown and verified.
#[test]
fn a_session_in_human_and_json() {
    let env = Env::empty();
    let k = env.path("acme.keyring");
    let id = env.path("eve.id");
    step(&env, "s01-init", &["init"], b"");
    step(
        &env,
        "s02-tenant-create",
        &["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &k],
        b"",
    );
    step(&env, "s03-engineer-enroll", &["engineer", "enroll", "eve", "--identity", &id], b"");
    step(&env, "s04-put", &["put", "acme", "notes.txt", "-l", "internal"], b"hello");
    step(&env, "s05-put-secret", &["put", "acme", "db/password", "-l", "secret"], b"hunter2");
    for (name, args) in [
        ("tenant-list", vec!["tenant", "list"]),
        ("tenant-show", vec!["tenant", "show", "acme"]),
        ("list", vec!["list", "acme"]),
        ("engineer-list", vec!["engineer", "list"]),
    ] {
        step(&env, &format!("s06-{name}"), &args, b"");
        step(&env, &format!("s06-{name}-json"), &[&["--json"][..], &args].concat(), b"");
    }
    step(&env, "s07-get", &["get", "acme", "notes.txt", "-k", &k], b"");
    let filed = step(
        &env,
        "s08-request-create",
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "--identity",
            &id,
            "--levels",
            "internal,secret",
            "--reason",
            "disk full",
            "--case",
            "CS-1",
            "--duration",
            "1h",
        ],
        b"",
    );
    let mut lines = filed.lines();
    let (request, digest) = (lines.next().unwrap().to_owned(), lines.next().unwrap_or_default().to_owned());
    let digest = digest.split_whitespace().last().unwrap_or_default().to_owned();
    step(&env, "s09-request-list", &["request", "list"], b"");
    step(&env, "s09-request-list-json", &["--json", "request", "list"], b"");
    step(&env, "s10-request-show", &["request", "show", &request], b"");
    step(&env, "s10-request-show-json", &["--json", "request", "show", &request], b"");
    step(
        &env,
        "s11-request-approve",
        &["request", "approve", &request, "--expect", &digest, "--levels", "internal", "-k", &k],
        b"",
    );
    step(&env, "s12-grant-list", &["grant", "list"], b"");
    step(&env, "s12-grant-list-json", &["--json", "grant", "list"], b"");
    step(&env, "s13-engineer-get", &["get", "acme", "notes.txt", "-i", &id], b"");
    step(&env, "s13-engineer-get-refused", &["get", "acme", "db/password", "-i", &id], b"");
    step(&env, "s14-audit-show", &["audit", "show", "--tenant", "acme"], b"");
    step(&env, "s14-audit-show-json", &["--json", "audit", "show", "--tenant", "acme"], b"");
    step(&env, "s15-audit-verify", &["audit", "verify", "-k", &k], b"");
    step(&env, "s15-audit-verify-json", &["--json", "audit", "verify", "-k", &k], b"");
    step(&env, "s16-verify", &["verify"], b"");
    step(&env, "s16-verify-json", &["--json", "verify"], b"");
    step(&env, "s17-refused-json", &["--json", "get", "acme", "nosuch", "-k", &k], b"");
}
