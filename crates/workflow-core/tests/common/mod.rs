//! The shipped workflows, for workflow-core's tests and benchmark (the core reads no files;
//! its tests do).

#![allow(dead_code)]

use std::sync::LazyLock;

use workflow_core::{Catalog, Source, load};

pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(load_shipped);
    &CATALOG
}

pub fn load_shipped() -> Catalog {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");
    let mut sources: Vec<Source> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| Source {
            name: p.display().to_string(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    load(&sources).unwrap_or_else(|e| panic!("{e:#?}"))
}
