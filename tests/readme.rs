//! The README says each thing once: no heading twice, and its layout names every top-level
//! folder of the repository.

const README: &str = include_str!("../README.md");

#[test]
fn no_heading_appears_twice() {
    let mut seen = std::collections::BTreeSet::new();
    let mut in_code = false;
    for line in README.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            assert!(seen.insert(line.trim().to_owned()), "heading twice: {line}");
        }
    }
    assert!(seen.len() > 20, "the README has its sections: {seen:?}");
}

#[test]
fn the_layout_lists_every_top_level_folder() {
    let layout = README.split("## Layout").nth(1).expect("a Layout section");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // Tracked folders only: build output, installed tools and local state are git-ignored.
    let output =
        std::process::Command::new("git").args(["ls-tree", "-d", "--name-only", "HEAD"]).current_dir(root).output();
    let folders: Vec<String> = match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect(),
        _ => panic!("git ls-tree failed in {root}"),
    };
    assert!(folders.iter().any(|f| f == "shared"), "{folders:?}");
    for folder in folders {
        assert!(layout.contains(&format!("{folder}/")), "the README's layout does not list {folder}/");
    }
}
