//! A third engine: PostgreSQL, so that several lockbox processes on several machines share
//! one vault. Each vault table is a SQL table of (key, value) bytes; the typed contract sits on
//! top of them as on redb's (`typed_store!`), so records, keys and the audit append rule are
//! the same on every engine.
//!
//! How it keeps the contract:
//! - **One writer at a time, across every process and machine**: a write transaction begins by
//!   locking the one row of `lockbox_writer` (`SELECT ... FOR UPDATE`); the next writer waits
//!   for it. Its reads then see every earlier commit (READ COMMITTED, and no other writer can
//!   commit meanwhile), so the vault's checks inside it cannot be invalidated before it commits.
//!   A row lock, not an advisory lock: CockroachDB has none (shared/REFERENCES.md).
//! - **Snapshots**: a read transaction is REPEATABLE READ, READ ONLY, its snapshot taken at its
//!   start.
//! - **Durability**: a commit returns once PostgreSQL has it durably (its default
//!   `synchronous_commit = on`).
//! - **Staging claims**: a put staging a large item's chunks holds a claim row with an expiry,
//!   renewed at every batch it stages; a sweep removes only staged chunks whose claim is gone or
//!   expired (a process that died stops renewing it).
//!
//! SQL kept to what CockroachDB and YugabyteDB also accept: BYTEA keys compared bytewise,
//! `INSERT ... ON CONFLICT`, `SELECT ... FOR UPDATE`, a primary key on every table, no
//! advisory locks, triggers or LISTEN/NOTIFY.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::{Mutex, MutexGuard};

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::raw::{Entry, RawRead, RawWrite, Table, Visit};
use super::records::{AuditEntry, EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord};
use super::retry::{is_conflict, with_retries};
use super::typed::typed_store;
use super::{
    AuditVisit, BackupSummary, ChunkVisit, ItemVisit, ItemWriter, ReadTx, RecordVisit, Store, StoreError,
    WriteTx, codec,
};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Rows a scan fetches at a time (its visitor may use the transaction between pages).
const PAGE: i64 = 256;
/// How long a staging claim lasts unless renewed, in seconds.
const CLAIM_SECS: i64 = 3600;
/// Connections kept open for reuse.
const POOL: usize = 16;
/// Rows one multi-row INSERT writes at most, and the bytes written before pending rows are
/// sent without waiting for a read or the commit.
const INSERT_ROWS: usize = 500;
const PENDING_BYTES: usize = 4 << 20;

/// A vault in a PostgreSQL database.
pub struct PgStore {
    config: postgres::Config,
    /// Where the vault is, without its password, for messages.
    shown: String,
    /// TLS to the database, when its URL asks for it (pg_connect.rs).
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pool: Mutex<Vec<Conn>>,
    /// The blobs this process is staging.
    claims: Mutex<HashSet<[u8; 16]>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a database error of SQLSTATE `code` is no fault of the request, and may pass: the
/// server going away (a restart, a shutdown: class 57P), a connection failing (class 08) or
/// too many of them (53300).
fn may_pass(code: &str) -> bool {
    code.starts_with("57P") || code.starts_with("08") || code == "53300"
}

/// A database error, as the store reports it (never with the password: the driver's messages
/// name no credentials).
fn db(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) if may_pass(d.code().code()) => StoreError::Unavailable(d.message().to_owned()),
        // A serialization failure or a deadlock: the work may be run again (vault/retry.rs).
        Some(d) if ["40001", "40P01"].contains(&d.code().code()) => {
            StoreError::Retry(format!("{} ({})", d.message(), d.code().code()))
        }
        Some(d) => StoreError::Engine(format!("PostgreSQL: {} ({})", d.message(), d.code().code())),
        // No answer from the server: the connection is closed or broke.
        None => StoreError::Unavailable(db_text(&e)),
    }
}

fn sql_table(table: Table) -> &'static str {
    match table {
        Table::Meta => "lockbox_meta",
        Table::Tenants => "lockbox_tenants",
        Table::Items => "lockbox_items",
        Table::Chunks => "lockbox_chunks",
        Table::Engineers => "lockbox_engineers",
        Table::Requests => "lockbox_requests",
        Table::Grants => "lockbox_grants",
        Table::Audit => "lockbox_audit",
    }
}

