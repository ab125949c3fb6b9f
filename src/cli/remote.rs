//! `--server URL`: the commands that work through a lockbox server. The connection is TLS to a
//! pinned certificate (`--server-pin`): the pin is checked in the handshake, before any request
//! and so before the token is sent. The token comes from LOCKBOX_TOKEN or `--token-file`,
//! never from an argument. Only envelopes and metadata cross: nothing here decrypts.

use std::io::{Read, Write};
use std::path::Path;

use lockbox::vault::{Error, ErrorKind, ItemFilter, ItemInfo};
use reqwest::blocking::{Client, Response};
use zeroize::Zeroizing;

use super::remote_download::{Download, Started, causes};
use crate::server::wire::{
    BatchEnvelope, Failure, FailureBody, GetBatch, GetOutcome, PutBatch, PutOutcome, WhoAmI,
};
use lockbox::store::raw::Row;
use lockbox::vault::{Op, Replace, TenantState};

/// A server, its pinned connection and the token to show it.
pub struct Remote {
    base: reqwest::Url,
    client: Client,
    /// The same connection settings, for streamed uploads and downloads (remote_upload.rs,
    /// remote_download.rs).
    streams: reqwest::Client,
    token: Zeroizing<String>,
}

/// The kinds of the vault's errors a server may answer with, read back by name. Not
/// `BrokenPipe`: that one ends a command quietly, and a server must not make a failed command
/// look done.
const KINDS: [ErrorKind; 7] = [
    ErrorKind::Other,
    ErrorKind::Usage,
    ErrorKind::NotFound,
    ErrorKind::AccessDenied,
    ErrorKind::Integrity,
    ErrorKind::Conflict,
    ErrorKind::InUse,
];

/// The most of a JSON answer read: an item list of a large tenant fits, a server cannot make
/// the client hold more.
const MAX_JSON: u64 = 256 * 1024 * 1024;
/// The most of an error's message shown, in characters.
const MAX_MESSAGE: usize = 2048;

/// Reads a JSON answer of at most `limit` bytes.
fn json<T: serde::de::DeserializeOwned>(response: Response, limit: u64, what: &str) -> Result<T, Error> {
    let mut bytes = Vec::new();
    response
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::integrity(format!("the server's {what} was cut short: {e}")))?;
    decoded(&bytes, limit, what)
}

/// A JSON answer of at most `limit` bytes.
fn decoded<T: serde::de::DeserializeOwned>(bytes: &[u8], limit: u64, what: &str) -> Result<T, Error> {
    if bytes.len() as u64 > limit {
        return Err(Error::integrity(format!("the server's {what} is longer than {limit} bytes")));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::integrity(format!("the server's {what} does not decode: {e}")))
}

