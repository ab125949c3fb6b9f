//! A vault in a temporary directory, driven through the `lockbox` binary as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The passphrase every keyring and identity of these tests gets.
pub const PASS: &str = "correct horse battery staple";

/// A temporary directory holding a vault (`vault/`) and the files the tests name.
pub struct Env {
    pub dir: tempfile::TempDir,
}

#[allow(dead_code)] // each test file uses some of these
impl Env {
    /// An empty directory; nothing is initialised.
    pub fn empty() -> Env {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Runs `lockbox ARGS` as alice with `pass`, feeding `stdin`.
    pub fn run_with(&self, args: &[&str], stdin: &[u8], pass: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(args)
            .env("LOCKBOX_VAULT", self.dir.path().join("vault"))
            .env("LOCKBOX_TRUST", self.dir.path().join("trust"))
            .env("LOCKBOX_PASSPHRASE", pass)
            .env("LOCKBOX_ACTOR", "alice")
            .env_remove("LOCKBOX_WAIT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.run_with(args, stdin, PASS)
    }

    /// Runs and requires success; returns standard output.
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and checks the exit code; returns standard error.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    pub fn code(&self, args: &[&str]) -> Option<i32> {
        self.run(args, b"").status.code()
    }
}
