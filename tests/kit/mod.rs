//! The test kit every integration-test binary shares: cheap key derivation for keyrings and
//! identities made by the thousand, a reproducible random generator, and the command-line
//! driver (`cli`). Each binary includes it with `#[path = "kit/mod.rs"] mod kit;`.
#![allow(dead_code)] // each binary uses some of it

pub mod cli;

/// Argon2id parameters for tests: 8 MiB, one pass. Never for a real key file.
pub const CHEAP: lockbox::format::KdfParams =
    lockbox::format::KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };

/// A deterministic generator (xorshift64*), so every run is reproducible from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A database of its own for one check, on the server `LOCKBOX_TEST_POSTGRES` names.
pub struct TestDatabase {
    base: String,
    name: String,
}

impl TestDatabase {
    /// A new empty database, or `None` (said once) when no server is named outside CI.
    pub fn new() -> Option<TestDatabase> {
        let Ok(base) = std::env::var("LOCKBOX_TEST_POSTGRES") else {
            if std::env::var_os("CI").is_some() {
                panic!("CI needs PostgreSQL: LOCKBOX_TEST_POSTGRES is not set (.ci/run starts one)");
            }
            static SAID: std::sync::Once = std::sync::Once::new();
            // Written past the test harness's capture, so that it is seen.
            SAID.call_once(|| {
                use std::io::Write;
                let _ = std::io::stderr().write_all(
                    b"note: the PostgreSQL half of the tests is skipped: LOCKBOX_TEST_POSTGRES is not set (postgres://USER:PASSWORD@HOST:PORT; .ci/postgres starts one)\n",
                );
            });
            return None;
        };
        let base = base.trim_end_matches('/').to_owned();
        let name = format!("lockbox_test_{}", lockbox::format::hex(&rand_bytes()));
        let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL of LOCKBOX_TEST_POSTGRES: {e}"));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        Some(TestDatabase { base, name })
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }

    /// Its name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` on the server as the test's role, outside any vault's connection.
    pub fn admin(&self, sql: &str) {
        let mut admin =
            postgres::Client::connect(&format!("{}/postgres", self.base), postgres::NoTls).unwrap();
        admin.batch_execute(sql).unwrap();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&format!("{}/postgres", self.base), postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

fn rand_bytes() -> [u8; 8] {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    b
}

/// What the operator's own tampering is handed: a raw write transaction of either engine, its
/// records readable and writable through the typed and the byte-level contracts.
pub trait Operator: lockbox::store::Writes + lockbox::store::raw::RawWrite {}
impl<T: lockbox::store::Writes + lockbox::store::raw::RawWrite> Operator for T {}

/// The engine the library's workflow and trust checks run their vault on: a vault directory
/// (redb), or with `LOCKBOX_TEST_ENGINE=postgres` a database of its own on the server
/// `LOCKBOX_TEST_POSTGRES` names (.ci/run runs them both ways).
pub enum Engine {
    Redb(std::path::PathBuf),
    Postgres(TestDatabase),
}

impl Engine {
    /// The engine for a check whose files go under `dir`.
    pub fn new(dir: &std::path::Path) -> Engine {
        match std::env::var("LOCKBOX_TEST_ENGINE").as_deref() {
            Ok("postgres") => Engine::Postgres(
                TestDatabase::new().expect("LOCKBOX_TEST_ENGINE=postgres needs LOCKBOX_TEST_POSTGRES"),
            ),
            Ok("redb") | Err(_) => Engine::Redb(dir.join("vault")),
            Ok(other) => panic!("LOCKBOX_TEST_ENGINE={other:?}: redb or postgres"),
        }
    }

    /// Where the vault is, for `Vault::init` and `Vault::open`.
    pub fn location(&self) -> std::path::PathBuf {
        match self {
            Engine::Redb(dir) => dir.clone(),
            Engine::Postgres(db) => db.url().into(),
        }
    }

    /// Runs `f` on a raw write transaction of the vault's store, as the operator who holds the
    /// database would, and commits it. (A vault file must be closed first.)
    pub fn as_operator<T>(&self, f: impl FnOnce(&dyn Operator) -> T) -> T {
        match self {
            Engine::Redb(dir) => {
                let store = lockbox::store::RedbStore::open(&dir.join(lockbox::vault::DB_FILE)).unwrap();
                let tx = store.begin_raw_write().unwrap();
                let out = f(&tx);
                tx.commit().unwrap();
                out
            }
            Engine::Postgres(db) => {
                let store = lockbox::store::PgStore::open(&db.url()).unwrap();
                let tx = store.begin_raw_write().unwrap();
                let out = f(&tx);
                tx.commit().unwrap();
                out
            }
        }
    }
}