/// How long a connection to the server may take to open.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Remote {
    /// The server at `url`, pinned to `pins` (needed for https), with the token from
    /// `token_file` or LOCKBOX_TOKEN.
    pub fn new(url: &str, pins: &[String], token_file: Option<&Path>) -> Result<Remote, Error> {
        let base = reqwest::Url::parse(url)
            .map_err(|e| Error::usage(format!("--server {url:?} is not a URL ({e})")))?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::usage(
                "--server takes no user or password in its URL: the token says who you are",
            ));
        }
        let host = base.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let provider = crate::server::tls_provider();
        // No proxy (it would see the token and the envelopes, and could pose as a plain-HTTP
        // server), no redirects, no limit on a whole transfer (a large item takes as long as it
        // takes), ten seconds to connect.
        let (tls, https_only) = match base.scheme() {
            "https" => {
                if pins.is_empty() {
                    return Err(Error::usage(
                        "an https server needs its pin: pass --server-pin sha256/... (or set LOCKBOX_SERVER_PIN), as `lockbox serve` printed it",
                    ));
                }
                if let Some(bad) = pins.iter().find(|p| !crate::server::pin_well_formed(p)) {
                    return Err(Error::usage(format!(
                        "{bad:?} is not a pin (sha256/ and the base64 of 32 bytes)"
                    )));
                }
                let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| Error::other(format!("TLS: {e}")))?
                    .dangerous()
                    .with_custom_certificate_verifier(crate::server::Pinned::new(pins.to_vec(), &provider))
                    .with_no_client_auth();
                (config, true)
            }
            // reqwest wants a TLS setup even for plain HTTP: one that trusts no certificate.
            "http" if loopback => (
                rustls::ClientConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| Error::other(format!("TLS: {e}")))?
                    .dangerous()
                    .with_custom_certificate_verifier(crate::server::Pinned::new(Vec::new(), &provider))
                    .with_no_client_auth(),
                false,
            ),
            "http" => {
                return Err(Error::usage(format!(
                    "--server {url}: plain http only to a loopback address; use https with --server-pin"
                )));
            }
            other => return Err(Error::usage(format!("--server {url}: {other}:// is not http(s)"))),
        };
        let failed = |e: reqwest::Error| Error::other(format!("cannot set up the client: {e}"));
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(None)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .use_preconfigured_tls(tls.clone())
            .https_only(https_only)
            .build()
            .map_err(failed)?;
        // Each upload and download runs on a runtime of its own, dropped after it: no
        // connection is kept for the next.
        let streams = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .use_preconfigured_tls(tls)
            .https_only(https_only)
            .build()
            .map_err(failed)?;
        let token = match token_file {
            Some(path) => Zeroizing::new(
                Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    Error::usage(format!("cannot read the token file {}: {e}", path.display()))
                })?)
                .trim()
                .to_owned(),
            ),
            None => Zeroizing::new(
                Zeroizing::new(std::env::var("LOCKBOX_TOKEN").map_err(|_| {
                    Error::usage("--server needs an API token: set LOCKBOX_TOKEN or pass --token-file FILE")
                })?)
                .trim()
                .to_owned(),
            ),
        };
        Ok(Remote { base, client, streams, token })
    }

    fn url(&self, tenant: &str, item: Option<&str>) -> Result<reqwest::Url, Error> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| Error::usage(format!("--server {} cannot take a path", self.base)))?;
            path.pop_if_empty().extend(["v1", "tenants", tenant, "items"]);
            if let Some(item) = item {
                path.push(item);
            }
        }
        Ok(url)
    }

    /// Where this server is, as this machine's pins bind it: its URL.
    pub fn place(&self) -> &str {
        self.base.as_str()
    }

    /// What the server shows of `tenant`: its record, vault id and monitor checkpoint (the
    /// operator's claims; the caller checks the signed manifest against its pins).
    pub fn tenant_view(&self, tenant: &str) -> Result<lockbox::vault::TenantView, Error> {
        let mut url = self.url(tenant, None)?;
        url.path_segments_mut().map_err(|_| Error::usage("--server cannot take a path"))?.pop();
        let view: lockbox::vault::TenantView = self.send(self.client.get(url))?.json().map_err(|e| {
            Error::integrity(format!("the server's view of tenant {tenant:?} does not decode: {e}"))
        })?;
        if view.record.name != tenant {
            return Err(Error::integrity(format!(
                "the server showed tenant {:?} for {tenant:?}",
                view.record.name
            )));
        }
        Ok(view)
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Response, Error> {
        let response =
            request.bearer_auth(self.token.as_str()).send().map_err(|e| transport(&self.base, e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let mut answer = Vec::new();
        // Unread or cut short, the answer is only a status.
        let _ = response.take(64 * 1024 + 1).read_to_end(&mut answer);
        Err(refusal(status, &answer))
    }

    fn api(&self, path: &[&str]) -> Result<reqwest::Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| Error::usage(format!("--server {} cannot take a path", self.base)))?
            .pop_if_empty()
            .extend(path);
        Ok(url)
    }

    /// Who the token lets in, as the server says.
    pub fn whoami(&self) -> Result<WhoAmI, Error> {
        json(
            self.send(self.client.get(self.api(&["v1", "whoami"])?))?,
            64 * 1024,
            "answer to who this token is",
        )
    }

    /// The rows the server shows of `tenant`: its audit chain from `audit_from` on (none if
    /// `None`), its items' records if `items`.
    pub fn state(&self, tenant: &str, audit_from: Option<u64>, items: bool) -> Result<Vec<Row>, Error> {
        let mut url = self.api(&["v1", "tenants", tenant, "state"])?;
        if let Some(from) = audit_from {
            url.query_pairs_mut().append_pair("audit_from", &from.to_string());
        }
        if items {
            url.query_pairs_mut().append_pair("items", "true");
        }
        let state: TenantState = json(self.send(self.client.get(url))?, MAX_JSON, "tenant state")?;
        state.rows()
    }

    /// Sends a commit; the server's answer.
    pub fn commit(&self, tenant: &str, op: Op, body: serde_json::Value) -> Result<serde_json::Value, Error> {
        let url = self.api(&["v1", "tenants", tenant, "commits", op.name()])?;
        json(self.send(self.client.post(url).json(&body))?, 16 * 1024 * 1024, "answer")
    }

    /// The items of `tenant` that `filter` covers.
    pub fn list(&self, tenant: &str, filter: &ItemFilter) -> Result<Vec<ItemInfo>, Error> {
        let mut url = self.url(tenant, None)?;
        for (name, value) in [("level", &filter.level), ("prefix", &filter.prefix)] {
            if let Some(value) = value {
                url.query_pairs_mut().append_pair(name, value);
            }
        }
        let items: Vec<ItemInfo> = json(self.send(self.client.get(url))?, MAX_JSON, "item list")?;
        // The server's claim, shown as such; but never another tenant's items under this name.
        if let Some(other) = items.iter().find(|i| i.tenant != tenant) {
            return Err(Error::integrity(format!("the server listed an item of tenant {:?}", other.tenant)));
        }
        Ok(items)
    }

    /// The envelope of an item, to read as the server streams it. A body the server (or the
    /// network) cuts short fails the read as an integrity failure naming the item: what was
    /// read of it is not the item, whatever the cause.
    pub fn envelope(&self, tenant: &str, item: &str) -> Result<impl Read + use<>, Error> {
        let url = self.url(tenant, Some(item))?;
        match super::remote_download::get_streamed(&self.streams, &self.token, url)? {
            Started::Body(body) => Ok(CutShort { body, item: item.to_owned(), read: 0 }),
            Started::Answered(Ok((status, answer))) => Err(refusal(status, &answer)),
            Started::Answered(Err(e)) => Err(transport(&self.base, e)),
        }
    }

    /// Writes the envelope of an item to `out`, as the server streams it.
    pub fn get_raw(&self, tenant: &str, item: &str, out: &mut dyn Write) -> Result<(), Error> {
        let mut envelope = self.envelope(tenant, item)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match envelope.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::uncarried(e).unwrap_or_else(|e| Error::other(e.to_string()))),
            };
            out.write_all(&buf[..n]).map_err(Error::output)?;
        }
        out.flush().map_err(Error::output)
    }

    /// Stores an envelope read from `input` as item `item`, streamed.
    pub fn put_raw(
        &self,
        tenant: &str,
        item: &str,
        input: Box<dyn Read + Send>,
        replace: Replace,
    ) -> Result<ItemInfo, Error> {
        let mut url = self.url(tenant, Some(item))?;
        match replace {
            Replace::No => {}
            Replace::Any => {
                url.query_pairs_mut().append_pair("replace", "true");
            }
            Replace::IfHeader(hash) => {
                url.query_pairs_mut().append_pair("if_header", &lockbox::format::hex(&hash));
            }
        }
        let (status, answer) = super::remote_upload::put_streamed(&self.streams, &self.token, url, input)?
            .map_err(|e| transport(&self.base, e))?;
        if !status.is_success() {
            return Err(refusal(status, &answer));
        }
        decoded(&answer, 64 * 1024, "answer")
    }
}

