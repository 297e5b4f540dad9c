//! The deployment's 12345 bridge, read from its mapping file (`linli serve --hotline FILE`,
//! docs/HOTLINE.md): which workflow the orders run on, the shared secret, where the callbacks
//! go, and the platform's category codes and units mapped to Linli's categories and to the
//! directory's communities and branches.
//!
//! ```toml
//! workflow = "hotline-12345"                 # optional; this is the default
//! callback_url = "https://12345.example.gov.cn/linli/callback"
//! secret = "at least sixteen characters"
//! other_category = "errand"                  # optional: a code not listed below
//!
//! [categories]                               # the platform's code = Linli's category
//! "0301" = "repair"
//!
//! [[units]]
//! name = "荷花塘社区居委会"                   # the lead unit, as the platform names it
//! community = "荷花塘社区"                    # the directory's community
//! branch = "荷花塘社区第一党支部"              # optional: its first branch otherwise
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;
use linli_http::hotline::{Bridge, UnitPlace};
use serde::Deserialize;
use storage::SqlStore;
use toml::Spanned;
use workflow_core::Catalog;

use super::delivery::Endpoint;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    workflow: Option<Spanned<String>>,
    callback_url: Spanned<String>,
    secret: Spanned<String>,
    other_category: Option<Spanned<String>>,
    #[serde(default)]
    categories: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    units: Vec<Unit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unit {
    name: Spanned<String>,
    community: Spanned<String>,
    branch: Option<Spanned<String>>,
}

/// The bridge (for the HTTP adapter) and where its callbacks go (for delivery).
pub struct Loaded {
    pub bridge: Bridge,
    pub callbacks: Endpoint,
}

/// Reads and checks a mapping file; every problem is `FILE:LINE: why`.
pub async fn load(store: &SqlStore, catalog: &Catalog, path: &Path) -> anyhow::Result<Loaded> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let at = |span: std::ops::Range<usize>| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        format!("{}:{line}", path.display())
    };
    let file: File = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", at(e.span().unwrap_or(0..0)), e.message()))?;
    let workflow = file
        .workflow
        .as_ref()
        .map_or("hotline-12345".to_owned(), |w| w.get_ref().clone());
    let wf = catalog.latest(&workflow).with_context(|| {
        let span = file.workflow.as_ref().map_or(0..0, |w| w.span());
        format!("{}: no workflow {workflow:?} is loaded", at(span))
    })?;
    workflow_core::hotline::check_workflow(wf)
        .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
    let url = file.callback_url.get_ref();
    anyhow::ensure!(
        url.starts_with("https://") || url.starts_with("http://"),
        "{}: callback_url must start with https:// or http://",
        at(file.callback_url.span())
    );
    anyhow::ensure!(
        file.secret.get_ref().len() >= 16,
        "{}: the secret must be at least 16 characters",
        at(file.secret.span())
    );
    let category = |c: &Spanned<String>| -> anyhow::Result<String> {
        anyhow::ensure!(
            catalog.category(c.get_ref()).is_some(),
            "{}: no category {:?} is loaded",
            at(c.span()),
            c.get_ref()
        );
        Ok(c.get_ref().clone())
    };
    let mut categories = HashMap::new();
    for (code, c) in &file.categories {
        categories.insert(code.clone(), category(c)?);
    }
    let other_category = file.other_category.as_ref().map(category).transpose()?;
    let mut units = HashMap::new();
    for u in &file.units {
        let community = store
            .org_unit_named("community", u.community.get_ref())
            .await?
            .with_context(|| {
                format!(
                    "{}: no community named {:?}",
                    at(u.community.span()),
                    u.community.get_ref()
                )
            })?;
        let branch = match &u.branch {
            Some(b) => store
                .branch_named(community, b.get_ref())
                .await?
                .with_context(|| format!("{}: no branch named {:?}", at(b.span()), b.get_ref()))?,
            None => store
                .branches_of(community)
                .await?
                .into_iter()
                .next()
                .with_context(|| format!("{}: the community has no branch", at(u.name.span())))?,
        };
        let place = UnitPlace {
            community_id: community,
            branch_id: branch,
        };
        anyhow::ensure!(
            units.insert(u.name.get_ref().clone(), place).is_none(),
            "{}: unit {:?} is listed twice",
            at(u.name.span()),
            u.name.get_ref()
        );
    }
    let secret = file.secret.into_inner();
    let callback_url = file.callback_url.into_inner();
    Ok(Loaded {
        callbacks: Endpoint {
            url: callback_url.clone(),
            secret: secret.clone(),
        },
        bridge: Bridge {
            workflow,
            secret,
            callback_url,
            categories,
            other_category,
            units,
        },
    })
}
