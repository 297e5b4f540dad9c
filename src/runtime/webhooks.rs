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

use std::path::{Path, PathBuf};

use super::delivery::{Endpoint, Webhooks};
use anyhow::Context;
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

/// The file's entries, with `FILE:LINE: why` for what does not parse.
fn parse(text: &str, path: &Path) -> anyhow::Result<File> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start].matches('\n').count() + 1)
            .unwrap_or(1);
        anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
    })
}

/// Where webhook messages go, as configured: the deployment's webhook and secret, and a
/// file of webhooks per community, named as the directory names them.
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub file: Option<PathBuf>,
}

/// The webhooks a [`Source`] names, its communities found in the directory.
pub async fn load(store: &SqlStore, source: &Source) -> anyhow::Result<Webhooks> {
    let mut hooks = Webhooks::default();
    if let Some(url) = source.url.clone() {
        let secret = source
            .secret
            .clone()
            .context("--webhook-url needs LINLI_WEBHOOK_SECRET")?;
        hooks.default = Some(endpoint(url, secret, "--webhook-url")?);
    }
    let Some(path) = source.file.as_deref() else {
        return Ok(hooks);
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let parsed = parse(&text, path)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_file_is_named_with_its_line() {
        let text = "[default]\nurl = \"https://a.example\"\nsecret = \"0123456789abcdef\"\n\n[[community]]\nname = \"荷花塘社区\"\nurl = 5\n";
        let err = parse(text, Path::new("hooks.toml"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("hooks.toml:7: "), "{err}");
        let err = parse(
            "[default]\nurl = \"x\"\nsecrets = \"y\"\n",
            Path::new("h.toml"),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.starts_with("h.toml:3: ") && err.contains("secrets"),
            "{err}"
        );
        let ok = parse(
            &text.replace("url = 5", "url = \"https://b.example\"\nsecret = \"s\""),
            Path::new("h"),
        );
        assert_eq!(ok.unwrap().community.len(), 1);
    }

    #[test]
    fn endpoints_need_a_scheme_and_a_real_secret() {
        assert!(endpoint("ftp://x".into(), "0123456789abcdef".into(), "t").is_err());
        assert!(endpoint("https://x".into(), "short".into(), "t").is_err());
        assert!(endpoint("https://x".into(), "0123456789abcdef".into(), "t").is_ok());
    }
}
