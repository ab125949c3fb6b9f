//! API tokens of the server: who may call it, in which role, on which tenant.
//!
//! A token is `lbx_` + 16 hex digits of id + `_` + 43 characters of base64url (256 random
//! bits). The vault keeps only its id and the SHA-256 of the whole string; a presented token
//! is found by its id and its hash compared in constant time. What a token lets in is the
//! operator's own claim (the operator makes them): customer actions stay attributed by their
//! signatures, never by a token (docs/DESIGN.md).

use base64ct::{Base64UrlUnpadded, Encoding};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Error, Vault, valid_name};
use crate::crypto::{random_array, sha256};
use crate::format::hex;
use crate::store::records::TokenRecord;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Stores items of its tenant.
    Writer,
    /// The customer: approves, rotates, checkpoints (with the keyring, on their machine).
    Customer,
    /// An engineer: files requests, reads what grants release.
    Engineer,
    /// The audit monitor: reads the log, stores checkpoints.
    Monitor,
    /// Reads the tenant's log and metadata, changes nothing.
    Auditor,
}

impl Role {
    /// Every role, in code order.
    pub const ALL: [Role; 5] = [Role::Writer, Role::Customer, Role::Engineer, Role::Monitor, Role::Auditor];

    /// Its name, as the command line and the server take it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Customer => "customer",
            Role::Engineer => "engineer",
            Role::Monitor => "monitor",
            Role::Auditor => "auditor",
        }
    }

    /// The role named `name`.
    pub fn named(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    fn code(self) -> u8 {
        match self {
            Role::Writer => 1,
            Role::Customer => 2,
            Role::Engineer => 3,
            Role::Monitor => 4,
            Role::Auditor => 5,
        }
    }

    fn of_code(code: u8) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The longest a token may live: a year.
pub const MAX_TOKEN_SECS: u64 = 366 * 24 * 3600;
/// How long a token lives unless asked otherwise: 30 days.
pub const DEFAULT_TOKEN_SECS: u64 = 30 * 24 * 3600;

const PREFIX: &str = "lbx_";
const SECRET_LEN: usize = 32;
/// `lbx_` + 16 hex + `_` + 43 base64url.
const TOKEN_LEN: usize = PREFIX.len() + 16 + 1 + 43;

/// A token as made, to be shown once: never printed by `Debug`.
pub struct Token(Zeroizing<String>);

impl Token {
    /// The token string, for the one place it is shown.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its id (16 hex digits), the token's public part.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Its tenant.
    pub tenant: String,
    /// The engineer it stands for (engineer tokens).
    pub engineer: Option<String>,
    /// When it was made.
    pub created: u64,
    /// When it stops working.
    pub expires: u64,
    /// When it was revoked.
    pub revoked: Option<u64>,
}

/// Who a presented token lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id.
    pub token: String,
    /// Its role.
    pub role: Role,
    /// The tenant it may act on.
    pub tenant: String,
    /// The engineer it stands for.
    pub engineer: Option<String>,
}

impl Principal {
    /// What the audit log names as the actor: the token's role and id, and the engineer.
    pub fn actor(&self) -> String {
        match &self.engineer {
            Some(e) => format!("{} {} ({})", self.role.name(), self.token, e),
            None => format!("{} {}", self.role.name(), self.token),
        }
    }
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its role.
    pub role: Role,
    /// Its tenant.
    pub tenant: String,
    /// The engineer it stands for: required for an engineer token, refused for any other.
    pub engineer: Option<String>,
    /// How long it lives, in seconds (1 to [`MAX_TOKEN_SECS`]).
    pub lifetime_secs: u64,
    /// A customer token for a tenant not made yet: its holder creates the tenant from their
    /// own machine (the keys never on the server's), and the token then stands for that
    /// tenant. Refused for any other role, and for a tenant that exists.
    pub new_tenant: bool,
}

/// The tenant signing key a token made for a tenant not created yet records: a tenant's own
/// is never all zeros ([`Vault::commit_tenant`] refuses it), so it names no tenant until the
/// creation binds it.
const UNBOUND: [u8; 32] = [0; 32];

