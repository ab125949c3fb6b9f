//! Item ids that could not round trip through export are refused when written; import and
//! export go on past an entry they cannot handle, and report it.

use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use crate::kit::cli::Env;

/// A vault with tenant acme (one level, internal) and its keyring `k`.
fn setup() -> Env {
    let env = Env::empty();
    env.ok(&["init"], b"");
    env.ok(&["tenant", "create", "acme", "--levels", "internal", "--keyring", &env.path("k")], b"");
    env
}

#[test]
fn ids_export_could_not_write_are_refused_at_put() {
    let env = setup();
    let long_segment = "x".repeat(1024);
    for id in ["../up", "/abs/path", "dir/", "a//b", "a/./b", long_segment.as_str()] {
        let out = env.run(&["put", "acme", id, "--level", "internal"], b"data");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{id}: {stderr}");
        assert!(stderr.contains("item id"), "{stderr}");
    }
    let listed = env.run(&["--json", "list", "acme"], b"");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");
    // A 1,024-byte id made of parts a file system can hold round trips.
    let deep = vec!["y".repeat(200); 5].join("/") + "/zzzzzzzzzzzzzzzzzzz";
    assert_eq!(deep.len(), 1024);
    assert!(env.run(&["put", "acme", &deep, "--level", "internal"], b"deep").status.success());
    let out = env.run(&["export", "acme", &env.path("out"), "--keyring", &env.path("k")], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(env.dir.path().join("out").join(&deep)).unwrap(), b"deep");
}

#[test]
fn import_goes_on_past_entries_that_cannot_be_items_and_names_each() {
    let env = setup();
    let src = env.dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("good.txt"), b"good").unwrap();
    std::fs::write(src.join("sub/also.txt"), b"also").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", src.join("link")).unwrap();
    assert!(Command::new("mkfifo").arg(src.join("fifo")).status().unwrap().success());
    let control = std::ffi::OsStr::from_bytes(b"bad\x01name");
    std::fs::write(src.join(control), b"x").unwrap();

    let out = env.run(&["--json", "import", "acme", "--level", "internal", &src.to_string_lossy()], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!out.stderr.contains(&1u8), "a raw control byte reached the terminal: {stderr}");
    assert!(
        stderr.contains("symbolic link") && stderr.contains("FIFO") && stderr.contains("control"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["items"], 2);
    let skipped: Vec<&str> =
        summary["skipped"].as_array().unwrap().iter().map(|s| s["entry"].as_str().unwrap()).collect();
    assert_eq!(skipped, ["bad\\u{1}name", "fifo", "link"]);

    let listed = env.run(&["list", "acme"], b"");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("good.txt") && listed.contains("sub/also.txt"), "{listed}");
    let audit = env.run(&["audit", "show", "--tenant", "acme"], b"");
    assert!(String::from_utf8_lossy(&audit.stdout).contains("import.skipped"));
}

#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let env = setup();
    let src = env.dir.path().join("many");
    std::fs::create_dir(&src).unwrap();
    for i in 0..3000 {
        std::fs::write(src.join(format!("f{i}")), b"x").unwrap();
    }
    let out = env.run(&["import", "acme", "--level", "internal", &src.to_string_lossy()], b"");
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "progress on a pipe: {}", String::from_utf8_lossy(&out.stderr));
    // On a terminal (script(1) gives the command one), export draws its bar.
    let cmd = format!(
        "{} export acme {} --keyring {}",
        env!("CARGO_BIN_EXE_lockbox"),
        env.path("out"),
        env.path("k")
    );
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
        .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
        .env("LOCKBOX_PASSPHRASE", "correct horse battery staple")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("exported 3000 items"), "{shown}");
    assert!(shown.contains("exporting ["), "no progress bar on a terminal: {shown}");
    let cmd = format!("{} verify --keyring {}", env!("CARGO_BIN_EXE_lockbox"), env.path("k"));
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
        .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
        .env("LOCKBOX_PASSPHRASE", "correct horse battery staple")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("verifying") && shown.contains("3000 decrypted"), "{shown}");
}

#[test]
fn put_reading_a_terminal_says_so() {
    let env = setup();
    let cmd = format!("{} put acme from-tty --level internal", env!("CARGO_BIN_EXE_lockbox"));
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
        .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("reading the item from the terminal") && shown.contains("Ctrl-D"), "{shown}");
    // From a pipe it says nothing.
    let out = env.run(&["put", "acme", "from-pipe", "--level", "internal"], b"x");
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