impl PgStore {
    /// Makes a new vault in the database at `url` (its schema migrated first); refuses one
    /// that holds a vault already.
    pub fn create(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url)?;
        let tx = store.begin_raw_write()?;
        if tx.get(Table::Meta, b"schema")?.is_some() {
            return Err(StoreError::Exists { path: store.shown.clone().into() });
        }
        tx.put(Table::Meta, b"schema", &[super::SCHEMA_VERSION])?;
        tx.put(Table::Meta, b"vault_id", &super::redb_store::new_vault_id()?)?;
        tx.commit()?;
        Ok(store)
    }

    /// Opens the vault in the database at `url`, migrating its schema to this binary's;
    /// refuses a database migrated by a newer lockbox, or one without a vault.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url)?;
        let found = store.begin_raw_read()?.get(Table::Meta, b"schema")?;
        match found {
            None => Err(StoreError::Missing { path: store.shown.clone().into() }),
            Some(v) if v == [super::SCHEMA_VERSION] => Ok(store),
            Some(found) => Err(StoreError::Schema { path: store.shown.clone().into(), found }),
        }
    }

    /// Makes a vault in the database at `url` from a backup (docs/FORMAT.md), in one
    /// transaction: all of it or nothing. The database must hold no vault.
    pub fn restore_from(
        url: &str,
        input: &mut dyn std::io::Read,
    ) -> Result<(PgStore, BackupSummary), StoreError> {
        let store = PgStore::connect(url)?;
        let tx = store.begin_raw_write()?;
        if tx.get(Table::Meta, b"schema")?.is_some() {
            return Err(StoreError::Exists { path: store.shown.clone().into() });
        }
        let summary = super::backup::read_backup(input, &mut |table, k, v| tx.put(table, k, v))?;
        // A backup of another schema would restore into a vault no command can open.
        match tx.get(Table::Meta, b"schema")?.as_deref() {
            Some([super::SCHEMA_VERSION]) => {}
            other => {
                let found = other.unwrap_or_default().to_vec();
                return Err(StoreError::Schema { path: store.shown.clone().into(), found });
            }
        }
        tx.commit()?;
        Ok((store, summary))
    }

    /// Removes every record of the vault (a restore found unsound is undone with it).
    pub fn erase(&self) -> Result<(), StoreError> {
        let tx = self.begin_raw_write()?;
        tx.0.flush()?;
        for table in Table::ALL {
            let sql = format!("DELETE FROM {}", sql_table(table));
            tx.0.with(|c| c.execute(sql.as_str(), &[]))?;
        }
        tx.0.with(|c| c.execute("DELETE FROM lockbox_claims", &[]))?;
        tx.commit()
    }

    fn connect(url: &str) -> Result<PgStore, StoreError> {
        let super::pg_connect::Target { config, shown, tls } = super::pg_connect::target(url)?;
        let store = PgStore { config, shown, tls, pool: Mutex::new(Vec::new()), claims: Mutex::default() };
        let mut client = store.new_client()?;
        // A database that holds a migration this binary does not know is newer than it:
        // refused. (Two processes making the schema at the very same first moment: one fails
        // on its CREATE TABLE and says so; run it again.)
        embedded::migrations::runner().set_abort_missing(true).run(&mut client.client).map_err(|e| {
            StoreError::Engine(format!("cannot migrate the vault's schema in {}: {e}", store.shown))
        })?;
        lock(&store.pool).push(client);
        Ok(store)
    }

    fn new_client(&self) -> Result<Conn, StoreError> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        let client = connected.map_err(|e| connect_error(&self.shown, &e))?;
        Ok(Conn { client, statements: HashMap::new() })
    }

    fn client(&self) -> Result<(Pooled<'_>, bool), StoreError> {
        let reused = lock(&self.pool).pop();
        let (client, reused) = match reused {
            Some(c) if !c.client.is_closed() => (c, true),
            _ => (self.new_client()?, false),
        };
        Ok((Pooled { store: self, client: Some(client) }, reused))
    }

    /// A transaction begun with `begin` (statements that change nothing). A pooled connection
    /// the database closed while it sat idle (it restarted, say) is only found out when used:
    /// then the pool, likely all as stale, is emptied and a new connection tried.
    fn begin(&self, begin: &str) -> Result<PgTx<'_>, StoreError> {
        let (conn, reused) = self.client()?;
        // The transaction exists before anything is sent: a failure from here rolls it back
        // (or drops the connection), never pools a connection left inside a transaction.
        let open = PgTx::new(conn);
        match open.with(|c| c.batch_execute(begin)) {
            Ok(()) => Ok(open),
            Err(StoreError::Unavailable(_)) if reused => {
                drop(open);
                lock(&self.pool).clear();
                let open = PgTx::new(self.client()?.0);
                open.with(|c| c.batch_execute(begin))?;
                Ok(open)
            }
            Err(e) => Err(e),
        }
    }

    /// Where the vault is (no password), for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A write transaction at the byte level: waits for the writer row.
    pub fn begin_raw_write(&self) -> Result<PgWrite<'_>, StoreError> {
        // A writer that goes quiet inside its transaction (its process stuck, its network
        // gone) must not hold every other writer forever: the server ends it after a minute.
        let open = self.begin(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL idle_in_transaction_session_timeout = '60s'",
        )?;
        open.with(|c| c.query("SELECT id FROM lockbox_writer WHERE id = 1 FOR UPDATE", &[]).map(drop))?;
        Ok(PgWrite(open))
    }

    /// A snapshot at the byte level.
    pub fn begin_raw_read(&self) -> Result<PgRead<'_>, StoreError> {
        // The snapshot is taken at the first statement: taken here, at its start.
        let open = self.begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT 1")?;
        Ok(PgRead(open))
    }
}

