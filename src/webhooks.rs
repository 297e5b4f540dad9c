//! Where webhook messages go: `--webhook-url` with `LINLI_WEBHOOK_SECRET` for the whole
//! deployment, and/or a `--webhooks FILE` naming a webhook per community:
//!
//! ```toml
//! [default]                # optional: every community without its own
//! url = "https://hooks.example.org/linli"
//! secret = "…"
//!
//! [[community]]
//! name = "荷花塘社区"       # a community in the directory
//! url = "https://hehuatang.example.org/hook"
//! secret = "…"
//! ```

use std::path::Path;

use anyhow::Context;
use linli_http::notify::webhook::{Endpoint, Webhooks};
use serde::Deserialize;
use storage::SqlStore;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default: Option<EndpointEntry>,
    #[serde(default)]
    community: Vec<CommunityEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    url: String,
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommunityEntry {
    name: String,
    url: String,
    secret: String,
}

fn endpoint(url: String, secret: String, what: &str) -> anyhow::Result<Endpoint> {
    anyhow::ensure!(
        url.starts_with("https://") || url.starts_with("http://"),
        "{what}: the webhook url must start with https:// or http://"
    );
    anyhow::ensure!(
        secret.len() >= 16,
        "{what}: the webhook secret must be at least 16 characters"
    );
    Ok(Endpoint { url, secret })
}

pub async fn load(
    store: &SqlStore,
    url: Option<String>,
    secret: Option<String>,
    file: Option<&Path>,
) -> anyhow::Result<Webhooks> {
    let mut hooks = Webhooks::default();
    if let Some(url) = url {
        let secret = secret.context("--webhook-url needs LINLI_WEBHOOK_SECRET")?;
        hooks.default = Some(endpoint(url, secret, "--webhook-url")?);
    }
    let Some(path) = file else {
        return Ok(hooks);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let parsed: File = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start].lines().count().max(1))
            .unwrap_or(1);
        anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
    })?;
    if let Some(d) = parsed.default {
        hooks.default = Some(endpoint(d.url, d.secret, "[default]")?);
    }
    for c in parsed.community {
        let id = store
            .org_unit_named("community", &c.name)
            .await?
            .with_context(|| format!("{}: no community named {:?}", path.display(), c.name))?;
        let what = format!("community {:?}", c.name);
        hooks
            .communities
            .insert(id, endpoint(c.url, c.secret, &what)?);
    }
    Ok(hooks)
}
