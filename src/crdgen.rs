//! Writes the CRD YAML files that `crds/` holds, generated from the Rust types in [`crate::api`].

use std::{fs, io, path::Path};

use crate::api::all_crds;

/// Renders every CRD as YAML, keyed by its file name.
pub fn render() -> Result<Vec<(&'static str, String)>, serde_norway::Error> {
    all_crds()
        .into_iter()
        .map(|(file, crd)| Ok((file, serde_norway::to_string(&crd)?)))
        .collect()
}

/// Writes every CRD into `dir`, replacing files of the same name.
pub fn write_all(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (file, yaml) in render().map_err(io::Error::other)? {
        fs::write(dir.join(file), yaml)?;
    }
    Ok(())
}