/// Why a connection could not be made, as the store reports it: only what may pass (the
/// database down or restarting, too many connections, the network) is "try again"; bad
/// credentials, a TLS handshake that failed (a certificate that does not check out, a server
/// that will not speak TLS: both what someone in the path would cause) are refused for good;
/// anything else the database said (no such database, say) is a plain error.
fn connect_error(shown: &str, e: &postgres::Error) -> StoreError {
    let text = format!("cannot connect to {shown}: {}", db_text(e));
    if let Some(d) = e.as_db_error() {
        let code = d.code().code();
        return match code {
            _ if code.starts_with("28") => StoreError::Refused(text),
            // 55000 here: the database closed to new connections for a while (maintenance).
            _ if may_pass(code) || code == "55000" => StoreError::Unavailable(text),
            _ => StoreError::Engine(text),
        };
    }
    let mut tls = e.to_string().starts_with("error performing TLS handshake");
    let mut io = false;
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let inner = c.downcast_ref::<std::io::Error>();
        tls |= c.is::<rustls::Error>()
            || inner.and_then(|i| i.get_ref()).is_some_and(|i| i.is::<rustls::Error>());
        io |= inner.is_some();
        cause = c.source();
    }
    match (tls, io) {
        (true, _) => StoreError::Refused(text),
        (false, true) => StoreError::Unavailable(text),
        (false, false) => StoreError::Engine(text),
    }
}

/// The text of a connection error, its cause included.
fn db_text(e: &postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

/// A connection and the statements prepared on it (each SQL text parsed once per connection).
pub struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, params)
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params)
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }
}

/// A connection on loan from the pool; back to it when dropped, if still usable.
pub struct Pooled<'s> {
    store: &'s PgStore,
    client: Option<Conn>,
}

impl Pooled<'_> {
    fn get(&mut self) -> &mut Conn {
        self.client.as_mut().expect("a pooled connection is there until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let mut pool = lock(&self.store.pool);
            if !c.client.is_closed() && pool.len() < POOL {
                pool.push(c);
            }
        }
    }
}

/// Rows written and not yet sent, one map per table, and their bytes.
type Pending = (Vec<BTreeMap<Vec<u8>, Vec<u8>>>, usize);

/// Makes a store error of one kind from its message.
type FailureKind = fn(String) -> StoreError;

/// An open SQL transaction on a pooled connection: rolled back when dropped uncommitted.
struct PgTx<'s> {
    conn: Mutex<Pooled<'s>>,
    done: bool,
    /// Set once a statement of it failed: PostgreSQL would turn its COMMIT into a rollback and
    /// report success, so a commit is refused here, in the kind of that first failure (a
    /// conflict or a lost connection may pass when run again, so the refusal says so too).
    first_failure: Mutex<Option<FailureKind>>,
    /// Rows written and not yet sent, by table (the last value of each key), and their bytes:
    /// sent as multi-row INSERTs before the next read, removal or the commit.
    pending: Mutex<Pending>,
}

