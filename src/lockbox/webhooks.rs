//! Webhooks: notices of a tenant's requests and grants, for the server to POST to the tenant's
//! endpoints (docs/DESIGN.md, "Webhooks"). Notices are made from the audit log, so a change made
//! through the server and one made against the vault file are noticed alike; each is queued
//! once per endpoint in the vault, with an id that stays the same on every retry, and signed as
//! Standard Webhooks sign (HMAC-SHA-256 over `id.timestamp.body`). Bodies carry kinds and ids
//! only: never an item's content, a key, a reason or any other free text.
//!
//! A notice is the operator's claim, signed with the operator's secret: it can be late, or
//! never sent. The customer's proof stays the audit chain under its checkpoints.

use std::collections::BTreeMap;

use base64ct::{Base64, Encoding};
use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

use super::{RequestStatus, Workflow, id_hex};
use crate::format::{AuditEvent, hex, rfc3339};
use crate::store::codec;
use crate::store::raw::{WEBHOOK_CURSOR, delivery_key, webhook_key};
use crate::store::records::{AuditEntry, DeliveryRecord, GrantRecord, WebhookRecord};
use crate::vault::{Error, no_tenant, valid_name};

/// How long a rotated-out secret still signs (so receivers can move to the new one).
pub const ROTATION_OVERLAP_SECS: u64 = 24 * 3600;
/// Attempts before a notice is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// The longest an endpoint URL may be.
pub const MAX_URL_LEN: usize = 2048;
/// Audit entries turned into notices per step.
const ENTRIES_PER_STEP: usize = 1000;

/// A webhook's secret, shown once: `whsec_` and the base64 of its 32 bytes (the Standard
/// Webhooks form). Never in Debug.
pub struct WebhookSecret(Zeroizing<String>);

impl WebhookSecret {
    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A webhook as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookInfo {
    /// Its id (16 hex digits).
    pub id: String,
    /// The tenant whose events it receives.
    pub tenant: String,
    /// Where notices go.
    pub url: String,
    /// When it was added.
    pub created: u64,
    /// Until when the previous secret also signs, if it was rotated lately.
    pub previous_until: Option<u64>,
}

fn info(r: &WebhookRecord) -> WebhookInfo {
    WebhookInfo {
        id: hex(&r.id),
        tenant: r.tenant.clone(),
        url: r.url.clone(),
        created: r.created,
        previous_until: (r.previous_until != 0).then_some(r.previous_until),
    }
}

fn secret_text(bytes: &[u8]) -> WebhookSecret {
    let mut text = Zeroizing::new(String::from("whsec_"));
    text.push_str(&Zeroizing::new(Base64::encode_string(bytes)));
    WebhookSecret(text)
}

/// Checks what an endpoint URL must be here: http(s), a host, no credentials, no fragment,
/// bounded. Where it may point (no private address) the sender checks on every delivery.
pub fn check_url(url: &str) -> Result<(), Error> {
    if url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::usage(format!(
            "a webhook URL is at most {MAX_URL_LEN} characters, without spaces"
        )));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::usage(format!("{url:?} is not a URL (https://host/path)")))?;
    if scheme != "https" && scheme != "http" {
        return Err(Error::usage(format!(
            "a webhook URL is https (or http to an allowed host), not {scheme}"
        )));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || url.contains('#') {
        return Err(Error::usage(format!(
            "{url:?}: a webhook URL names a host, and no user, password or fragment"
        )));
    }
    Ok(())
}

/// The id of a webhook, from its hex.
fn parse_webhook_id(id: &str) -> Result<[u8; 8], Error> {
    crate::format::hex_array::<8>("webhook id", id).map_err(|e| Error::usage(e.to_string()))
}