impl Remote {
    /// Removes item `item`; what it was.
    pub fn remove(&self, tenant: &str, item: &str) -> Result<ItemInfo, Error> {
        let info: ItemInfo =
            json(self.send(self.client.delete(self.url(tenant, Some(item))?))?, 64 * 1024, "answer")?;
        if info.tenant != tenant || info.item != item {
            return Err(Error::integrity("the server answered for another item than the one removed"));
        }
        Ok(info)
    }

    /// Stores `items` (id and envelope, each at most 256 KiB, together at most 8 MiB) in one
    /// request; each one's outcome, in order.
    pub fn put_batch(
        &self,
        tenant: &str,
        items: &[(String, Vec<u8>)],
        replace: bool,
    ) -> Result<Vec<Result<ItemInfo, Error>>, Error> {
        use base64ct::{Base64, Encoding};
        let batch = PutBatch {
            replace,
            items: items
                .iter()
                .map(|(item, envelope)| BatchEnvelope {
                    item: item.clone(),
                    envelope: Base64::encode_string(envelope),
                })
                .collect(),
        };
        let url = self.api(&["v1", "tenants", tenant, "batches", "put"])?;
        let answer: Vec<PutOutcome> =
            json(self.send(self.client.post(url).json(&batch))?, 16 << 20, "answer")?;
        outcomes(items.iter().map(|(item, _)| item.as_str()), answer, |o| {
            (o.item, o.stored.ok_or(o.error)).into()
        })
        .map(|all| {
            all.into_iter()
                .map(|r| {
                    r.and_then(|info: ItemInfo| match info.tenant == tenant {
                        true => Ok(info),
                        false => Err(Error::integrity("the server answered for another tenant")),
                    })
                })
                .collect()
        })
    }