impl<'s> PgTx<'s> {
    fn new(conn: Pooled<'s>) -> PgTx<'s> {
        PgTx {
            conn: Mutex::new(conn),
            done: false,
            first_failure: Mutex::new(None),
            pending: Mutex::new((vec![BTreeMap::new(); 8], 0)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T, postgres::Error>) -> Result<T, StoreError> {
        f(lock(&self.conn).get()).map_err(|e| {
            let e = db(e);
            let kind: FailureKind = match e {
                StoreError::Retry(_) => StoreError::Retry,
                StoreError::Unavailable(_) => StoreError::Unavailable,
                _ => StoreError::Engine,
            };
            lock(&self.first_failure).get_or_insert(kind);
            e
        })
    }

    /// Sends the pending rows.
    fn flush(&self) -> Result<(), StoreError> {
        let (tables, bytes) = &mut *lock(&self.pending);
        if *bytes == 0 && tables.iter().all(BTreeMap::is_empty) {
            return Ok(());
        }
        *bytes = 0;
        for (table, rows) in Table::ALL.into_iter().zip(tables.iter_mut()) {
            let rows = std::mem::take(rows);
            let rows: Vec<(Vec<u8>, Vec<u8>)> = rows.into_iter().collect();
            for part in rows.chunks(INSERT_ROWS) {
                let mut sql = format!("INSERT INTO {} (k, v) VALUES ", sql_table(table));
                let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(part.len() * 2);
                for (i, (k, v)) in part.iter().enumerate() {
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
                    params.push(k);
                    params.push(v);
                }
                sql.push_str(" ON CONFLICT (k) DO UPDATE SET v = excluded.v");
                // Not cached: its text depends on the row count.
                self.with(|c| c.client.execute(sql.as_str(), &params))?;
            }
        }
        Ok(())
    }

    /// Notes a row written; sends the pending rows once they are many.
    fn put(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let full = {
            let (tables, bytes) = &mut *lock(&self.pending);
            *bytes += key.len() + value.len();
            tables[table.index()].insert(key.to_vec(), value.to_vec());
            *bytes >= PENDING_BYTES
        };
        if full { self.flush() } else { Ok(()) }
    }

    fn end(mut self, sql: &str) -> Result<(), StoreError> {
        if sql == "COMMIT" {
            self.flush()?;
            if let Some(kind) = *lock(&self.first_failure) {
                // Dropped: rolled back.
                return Err(kind(
                    "a statement of this transaction failed: it was rolled back, not committed".into(),
                ));
            }
        }
        self.done = true;
        self.with(|c| c.batch_execute(sql))
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut conn = lock(&self.conn);
            if conn.get().batch_execute("ROLLBACK").is_err() {
                // A connection that cannot roll back is not given back to the pool.
                conn.client = None;
            }
        }
    }
}

/// A read snapshot.
pub struct PgRead<'s>(PgTx<'s>);

/// A write transaction. Dropped without `commit`, it leaves no trace.
pub struct PgWrite<'s>(PgTx<'s>);

impl PgWrite<'_> {
    /// Commits durably.
    pub fn commit(self) -> Result<(), StoreError> {
        self.0.end("COMMIT")
    }

    fn commit_tx(self) -> Result<(), StoreError> {
        self.commit()
    }

    fn items_tx(&self) -> Result<Box<dyn ItemWriter + '_>, StoreError> {
        Ok(Box::new(PgItems(self)))
    }
}

fn get_into(tx: &PgTx<'_>, table: Table, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, StoreError> {
    buf.clear();
    // A row written and not yet sent is this transaction's latest; any other key is as the
    // database has it (pending rows are only writes: a removal sends them first).
    if let Some(v) = lock(&tx.pending).0[table.index()].get(key) {
        buf.extend_from_slice(v);
        return Ok(true);
    }
    let sql = format!("SELECT v FROM {} WHERE k = $1", sql_table(table));
    let row = tx.with(|c| c.query_opt(&sql, &[&key]))?;
    Ok(match row {
        Some(row) => {
            buf.extend_from_slice(row.try_get::<_, &[u8]>(0).map_err(db)?);
            true
        }
        None => false,
    })
}

