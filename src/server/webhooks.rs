//! The webhook sender: every second, turns new audit entries into queued notices (in the
//! vault, once per endpoint) and POSTs those due, signed, to their endpoints; retries with
//! exponential backoff. An endpoint must resolve to public addresses only (no loopback,
//! private, link-local, shared or reserved range), checked on every attempt after DNS and then
//! connected to at exactly the address checked; redirects are never followed (a 3xx is a failed
//! attempt). `--webhook-allow HOST:PORT` lifts the address check for the endpoints it names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use lockbox::lockbox::{Due, Workflow};
use lockbox::vault::{Error, Vault};

/// What the sender is told at start.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `host:port` pairs exempt from the address check (tests' loopback receivers).
    pub allow: Vec<String>,
    /// The first retry's wait, in seconds (doubled for each attempt after).
    pub backoff_secs: u64,
}

/// How long one delivery may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Notices sent per tick.
const PER_TICK: usize = 64;

/// Runs until the task is dropped.
pub async fn run(vault: Vault, settings: Settings) {
    let settings = Arc::new(settings);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let v = vault.clone();
        let due = tokio::task::spawn_blocking(move || {
            let flow = Workflow::new(&v);
            let queued = flow.queue_notices()?;
            if queued > 0 {
                tracing::info!(queued, "webhook notices queued");
            }
            flow.due_notices(PER_TICK)
        })
        .await;
        let due = match due {
            Ok(Ok(due)) => due,
            Ok(Err(e)) => {
                tracing::warn!(error = %e.message, "webhook queue step failed");
                continue;
            }
            Err(_) => continue,
        };
        for notice in due {
            let (delivered, outcome) = match deliver(&settings, &notice).await {
                Ok(status) => (true, status.to_string()),
                Err(why) => (false, why),
            };
            tracing::info!(id = %notice.id, webhook = %lockbox::format::hex(&notice.webhook), delivered, outcome = %outcome, "webhook attempt");
            let (v, backoff) = (vault.clone(), settings.backoff_secs);
            let _ = tokio::task::spawn_blocking(move || {
                Workflow::new(&v).attempted(&notice, delivered, &outcome, backoff)
            })
            .await;
        }
    }
}

/// One attempt: the status of a 2xx answer, or why the attempt failed.
async fn deliver(settings: &Settings, notice: &Due) -> Result<u16, String> {
    let url = reqwest::Url::parse(&notice.url).map_err(|e| format!("bad URL: {e}"))?;
    let host = url.host_str().ok_or("the URL names no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("the URL names no port")?;
    let allowed = settings.allow.iter().any(|a| *a == format!("{host}:{port}"));
    if url.scheme() != "https" && !allowed {
        return Err("refused: an endpoint not on the allow-list must be https".into());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    // Every address the name resolves to must be public: one private answer among public ones
    // is how a rebinding name would get through.
    let addr = match addrs.iter().find(|a| !public(a.ip())) {
        Some(bad) if !allowed => {
            return Err(format!("refused: {host} resolves to {}, not a public address", bad.ip()));
        }
        _ => *addrs.first().ok_or_else(|| format!("{host} resolves to no address"))?,
    };
    let timestamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    // Connected to exactly the address checked: a second lookup could answer otherwise.
    let pinned = reqwest::Client::builder()
        .resolve(&bare, addr)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .use_preconfigured_tls(tls_config().map_err(|e| e.message)?)
        .build()
        .map_err(|e| format!("{e}"))?;
    let response = pinned
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &notice.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", notice.signature(timestamp))
        .body(notice.body.clone())
        .send()
        .await
        .map_err(without_url)?;
    let status = response.status();
    match status.is_success() {
        true => Ok(status.as_u16()),
        false => Err(format!("answered {}", status.as_u16())),
    }
}

fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    Ok(rustls::ClientConfig::builder_with_provider(super::tls_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::other(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A request error without its URL (an endpoint's path may carry a secret of the receiver's).
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local,
/// shared (CGNAT), documentation, benchmarking, multicast, reserved or unspecified.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || s[..6] == [0; 6]
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001)
        || (s[0] == 0x0100 && s[1..4] == [0; 3])
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x0064 && s[1] == 0xff9b)
        || (s[0] == 0x2002))
}

#[cfg(test)]
mod tests {
    use super::public;

    #[test]
    fn only_public_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
        ] {
            assert!(!public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:1.1.1.1"] {
            assert!(public(good.parse().unwrap()), "{good}");
        }
    }
}