/// The Standard Webhooks signature header of `body` sent as notice `id` at `timestamp`: one
/// `v1,<base64 HMAC-SHA-256>` per secret that signs (two while a rotation overlaps).
pub fn signature(secrets: &[&[u8]], id: &str, timestamp: u64, body: &str) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|secret| {
            // HMAC takes a key of any length.
            let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!());
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            format!("v1,{}", Base64::encode_string(&mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A notice due for delivery: where, what, and the secrets that sign it now.
pub struct Due {
    /// The webhook.
    pub webhook: [u8; 8],
    /// Its URL.
    pub url: String,
    /// The notice's id (the `webhook-id` header).
    pub id: String,
    /// The body.
    pub body: String,
    /// The `webhook-signature` header for `timestamp`.
    secrets: Vec<Zeroizing<Vec<u8>>>,
    /// The notice's raw id.
    raw: [u8; 16],
}

impl Due {
    /// The signature header for sending it at `timestamp`.
    pub fn signature(&self, timestamp: u64) -> String {
        let secrets: Vec<&[u8]> = self.secrets.iter().map(|s| s.as_slice()).collect();
        signature(&secrets, &self.id, timestamp, &self.body)
    }
}

impl std::fmt::Debug for Due {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Due").field("id", &self.id).field("url", &self.url).finish_non_exhaustive()
    }
}

/// A delivery as `webhook deliveries` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryInfo {
    /// The notice's id.
    pub id: String,
    /// The webhook.
    pub webhook: String,
    /// The event type.
    pub kind: String,
    /// When it was queued.
    pub created: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// `delivered`, `pending` (with its next attempt) or `failed` (given up).
    pub state: String,
    /// When the next attempt is due, if one is.
    pub next_attempt: Option<u64>,
    /// The last attempt's outcome.
    pub last_outcome: String,
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, Error> {
    Ok(codec::decode(what, bytes)?)
}

impl Workflow<'_> {
    /// Adds an endpoint for `tenant`'s notices; its secret, shown once.
    pub fn add_webhook(&self, tenant: &str, url: &str) -> Result<(WebhookInfo, WebhookSecret), Error> {
        valid_name("tenant", tenant)?;
        check_url(url)?;
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(crate::crypto::random_array()?);
        let record = WebhookRecord {
            id: crate::crypto::random_array()?,
            tenant: tenant.to_owned(),
            url: url.to_owned(),
            secret: secret.to_vec(),
            previous: Vec::new(),
            previous_until: 0,
            created: self.vault.now(),
        };
        self.vault.write(|tx| {
            tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            // Notices start from now: the log so far is history, not news.
            if tx.meta_rows(WEBHOOK_CURSOR)?.is_empty() {
                let last = tx.last_audit()?.map_or(0, |e| e.seq);
                tx.put_meta(WEBHOOK_CURSOR, &last.to_be_bytes())?;
            }
            tx.put_meta(&webhook_key(&record.id), &codec::encode("webhook record", &record)?)?;
            let shown = secret_text(&record.secret);
            Ok((info(&record), shown))
        })
    }

    fn webhook_records(&self) -> Result<Vec<WebhookRecord>, Error> {
        let rows = self.vault.store().begin_read()?.meta_rows(b"webhook\0")?;
        rows.iter().map(|(_, v)| decode("webhook record", v)).collect()
    }

    /// Every webhook (of `tenant`, if given).
    pub fn webhooks(&self, tenant: Option<&str>) -> Result<Vec<WebhookInfo>, Error> {
        Ok(self
            .webhook_records()?
            .iter()
            .filter(|w| tenant.is_none_or(|t| w.tenant == t))
            .map(info)
            .collect())
    }

    /// Removes webhook `id` and its delivery log.
    pub fn remove_webhook(&self, id: &str) -> Result<WebhookInfo, Error> {
        self.vault.write(|tx| {
            let record = webhook_in(tx, id)?;
            remove_with_deliveries(tx, &record.id)?;
            Ok(info(&record))
        })
    }

    /// A new secret for webhook `id`, shown once; the old one also signs for
    /// [`ROTATION_OVERLAP_SECS`].
    pub fn rotate_webhook(&self, id: &str) -> Result<(WebhookInfo, WebhookSecret), Error> {
        self.vault.write(|tx| {
            let mut record = webhook_in(tx, id)?;
            let secret: Zeroizing<[u8; 32]> = Zeroizing::new(crate::crypto::random_array()?);
            record.previous = std::mem::replace(&mut record.secret, secret.to_vec());
            record.previous_until = self.vault.now().saturating_add(ROTATION_OVERLAP_SECS);
            tx.put_meta(&webhook_key(&record.id), &codec::encode("webhook record", &record)?)?;
            let shown = secret_text(&record.secret);
            Ok((info(&record), shown))
        })
    }

    /// The delivery log (of `tenant`'s webhooks, if given), oldest first.
    pub fn deliveries(&self, tenant: Option<&str>) -> Result<Vec<DeliveryInfo>, Error> {
        let hooks: BTreeMap<[u8; 8], WebhookRecord> =
            self.webhook_records()?.into_iter().map(|w| (w.id, w)).collect();
        let rows = self.vault.store().begin_read()?.meta_rows(b"delivery\0")?;
        let mut out = Vec::new();
        for (_, value) in rows {
            let d: DeliveryRecord = decode("delivery record", &value)?;
            if tenant.is_some_and(|t| hooks.get(&d.webhook).is_none_or(|w| w.tenant != t)) {
                continue;
            }
            let state = match (d.delivered, d.next_attempt) {
                (0, 0) => "failed",
                (0, _) => "pending",
                _ => "delivered",
            };
            out.push(DeliveryInfo {
                id: crate::format::hex(&d.id),
                webhook: hex(&d.webhook),
                kind: d.kind,
                created: d.created,
                attempts: d.attempts,
                state: state.to_owned(),
                next_attempt: (d.next_attempt != 0).then_some(d.next_attempt),
                last_outcome: d.last_outcome,
            });
        }
        out.sort_by_key(|d| d.created);
        Ok(out)
    }

    /// Turns what the audit log gained since the last step (and requests that expired
    /// undecided) into notices, queued once per endpoint of their tenant. Writes only if there
    /// is something to queue or the log moved on. Returns how many were queued.
    pub fn queue_notices(&self) -> Result<usize, Error> {
        let now = self.vault.now();
        let (hooks, cursor, entries, expired) = {
            let snapshot = self.vault.store().begin_read()?;
            let mut hooks: BTreeMap<String, Vec<WebhookRecord>> = BTreeMap::new();
            for (_, v) in snapshot.meta_rows(b"webhook\0")? {
                let w: WebhookRecord = decode("webhook record", &v)?;
                hooks.entry(w.tenant.clone()).or_default().push(w);
            }
            let cursor = match snapshot.meta_rows(WEBHOOK_CURSOR)?.first() {
                Some((_, v)) => u64::from_be_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| Error::integrity("the webhook cursor is not 8 bytes"))?,
                ),
                None => return Ok(0),
            };
            let mut entries = Vec::new();
            snapshot.for_each_audit_from(cursor.saturating_add(1), &mut |_, entry| {
                entries.push(entry?);
                Ok(entries.len() < ENTRIES_PER_STEP)
            })?;
            let mut expired = Vec::new();
            if !hooks.is_empty() {
                for r in snapshot.requests()? {
                    if hooks.contains_key(&r.tenant)
                        && RequestStatus::of(&r, None, now) == RequestStatus::Expired
                    {
                        expired.push(r);
                    }
                }
            }
            (hooks, cursor, entries, expired)
        };
        let grants: Vec<GrantRecord> = match entries.is_empty() || hooks.is_empty() {
            true => Vec::new(),
            false => self.vault.store().begin_read()?.grants()?,
        };
        let mut notices: Vec<(&WebhookRecord, String, String, String)> = Vec::new();
        for entry in &entries {
            let Some((kind, data)) = notice_of(entry, &grants) else { continue };
            for hook in hooks.get(&entry.tenant).into_iter().flatten() {
                notices.push((hook, kind.to_owned(), entry.seq.to_string(), body(kind, entry.time, &data)));
            }
        }
        for r in &expired {
            let data = serde_json::json!({"tenant": r.tenant, "request": id_hex(&r.id)});
            for hook in hooks.get(&r.tenant).into_iter().flatten() {
                let kind = "request.expired";
                notices.push((hook, kind.to_owned(), id_hex(&r.id), body(kind, r.expires, &data)));
            }
        }
        let last = entries.last().map_or(cursor, |e| e.seq);
        // Expired requests are noticed once: a notice already queued is not queued again.
        let fresh = {
            let snapshot = self.vault.store().begin_read()?;
            let mut fresh = Vec::new();
            for n in notices {
                let id = notice_id(&n.0.id, &n.1, &n.2);
                if snapshot.meta_rows(&delivery_key(&n.0.id, &id))?.is_empty() {
                    fresh.push((id, n));
                }
            }
            fresh
        };
        if fresh.is_empty() && last == cursor {
            return Ok(0);
        }
        self.vault.write(|tx| {
            // Another server on the same vault may have stepped meanwhile: the cursor only moves
            // forward, and a webhook removed meanwhile gets nothing.
            let stepped = match tx.meta_rows(WEBHOOK_CURSOR)?.first() {
                Some((_, v)) => v.as_slice().try_into().map(u64::from_be_bytes).unwrap_or(0),
                None => 0,
            };
            let mut queued = 0;
            for (id, (hook, kind, _, body)) in &fresh {
                let key = delivery_key(&hook.id, id);
                if !tx.meta_rows(&key)?.is_empty() || tx.meta_rows(&webhook_key(&hook.id))?.is_empty() {
                    continue;
                }
                let record = DeliveryRecord {
                    id: *id,
                    webhook: hook.id,
                    kind: kind.clone(),
                    body: body.clone(),
                    created: now,
                    attempts: 0,
                    next_attempt: now.max(1),
                    delivered: 0,
                    last_outcome: String::new(),
                };
                tx.put_meta(&key, &codec::encode("delivery record", &record)?)?;
                queued += 1;
            }
            tx.put_meta(WEBHOOK_CURSOR, &last.max(stepped).to_be_bytes())?;
            // Finished notices older than a week leave the log (an expired request's notice
            // stays while the request does, so it is not queued again).
            for (key, value) in tx.meta_rows(b"delivery\0")? {
                let d: DeliveryRecord = decode("delivery record", &value)?;
                if d.next_attempt == 0
                    && now.saturating_sub(d.created) > KEEP_SECS
                    && d.kind != "request.expired"
                {
                    tx.remove_meta(&key)?;
                }
            }
            Ok(queued)
        })
    }

    /// The notices due for an attempt now (at most `limit`).
    pub fn due_notices(&self, limit: usize) -> Result<Vec<Due>, Error> {
        let now = self.vault.now();
        let snapshot = self.vault.store().begin_read()?;
        let mut hooks: BTreeMap<[u8; 8], WebhookRecord> = BTreeMap::new();
        for (_, v) in snapshot.meta_rows(b"webhook\0")? {
            let w: WebhookRecord = decode("webhook record", &v)?;
            hooks.insert(w.id, w);
        }
        let mut due = Vec::new();
        for (_, v) in snapshot.meta_rows(b"delivery\0")? {
            let d: DeliveryRecord = decode("delivery record", &v)?;
            let Some(hook) = hooks.get(&d.webhook) else { continue };
            if d.next_attempt == 0 || d.next_attempt > now {
                continue;
            }
            let mut secrets = vec![Zeroizing::new(hook.secret.clone())];
            if hook.previous_until > now {
                secrets.push(Zeroizing::new(hook.previous.clone()));
            }
            due.push(Due {
                webhook: hook.id,
                url: hook.url.clone(),
                id: format!("msg_{}", hex(&d.id)),
                body: d.body,
                secrets,
                raw: d.id,
            });
            if due.len() >= limit {
                break;
            }
        }
        Ok(due)
    }

    /// Records an attempt at `due`: delivered, or failed with `outcome` (then retried after
    /// `backoff_secs` doubled for each attempt so far, at most an hour, until
    /// [`MAX_ATTEMPTS`]).
    pub fn attempted(
        &self,
        due: &Due,
        delivered: bool,
        outcome: &str,
        backoff_secs: u64,
    ) -> Result<(), Error> {
        let now = self.vault.now();
        let key = delivery_key(&due.webhook, &due.raw);
        self.vault.write(|tx| {
            // Removed meanwhile (with its webhook): nothing to record.
            let Some((_, value)) = tx.meta_rows(&key)?.into_iter().next() else { return Ok(()) };
            let mut d: DeliveryRecord = decode("delivery record", &value)?;
            d.attempts = d.attempts.saturating_add(1);
            d.last_outcome = outcome.chars().take(200).collect();
            if delivered {
                d.delivered = now.max(1);
                d.next_attempt = 0;
            } else if d.attempts >= MAX_ATTEMPTS {
                d.next_attempt = 0;
            } else {
                let wait = backoff_secs.saturating_mul(1 << (d.attempts - 1).min(20)).min(3600);
                d.next_attempt = now.saturating_add(wait.max(1));
            }
            tx.put_meta(&key, &codec::encode("delivery record", &d)?)?;
            Ok(())
        })
    }
}

