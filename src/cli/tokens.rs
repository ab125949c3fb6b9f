//! `lockbox token`: the server's principals, made by its administrator.

use lockbox::vault::{Error, NewToken, Role, TokenInfo};
use serde_json::json;

use super::args::TokenCmd;
use super::context::Ctx;
use super::output::{duration, outln, time};

pub fn token(ctx: &Ctx, cmd: TokenCmd) -> Result<(), Error> {
    let vault = ctx.open()?;
    match cmd {
        TokenCmd::Create { role, tenant, engineer, expires, new_tenant } => {
            let role = Role::named(&role).ok_or_else(|| Error::usage(format!("no role {role:?}")))?;
            let new = NewToken { role, tenant, engineer, lifetime_secs: expires, new_tenant };
            let (info, token) = vault.create_token(&new)?;
            // The token on standard output, once, for a pipe into a file; the rest on stderr.
            let mut json = token_json(&info);
            json["token"] = json!(token.expose());
            ctx.emit(json, || {
                outln!("{}", token.expose());
                eprintln!(
                    "lockbox: token {} ({} of tenant {}) works until {} ({}); it is shown only now: give it to its holder by a safe channel",
                    info.id,
                    info.role.name(),
                    info.tenant,
                    time(info.expires),
                    duration(info.expires.saturating_sub(info.created))
                );
            });
        }
        TokenCmd::List => {
            let tokens = vault.tokens()?;
            let now = vault.now();
            ctx.emit(json!(tokens.iter().map(token_json).collect::<Vec<_>>()), || {
                outln!(
                    "{:<16}  {:<8}  {:<16}  {:<12}  {:<20}  STATE",
                    "ID",
                    "ROLE",
                    "TENANT",
                    "ENGINEER",
                    "EXPIRES"
                );
                for t in &tokens {
                    outln!(
                        "{:<16}  {:<8}  {:<16}  {:<12}  {:<20}  {}",
                        t.id,
                        t.role.name(),
                        t.tenant,
                        t.engineer.as_deref().unwrap_or("-"),
                        time(t.expires),
                        state(t, now)
                    );
                }
            });
        }
        TokenCmd::Revoke { id } => {
            let info = vault.revoke_token(&id)?;
            ctx.emit(token_json(&info), || outln!("revoked token {}", info.id));
        }
    }
    Ok(())
}

fn state(t: &TokenInfo, now: u64) -> &'static str {
    match t.revoked {
        Some(_) => "revoked",
        None if now >= t.expires => "expired",
        None => "active",
    }
}

fn token_json(t: &TokenInfo) -> serde_json::Value {
    json!({"id": t.id, "role": t.role.name(), "tenant": t.tenant, "engineer": t.engineer,
           "created": t.created, "expires": t.expires, "revoked": t.revoked})
}