fn first_present(
    tx: &PgTx<'_>,
    table: Table,
    keys: &mut dyn Iterator<Item = Vec<u8>>,
) -> Result<Option<usize>, StoreError> {
    let sql = format!("SELECT k FROM {} WHERE k = ANY($1)", sql_table(table));
    let mut offset = 0;
    loop {
        let batch: Vec<Vec<u8>> = (&mut *keys).take(1000).collect();
        if batch.is_empty() {
            return Ok(None);
        }
        let mut found: HashSet<Vec<u8>> = tx
            .with(|c| c.query(&sql, &[&batch]))?
            .iter()
            .map(|r| r.try_get::<_, Vec<u8>>(0).map_err(db))
            .collect::<Result<_, _>>()?;
        let pending = &lock(&tx.pending).0[table.index()];
        found.extend(batch.iter().filter(|k| pending.contains_key(*k)).cloned());
        if let Some(i) = batch.iter().position(|k| found.contains(k)) {
            return Ok(Some(offset + i));
        }
        offset += batch.len();
    }
}

fn scan(
    tx: &PgTx<'_>,
    table: Table,
    from: &[u8],
    to: Option<&[u8]>,
    visit: &mut Visit<'_>,
) -> Result<(), StoreError> {
    let name = sql_table(table);
    let bound = if to.is_some() { " AND k < $2" } else { "" };
    let first = format!("SELECT k, v FROM {name} WHERE k >= $1{bound} ORDER BY k LIMIT {PAGE}");
    let next = format!("SELECT k, v FROM {name} WHERE k > $1{bound} ORDER BY k LIMIT {PAGE}");
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (sql, start) = match &after {
            None => (&first, from.to_vec()),
            Some(last) => (&next, last.clone()),
        };
        // A page is fetched whole before the visitor runs: it may use the transaction (and
        // write: its rows are sent before the next page is read).
        tx.flush()?;
        let rows = tx.with(|c| match to {
            Some(to) => c.query(sql.as_str(), &[&start, &to]),
            None => c.query(sql.as_str(), &[&start]),
        })?;
        for row in &rows {
            let (k, v) = (row.try_get::<_, &[u8]>(0).map_err(db)?, row.try_get::<_, &[u8]>(1).map_err(db)?);
            if !visit(k, v)? {
                return Ok(());
            }
        }
        if (rows.len() as i64) < PAGE {
            return Ok(());
        }
        after = rows.last().map(|r| r.try_get::<_, Vec<u8>>(0)).transpose().map_err(db)?;
    }
}

fn last(tx: &PgTx<'_>, table: Table) -> Result<Option<Entry>, StoreError> {
    tx.flush()?;
    let sql = format!("SELECT k, v FROM {} ORDER BY k DESC LIMIT 1", sql_table(table));
    match tx.with(|c| c.query_opt(&sql, &[]))? {
        Some(r) => Ok(Some((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?))),
        None => Ok(None),
    }
}

