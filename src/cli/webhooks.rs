//! `lockbox webhook`: the server's notices of a tenant's requests and grants, set up by its
//! administrator against the server's vault.

use lockbox::lockbox::{DeliveryInfo, WebhookInfo, Workflow};
use lockbox::vault::Error;
use serde_json::json;

use super::args::WebhookCmd;
use super::context::Ctx;
use super::output::{outln, table, time};

pub fn webhook(ctx: &Ctx, cmd: WebhookCmd) -> Result<(), Error> {
    let vault = ctx.open()?;
    let flow = Workflow::new(&vault);
    match cmd {
        WebhookCmd::Add { tenant, url } => {
            let (info, secret) = flow.add_webhook(&tenant, &url)?;
            let mut j = hook_json(&info);
            j["secret"] = json!(secret.expose());
            // The secret on standard output, once, for the receiver; the rest on stderr.
            ctx.emit(j, || {
                outln!("{}", secret.expose());
                eprintln!(
                    "lockbox: webhook {} sends tenant {}'s notices to {}; the secret above signs them and is shown only now",
                    info.id, info.tenant, info.url
                );
            });
        }
        WebhookCmd::List { tenant } => {
            let hooks = flow.webhooks(tenant.as_deref())?;
            let rows: Vec<Vec<String>> = hooks
                .iter()
                .map(|h| vec![h.id.clone(), h.tenant.clone(), h.url.clone(), time(h.created)])
                .collect();
            ctx.emit(json!(hooks.iter().map(hook_json).collect::<Vec<_>>()), || {
                table(&["WEBHOOK", "TENANT", "URL", "ADDED"], &rows)
            });
        }
        WebhookCmd::Remove { id } => {
            let info = flow.remove_webhook(&id)?;
            ctx.emit(hook_json(&info), || outln!("removed webhook {}", info.id));
        }
        WebhookCmd::Rotate { id } => {
            let (info, secret) = flow.rotate_webhook(&id)?;
            let mut j = hook_json(&info);
            j["secret"] = json!(secret.expose());
            ctx.emit(j, || {
                outln!("{}", secret.expose());
                eprintln!(
                    "lockbox: webhook {} has a new secret (above, shown only now); the old one also signs until {}",
                    info.id,
                    info.previous_until.map(time).unwrap_or_default()
                );
            });
        }
        WebhookCmd::Deliveries { tenant } => {
            let all = flow.deliveries(tenant.as_deref())?;
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.webhook.clone(),
                        d.kind.clone(),
                        d.state.clone(),
                        d.attempts.to_string(),
                        d.last_outcome.clone(),
                        time(d.created),
                    ]
                })
                .collect();
            ctx.emit(json!(all.iter().map(delivery_json).collect::<Vec<_>>()), || {
                table(&["NOTICE", "WEBHOOK", "EVENT", "STATE", "ATTEMPTS", "LAST OUTCOME", "QUEUED"], &rows)
            });
        }
    }
    Ok(())
}

fn hook_json(h: &WebhookInfo) -> serde_json::Value {
    json!({"id": h.id, "tenant": h.tenant, "url": h.url, "created": time(h.created),
           "previous_secret_until": h.previous_until.map(time)})
}

fn delivery_json(d: &DeliveryInfo) -> serde_json::Value {
    json!({"id": d.id, "webhook": d.webhook, "event": d.kind, "state": d.state, "attempts": d.attempts,
           "next_attempt": d.next_attempt.map(time), "last_outcome": d.last_outcome, "queued": time(d.created)})
}