/// In the transaction that creates `tenant` with signing key `signer`: the token `id` (hex),
/// made for that tenant before it existed, stands for it from now on. Any other token made so
/// stays unbound, and is refused from now on (the tenant exists).
pub(crate) fn bind_new_tenant_token(
    tx: &dyn crate::store::Writes,
    id: &str,
    tenant: &str,
    signer: &[u8; 32],
) -> Result<(), Error> {
    let refused =
        || Error::denied(format!("access denied: token {id} was not made to create tenant {tenant:?}"));
    let id = parse_id(id).ok_or_else(refused)?;
    match tx.token(&id)? {
        Some(mut token) if token.tenant == tenant && token.signer == UNBOUND => {
            token.signer = *signer;
            tx.put_token(&token)?;
            Ok(())
        }
        _ => Err(refused()),
    }
}

fn info(r: &TokenRecord) -> Result<TokenInfo, Error> {
    let role = Role::of_code(r.role).ok_or_else(|| {
        Error::integrity(format!("token {} has an unknown role code {}", hex(&r.id), r.role))
    })?;
    Ok(TokenInfo {
        id: hex(&r.id),
        role,
        tenant: r.tenant.clone(),
        engineer: (!r.engineer.is_empty()).then(|| r.engineer.clone()),
        created: r.created,
        expires: r.expires,
        revoked: (r.revoked != 0).then_some(r.revoked),
    })
}

/// The one answer to a token that does not let anyone in, whatever the reason before its
/// secret was checked: a caller learns nothing about which ids exist.
fn not_valid() -> Error {
    Error::denied("access denied: the token is not valid")
}

fn parse_id(id: &str) -> Option<[u8; 8]> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; 8];
    for (i, pair) in id.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

impl Vault {
    /// Makes a token: stores its id and hash, returns it once.
    pub fn create_token(&self, new: &NewToken) -> Result<(TokenInfo, Token), Error> {
        valid_name("tenant", &new.tenant)?;
        if !(1..=MAX_TOKEN_SECS).contains(&new.lifetime_secs) {
            return Err(Error::usage(format!(
                "a token lives from 1 second to {} (asked: {})",
                crate::format::duration(MAX_TOKEN_SECS),
                crate::format::duration(new.lifetime_secs)
            )));
        }
        if new.new_tenant && new.role != Role::Customer {
            return Err(Error::usage("only a customer token is made for a tenant not created yet"));
        }
        match (new.role, &new.engineer) {
            (Role::Engineer, None) => return Err(Error::usage("an engineer token names its engineer")),
            (Role::Engineer, Some(name)) => valid_name("engineer", name)?,
            (_, Some(_)) => return Err(Error::usage("only an engineer token names an engineer")),
            (_, None) => {}
        }
        let id: [u8; 8] = random_array()?;
        let secret: Zeroizing<[u8; SECRET_LEN]> = Zeroizing::new(random_array()?);
        let mut text = Zeroizing::new(String::with_capacity(TOKEN_LEN));
        text.push_str(PREFIX);
        text.push_str(&hex(&id));
        text.push('_');
        let encoded = Zeroizing::new(Base64UrlUnpadded::encode_string(&secret[..]));
        text.push_str(&encoded);
        debug_assert_eq!(text.len(), TOKEN_LEN);
        let now = self.now();
        self.write(|tx| {
            let signer = match (tx.tenant(&new.tenant)?, new.new_tenant) {
                (Some(tenant), false) => tenant.signer,
                (None, true) => UNBOUND,
                (None, false) => return Err(super::no_tenant(&new.tenant)),
                (Some(_), true) => {
                    return Err(Error::conflict(format!(
                        "tenant {:?} exists already: a token for a tenant not created yet is for a new one",
                        new.tenant
                    )));
                }
            };
            let record = TokenRecord {
                id,
                hash: sha256(text.as_bytes()),
                role: new.role.code(),
                tenant: new.tenant.clone(),
                signer,
                engineer: new.engineer.clone().unwrap_or_default(),
                created: now,
                expires: now.saturating_add(new.lifetime_secs),
                revoked: 0,
            };
            tx.put_token(&record)?;
            Ok((info(&record)?, Token(text.clone())))
        })
    }