    /// The envelopes of `items` (each at most 256 KiB, together at most 8 MiB), read in one
    /// request; each one's, or why not, in order.
    pub fn get_batch(&self, tenant: &str, items: &[String]) -> Result<Vec<Result<Vec<u8>, Error>>, Error> {
        use base64ct::{Base64, Encoding};
        let url = self.api(&["v1", "tenants", tenant, "batches", "get"])?;
        let batch = GetBatch { items: items.to_vec() };
        let answer: Vec<GetOutcome> =
            json(self.send(self.client.post(url).json(&batch))?, 16 << 20, "answer")?;
        let all = outcomes(items.iter().map(String::as_str), answer, |o| {
            (o.item, o.envelope.ok_or(o.error)).into()
        })?;
        Ok(all
            .into_iter()
            .zip(items)
            .map(|(r, item)| {
                r.map_err(|e| withheld(item, e)).and_then(|text: String| {
                    Base64::decode_vec(&text)
                        .map_err(|_| Error::integrity("the server sent an envelope that is not base64"))
                })
            })
            .collect())
    }
}

/// The server's refusal to give an item it listed, as this client counts it: whatever kind the
/// server names (it could name "access denied" to pass a withheld item off as one the reader's
/// keys do not open), the item was withheld; only a failure to reach the server stays what it
/// is.
pub fn withheld(item: &str, e: Error) -> Error {
    match e.kind {
        ErrorKind::Other => e,
        _ => Error::integrity(format!("the server did not give item {item:?}: {}", e.message)),
    }
}

/// An envelope's body as the server streams it: a failure part-way is the server's (or the
/// network's) cutting it short, said as an integrity failure of that item.
struct CutShort {
    body: Download,
    item: String,
    read: u64,
}

impl Read for CutShort {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.body.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) => Err(Error::integrity(format!(
                "the server cut the envelope of item {:?} short after {} bytes ({e}). The item may be damaged where the server keeps it, or the server or the network stopped: try again, and if it fails the same way ask the operator to verify the vault",
                self.item, self.read
            ))
            .carried()),
        }
    }
}

/// One answer of a batch: the item it names, and its value or the server's error.
struct Outcome<T> {
    item: String,
    value: Result<T, Option<FailureBody>>,
}

impl<T> From<(String, Result<T, Option<FailureBody>>)> for Outcome<T> {
    fn from((item, value): (String, Result<T, Option<FailureBody>>)) -> Outcome<T> {
        Outcome { item, value }
    }
}

/// A batch's answers checked against what was asked (one each, in order), as results.
fn outcomes<'a, A, T>(
    asked: impl ExactSizeIterator<Item = &'a str>,
    answer: Vec<A>,
    split: impl Fn(A) -> Outcome<T>,
) -> Result<Vec<Result<T, Error>>, Error> {
    if answer.len() != asked.len() {
        return Err(Error::integrity(format!(
            "the server answered {} outcomes for a batch of {}",
            answer.len(),
            asked.len()
        )));
    }
    asked
        .zip(answer)
        .map(|(asked, a)| {
            let o = split(a);
            if o.item != asked {
                return Err(Error::integrity("the server answered a batch out of order"));
            }
            Ok(o.value.map_err(|f| match f {
                Some(f) => failure(f),
                None => Error::integrity("the server answered an item with neither a result nor an error"),
            }))
        })
        .collect()
}

/// The error a server's refusal (`status`, with `answer` as its body) stands for: the failure
/// it names, or its status alone.
fn refusal(status: reqwest::StatusCode, answer: &[u8]) -> Error {
    match decoded::<Failure>(answer, 64 * 1024, "error") {
        Ok(f) => failure(f.error),
        Err(_) => Error::other(format!("the server answered {status}")),
    }
}

/// A failure the server reported, as the vault's error.
fn failure(f: FailureBody) -> Error {
    let kind = KINDS.into_iter().find(|k| k.name() == f.kind).unwrap_or(ErrorKind::Other);
    // The server's words, shown as text: no terminal control, bounded.
    let message: String =
        f.message.chars().take(MAX_MESSAGE).map(|c| if c.is_control() { '?' } else { c }).collect();
    Error::new(kind, message)
}

