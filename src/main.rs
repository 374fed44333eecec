use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    ob_backup_operator::crdgen::write_all(&PathBuf::from("crds"))
}