/// Removes, in `tx`, the webhooks of `tenant` and their delivery logs (the tenant is being
/// deleted).
pub(crate) fn remove_tenant_webhooks(tx: &dyn crate::store::Writes, tenant: &str) -> Result<(), Error> {
    for (_, value) in tx.meta_rows(b"webhook\0")? {
        let hook: WebhookRecord = decode("webhook record", &value)?;
        if hook.tenant == tenant {
            remove_with_deliveries(tx, &hook.id)?;
        }
    }
    Ok(())
}

/// Webhook `id` (hex) as `tx` sees it.
fn webhook_in(tx: &dyn crate::store::Writes, id: &str) -> Result<WebhookRecord, Error> {
    let raw = parse_webhook_id(id)?;
    let (_, value) = tx
        .meta_rows(&webhook_key(&raw))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found(format!("no webhook {id}")))?;
    decode("webhook record", &value)
}

/// Removes webhook `id` and its delivery log, in `tx`.
fn remove_with_deliveries(tx: &dyn crate::store::Writes, id: &[u8; 8]) -> Result<(), Error> {
    tx.remove_meta(&webhook_key(id))?;
    for (key, _) in tx.meta_rows(&[&b"delivery\0"[..], id].concat())? {
        tx.remove_meta(&key)?;
    }
    Ok(())
}