    /// Every token, by id (expired and revoked ones too).
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        let mut out = Vec::new();
        self.store().begin_read()?.for_each_token(&mut |_, record| {
            out.push(info(&record?));
            Ok(true)
        })?;
        out.into_iter().collect()
    }

    /// Revokes, in `tx`, every live token that stands for engineer `name` (the engineer is
    /// being removed: a token of theirs must not enroll a new key under their name).
    pub(crate) fn revoke_engineer_tokens(
        &self,
        tx: &dyn crate::store::Writes,
        name: &str,
    ) -> Result<(), Error> {
        let mut theirs = Vec::new();
        tx.for_each_token(&mut |_, record| {
            let record = record?;
            if record.engineer == name && record.revoked == 0 {
                theirs.push(record);
            }
            Ok(true)
        })?;
        for mut record in theirs {
            record.revoked = self.now().max(1);
            tx.put_token(&record)?;
        }
        Ok(())
    }

    /// Revokes the token with id `id` (16 hex digits): it lets nobody in from now on.
    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo, Error> {
        let raw =
            parse_id(id).ok_or_else(|| Error::usage(format!("{id:?} is not a token id (16 hex digits)")))?;
        self.write(|tx| {
            let mut record = tx.token(&raw)?.ok_or_else(|| Error::not_found(format!("no token {id}")))?;
            if record.revoked != 0 {
                return Err(Error::conflict(format!("token {id} was already revoked")));
            }
            record.revoked = self.now().max(1);
            tx.put_token(&record)?;
            info(&record)
        })
    }

    /// Who `presented` lets in: its record found by id, the hash of the whole string
    /// compared in constant time; then refused if revoked or expired (the caller has shown
    /// the secret by then, so the reason may be told).
    pub fn authenticate(&self, presented: &str) -> Result<Principal, Error> {
        let shaped = presented.len() == TOKEN_LEN
            && presented.starts_with(PREFIX)
            && presented.as_bytes()[PREFIX.len() + 16] == b'_';
        let id = shaped.then(|| parse_id(&presented[PREFIX.len()..PREFIX.len() + 16])).flatten();
        let snapshot = self.store().begin_read()?;
        let record = match id {
            Some(id) => snapshot.token(&id)?,
            None => None,
        };
        let hash = sha256(presented.as_bytes());
        // A missing record is compared against zeros all the same.
        let stored = record.as_ref().map_or([0u8; 32], |r| r.hash);
        let matches = bool::from(hash.ct_eq(&stored));
        let Some(record) = record.filter(|_| matches) else { return Err(not_valid()) };
        let info = info(&record)?;
        if let Some(when) = info.revoked {
            return Err(Error::denied(format!(
                "access denied: token {} was revoked at {}",
                info.id,
                crate::format::rfc3339(when)
            )));
        }
        if self.now() >= info.expires {
            return Err(Error::denied(format!(
                "access denied: token {} expired at {}",
                info.id,
                crate::format::rfc3339(info.expires)
            )));
        }
        // What it was made for must still be there: the same tenant (not one made again under
        // its name), and the engineer still enrolled; or, for a token made to create its
        // tenant, no such tenant yet.
        let fits = match snapshot.tenant(&info.tenant)? {
            Some(t) => t.signer == record.signer && record.signer != UNBOUND,
            None => record.signer == UNBOUND,
        };
        if !fits && record.signer == UNBOUND {
            return Err(Error::denied(format!(
                "access denied: token {} was made to create tenant {:?}, which exists now (made with another token, or by the administrator)",
                info.id, info.tenant
            )));
        }
        if !fits {
            return Err(Error::denied(format!(
                "access denied: token {} was made for a tenant {:?} that is no longer there",
                info.id, info.tenant
            )));
        }
        Ok(Principal { token: info.id, role: info.role, tenant: info.tenant, engineer: info.engineer })
    }
}
