//! The workflows a server runs: the ones shipped inside the binary, or a directory's.
//!
//! The shipped files (`workflows/*.toml` in the source tree) are compiled in, so `linli
//! serve` works from any directory; `--workflows DIR` replaces them all with a directory's
//! (a deployment that customised its workflows keeps its files across upgrades), and
//! `linli workflows export DIR` writes the shipped ones out as a starting point.

use std::path::{Path, PathBuf};

use anyhow::Context;
use workflow_core::{Catalog, LoadError, Source};

/// The shipped workflow files: their file names and texts.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("catalog.toml", include_str!("../workflows/catalog.toml")),
    (
        "community-service.toml",
        include_str!("../workflows/community-service.toml"),
    ),
    (
        "community-service-v2.toml",
        include_str!("../workflows/community-service-v2.toml"),
    ),
    (
        "community-service-v3.toml",
        include_str!("../workflows/community-service-v3.toml"),
    ),
    (
        "community-service-v4.toml",
        include_str!("../workflows/community-service-v4.toml"),
    ),
    (
        "community-service-v5.toml",
        include_str!("../workflows/community-service-v5.toml"),
    ),
    (
        "dispute-mediation.toml",
        include_str!("../workflows/dispute-mediation.toml"),
    ),
    (
        "hotline-12345.toml",
        include_str!("../workflows/hotline-12345.toml"),
    ),
    (
        "micro-wish.toml",
        include_str!("../workflows/micro-wish.toml"),
    ),
];

/// Where the workflows come from.
#[derive(Clone, Debug, Default)]
pub enum Origin {
    /// The shipped ones, compiled in.
    #[default]
    BuiltIn,
    /// Every `*.toml` file of a directory, instead of the shipped ones.
    Dir(PathBuf),
}

impl Origin {
    pub fn new(dir: Option<PathBuf>) -> Origin {
        dir.map_or(Origin::BuiltIn, Origin::Dir)
    }

    /// The workflows, validated; or every error they hold, as `file:line:col: message`
    /// lines.
    pub fn load(&self) -> Result<Catalog, Vec<LoadError>> {
        match self {
            Origin::BuiltIn => workflow_core::load(&built_in_sources()),
            Origin::Dir(dir) => storage::workflow_files::load_dir(dir),
        }
    }

    /// [`Origin::load`], its errors as one message.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        self.load().map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("the workflows do not load:\n{}", lines.join("\n"))
        })
    }
}

/// The shipped files as sources named `built-in/FILE`, so a message says which.
pub fn built_in_sources() -> Vec<Source> {
    BUILT_IN
        .iter()
        .map(|(name, text)| Source {
            name: format!("built-in/{name}"),
            text: (*text).to_owned(),
        })
        .collect()
}

/// Writes the shipped files into `dir` (created if need be); refuses to overwrite a file
/// unless `force`. Returns the paths written.
pub fn export(dir: &Path, force: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if !force {
        let existing: Vec<String> = BUILT_IN
            .iter()
            .map(|(name, _)| dir.join(name))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        anyhow::ensure!(
            existing.is_empty(),
            "not overwriting {} (--force to replace them)",
            existing.join(", ")
        );
    }
    BUILT_IN
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to `workflows/` and not compiled in would be served from the source tree
    /// and missing everywhere else: the list is the directory's.
    #[test]
    fn every_shipped_file_is_compiled_in_as_it_is() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        on_disk.sort();
        let mut built_in: Vec<(String, String)> = BUILT_IN
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        built_in.sort();
        assert_eq!(built_in, on_disk);
    }

    #[test]
    fn the_built_in_workflows_load() {
        let catalog = Origin::BuiltIn.catalog().unwrap();
        assert!(catalog.categories.contains_key("repair"));
    }
}
