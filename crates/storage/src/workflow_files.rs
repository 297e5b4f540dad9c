//! Reading a workflows directory: the one place workflow files touch the file system
//! (`workflow-core` validates texts it is handed; it reads nothing).

use std::path::Path;

use workflow_core::{Catalog, LoadError, Source};

/// Reads every `*.toml` file of `dir` (in name order, so messages are stable).
pub fn read_sources(dir: &Path) -> Result<Vec<Source>, LoadError> {
    let unreadable = |e: std::io::Error, what: &Path| LoadError {
        file: what.display().to_string(),
        line: 1,
        col: 1,
        message: format!("cannot read: {e}"),
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(e, dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| unreadable(e, &p))?;
            Ok(Source {
                name: p.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Reads and validates a workflows directory.
pub fn load_dir(dir: &Path) -> Result<Catalog, Vec<LoadError>> {
    let sources = read_sources(dir).map_err(|e| vec![e])?;
    if sources.is_empty() {
        return Err(vec![LoadError {
            file: dir.display().to_string(),
            line: 1,
            col: 1,
            message: "no *.toml workflow files in this directory".into(),
        }]);
    }
    workflow_core::load(&sources)
}