macro_rules! impl_pg_read {
    ($ty:ty) => {
        impl RawRead for $ty {
            fn get_into(&self, table: Table, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, StoreError> {
                get_into(&self.0, table, key, buf)
            }

            fn first_present(
                &self,
                table: Table,
                keys: &mut dyn Iterator<Item = Vec<u8>>,
            ) -> Result<Option<usize>, StoreError> {
                first_present(&self.0, table, keys)
            }

            fn scan(
                &self,
                table: Table,
                from: &[u8],
                to: Option<&[u8]>,
                visit: &mut Visit<'_>,
            ) -> Result<(), StoreError> {
                scan(&self.0, table, from, to, visit)
            }

            fn last(&self, table: Table) -> Result<Option<Entry>, StoreError> {
                last(&self.0, table)
            }
        }
    };
}

impl_pg_read!(PgRead<'_>);
impl_pg_read!(PgWrite<'_>);
typed_store!(reads: PgRead<'_>, PgWrite<'_>);
typed_store!(writes: PgWrite<'_>);

impl RawWrite for PgWrite<'_> {
    fn put(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0.put(table, key, value)
    }

    fn remove(&self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        self.0.flush()?;
        let sql = format!("DELETE FROM {} WHERE k = $1", sql_table(table));
        Ok(self.0.with(|c| c.execute(&sql, &[&key]))? > 0)
    }

    fn remove_range(&self, table: Table, from: &[u8], to: &[u8]) -> Result<(), StoreError> {
        self.0.flush()?;
        let sql = format!("DELETE FROM {} WHERE k >= $1 AND k <= $2", sql_table(table));
        self.0.with(|c| c.execute(&sql, &[&from, &to])).map(drop)
    }
}

/// Items and chunks through the transaction itself.
struct PgItems<'a, 's>(&'a PgWrite<'s>);

impl ItemWriter for PgItems<'_, '_> {
    fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError> {
        super::Reads::item(self.0, tenant, id)
    }

    fn put_chunk(&mut self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError> {
        super::Writes::put_chunk(self.0, blob, index, ciphertext)
    }

    fn put_item(&mut self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
        super::Writes::put_item(self.0, tenant, id, item)
    }

    fn remove_chunks(&mut self, blob: &[u8; 16]) -> Result<(), StoreError> {
        super::Writes::remove_chunks(self.0, blob)
    }
}

impl Store for PgStore {
    fn begin_read(&self) -> Result<ReadTx<'_>, StoreError> {
        Ok(Box::new(self.begin_raw_read()?))
    }

    fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        Ok(Box::new(self.begin_raw_write()?))
    }

    fn stage_chunks(&self, blob: &[u8; 16], chunks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let first = lock(&self.claims).insert(*blob);
        let attempt = || {
            let tx = self.begin_raw_write()?;
            // The claim is renewed with every batch: it outlives this process by at most an
            // hour. On the database's clock, not this machine's: servers' clocks may differ.
            let renew = "INSERT INTO lockbox_claims (blob, expires) VALUES ($1, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) + $2) ON CONFLICT (blob) DO UPDATE SET expires = excluded.expires";
            tx.0.with(|c| c.execute(renew, &[&&blob[..], &CLAIM_SECS]))?;
            super::typed::stage(&tx, blob, chunks, first)?;
            tx.commit()
        };
        with_retries(attempt, is_conflict)
    }

    fn discard_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError> {
        let attempt = || {
            let tx = self.begin_raw_write()?;
            match super::typed::unstage(&tx, blob)? {
                true => tx.commit(),
                false => Ok(()),
            }
        };
        with_retries(attempt, is_conflict)?;
        self.release_staging(blob);
        Ok(())
    }

    fn release_staging(&self, blob: &[u8; 16]) {
        if lock(&self.claims).remove(blob)
            && let Ok(tx) = self.begin_raw_write()
        {
            let removed =
                tx.0.with(|c| c.execute("DELETE FROM lockbox_claims WHERE blob = $1", &[&&blob[..]]));
            if removed.is_ok() {
                let _ = tx.commit();
            }
        }
    }

    fn sweep_staging(&self) -> Result<u64, StoreError> {
        let mut swept = 0;
        let staged = super::typed::staging(&self.begin_raw_read()?)?;
        for blob in staged {
            if lock(&self.claims).contains(&blob) {
                continue;
            }
            let attempt = || {
                let tx = self.begin_raw_write()?;
                let live = tx.0.with(|c| {
                    c.query_opt(
                        "SELECT 1 FROM lockbox_claims WHERE blob = $1 AND expires > CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
                        &[&&blob[..]],
                    )
                })?;
                if live.is_some() {
                    return Ok(false);
                }
                tx.0.with(|c| c.execute("DELETE FROM lockbox_claims WHERE blob = $1", &[&&blob[..]]))?;
                let unstaged = super::typed::unstage(&tx, &blob)?;
                if unstaged {
                    tx.commit()?;
                }
                Ok(unstaged)
            };
            if with_retries(attempt, is_conflict)? {
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// Larger than redb's: each staged transaction is a round of claim, lock, INSERTs and a
    /// durable commit (4 MiB groups ran a 256 MiB put at 59 MB/s, 8 MiB at 90 MB/s).
    fn stage_bytes(&self) -> usize {
        8 << 20
    }

    fn writeback(&self) -> Option<crate::writeback::Writeback> {
        None
    }

    fn backup_to(&self, out: &mut dyn Write) -> Result<BackupSummary, StoreError> {
        super::backup::write_backup(&self.begin_raw_read()?, out)
    }
}