/// Whether a transport failure may pass if tried again: a timeout, or a connection refused,
/// reset, aborted or cut short, an upload cut off. Never a TLS failure (a certificate, a protocol error: what
/// someone in the path causes) and never a name that does not resolve.
fn passing(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind as Io;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // A body cut off while sent: the server closed the connection (refusing an upload early
    // does), as our own input failing is reported before this.
    let mut passing = e.is_timeout() || e.is_body();
    while let Some(c) = cause {
        let io = c.downcast_ref::<std::io::Error>();
        if c.is::<rustls::Error>() || io.and_then(|i| i.get_ref()).is_some_and(|i| i.is::<rustls::Error>()) {
            return false;
        }
        passing |= io.is_some_and(|i| {
            matches!(
                i.kind(),
                Io::ConnectionRefused
                    | Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::BrokenPipe
                    | Io::UnexpectedEof
                    | Io::TimedOut
            )
        });
        passing |= c
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_incomplete_message() || h.is_closed() || h.is_canceled());
        cause = c.source();
    }
    passing
}

/// A failure to reach the server, or to trust it.
fn transport(base: &reqwest::Url, e: reqwest::Error) -> Error {
    let text = causes(&e);
    if text.contains("not pinned") {
        return Error::integrity(format!(
            "the server at {base} is not the one pinned (its certificate's pin is not in --server-pin): nothing was sent. {text}"
        ));
    }
    if passing(&e) {
        // Down, restarting, or the connection cut (a server refusing an upload early closes
        // it): another try may pass, as with a busy server.
        return Error::new(
            ErrorKind::InUse,
            format!(
                "cannot reach the server at {base} now ({text}); try again (a change cut off while it was sent may have been saved: look before repeating it)"
            ),
        );
    }
    Error::other(format!("cannot reach the server at {base}: {text}"))
}

/// A read-only copy of what the server shows of the token's tenant, for a vault handle
/// ([`lockbox::vault::Vault::mirror`]) that runs every command's checks here; its commits go
/// to the server, and the copy is read again after each.
pub struct Mirror {
    remote: Remote,
    tenant: String,
    store: std::sync::Arc<lockbox::store::MemoryStore>,
    /// What the copy holds: the audit chain from this position (`None`: no entries), and
    /// whether the items' records.
    holds: std::sync::Mutex<(Option<u64>, bool)>,
}

impl Mirror {
    /// A vault handle on the server's view of the tenant the token is for, acting as the
    /// server names the token's principal; its audit chain from `audit_from` on.
    pub fn open(remote: Remote, audit_from: Option<u64>) -> Result<(lockbox::vault::Vault, WhoAmI), Error> {
        let who = remote.whoami()?;
        let rows = remote.state(&who.tenant, audit_from, false)?;
        let store = std::sync::Arc::new(lockbox::store::MemoryStore::mirror(rows));
        let place = remote.place().to_owned();
        let mirror = Mirror {
            remote,
            tenant: who.tenant.clone(),
            store: store.clone(),
            holds: std::sync::Mutex::new((audit_from, false)),
        };
        let vault = lockbox::vault::Vault::mirror(store, &place, std::sync::Arc::new(mirror))?;
        if lockbox::format::hex(&vault.id()) != who.vault {
            return Err(Error::integrity("the server's state names another vault than the server does"));
        }
        Ok((vault.acting_as(lockbox::vault::Caller::new(&who.actor)), who))
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, (Option<u64>, bool)> {
        self.holds.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reload(&self, audit_from: Option<u64>, items: bool) -> Result<(), Error> {
        let rows = self.remote.state(&self.tenant, audit_from, items)?;
        self.store.reload(rows);
        *self.holds() = (audit_from, items);
        Ok(())
    }
}

impl lockbox::vault::Upstream for Mirror {
    fn commit(&self, tenant: &str, op: Op, body: serde_json::Value) -> Result<serde_json::Value, Error> {
        let answer = self.remote.commit(tenant, op, body)?;
        let (audit_from, items) = *self.holds();
        self.reload(audit_from, items)?;
        Ok(answer)
    }

    fn widen(&self, tenant: &str, audit_from: u64, items: bool) -> Result<(), Error> {
        if tenant != self.tenant {
            return Err(Error::denied(format!(
                "access denied: the server's token is for tenant {:?}, not {tenant:?}",
                self.tenant
            )));
        }
        let (held_from, held_items) = *self.holds();
        let from = held_from.map_or(audit_from, |held| held.min(audit_from));
        if held_from.is_some_and(|held| held <= audit_from) && (held_items || !items) {
            return Ok(());
        }
        self.reload(Some(from), items || held_items)
    }

    fn tenant(&self) -> String {
        self.tenant.clone()
    }
}