/// Delivered or given-up notices kept in the log this long, then pruned.
const KEEP_SECS: u64 = 7 * 24 * 3600;

/// A notice's id: the same for the same event and endpoint, however often it is queued.
fn notice_id(webhook: &[u8; 8], kind: &str, subject: &str) -> [u8; 16] {
    let digest =
        crate::crypto::sha256(format!("lockbox notice\n{}\n{kind}\n{subject}", hex(webhook)).as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// The body of a notice: its type, when the event happened, and its ids.
fn body(kind: &str, time: u64, data: &serde_json::Value) -> String {
    serde_json::json!({"type": kind, "timestamp": rfc3339(time), "data": data}).to_string()
}

/// The engineer an entry's actor names: a server's engineer principal
/// (`engineer <token> (<name>)`) or a name.
fn engineer_of(actor: &str) -> &str {
    principal_engineer(actor).unwrap_or(actor)
}

/// The engineer a server's engineer principal (`engineer <token> (<name>)`) stands for.
fn principal_engineer(actor: &str) -> Option<&str> {
    actor.strip_prefix("engineer ")?.split_once(" (")?.1.strip_suffix(')')
}

/// The notice an audit entry makes, if any: its type and ids.
fn notice_of(entry: &AuditEntry, grants: &[GrantRecord]) -> Option<(&'static str, serde_json::Value)> {
    let (tenant, subject) = (&entry.tenant, &entry.subject);
    Some(match &entry.event {
        AuditEvent::RequestCreate { .. } => {
            ("request.created", serde_json::json!({"tenant": tenant, "request": subject}))
        }
        AuditEvent::RequestApprove { grant, engineer, .. } => (
            "request.approved",
            serde_json::json!({"tenant": tenant, "request": subject, "grant": id_hex(grant), "engineer": engineer}),
        ),
        AuditEvent::RequestDeny { .. } => {
            ("request.denied", serde_json::json!({"tenant": tenant, "request": subject}))
        }
        AuditEvent::GrantRevoke { engineer } => {
            ("grant.revoked", serde_json::json!({"tenant": tenant, "grant": subject, "engineer": engineer}))
        }
        AuditEvent::Get { .. } | AuditEvent::GetRaw => {
            // A read by an engineer, while a grant to them was active: the grant was used. A
            // decrypting read names its level and key epoch, and the grant must release them;
            // an envelope fetched through the server names neither, so only a server's
            // engineer principal counts, with any grant active then.
            let (engineer, released) = match &entry.event {
                AuditEvent::Get { level, key_epoch } => {
                    (engineer_of(&entry.actor), Some((level, *key_epoch)))
                }
                _ => (principal_engineer(&entry.actor)?, None),
            };
            // Active then, judged at the entry's time: a revocation since does not undo the use.
            let grant = grants.iter().find(|g| {
                g.tenant == *tenant
                    && g.engineer == engineer
                    && g.created <= entry.time
                    && entry.time < g.expires
                    && g.revoked.as_ref().is_none_or(|(at, _)| *at >= entry.time)
                    && released
                        .is_none_or(|(level, epoch)| g.levels.iter().any(|(l, e)| l == level && epoch <= *e))
            })?;
            (
                "grant.used",
                serde_json::json!({"tenant": tenant, "grant": id_hex(&grant.id), "engineer": engineer, "audit_seq": entry.seq}),
            )
        }
        _ => return None,
    })
}
