//! The difference between two configs, which drives start-up and reload alike, and the
//! workload tables (`Section`s): their problems point at line and column like the host's own.

mod common;

use common::*;
use std::time::Duration;
use worker_host_core::config::{ConfigDiff, SectionReload};

#[test]
fn entries_are_added_removed_changed_tuned_or_left_alone_by_name() {
    let old = config(
        &(entry("a", "q-a", 1)
            + &entry("b", "q-b", 1)
            + &entry("c", "q-c", 1)
            + &entry("e", "q-e", 1)),
    );
    let new = config(
        &(entry("a", "q-a2", 1)
            + &entry("b", "q-b", 1)
            + &entry("d", "q-d", 1)
            + &entry("e", "q-e", 2)),
    );
    let diff = ConfigDiff::between(&old, &new);
    let names = |v: &[worker_host_core::config::WorkerEntry]| -> Vec<String> {
        v.iter().map(|e| e.name.clone()).collect()
    };
    assert_eq!(names(&diff.added), ["d"]);
    assert_eq!(
        names(&diff.changed),
        ["a"],
        "a new task queue needs a new worker"
    );
    assert_eq!(names(&diff.tuned), ["e"], "a limit alone is tuned in place");
    assert_eq!(diff.removed, ["c"]);
    assert_eq!(diff.unchanged, ["b"]);
    assert!(!diff.temporal_changed && diff.restart_only.is_empty() && diff.sections.is_empty());
    assert!(ConfigDiff::between(&new, &new).is_empty());
    assert_eq!(
        names(&ConfigDiff::between(&Default::default(), &new).added),
        ["a", "b", "d", "e"],
        "start-up is the difference from nothing"
    );
}

#[test]
fn a_host_grace_change_tunes_the_entries_that_inherit_it() {
    let with_grace = |grace: &str| {
        let own = entry("own", "q-own", 1) + "shutdown_grace = \"7s\"\n";
        format!(
            "[host]\nshutdown_grace = \"{grace}\"\n{}{own}",
            entry("inherits", "q-i", 1)
        )
    };
    let diff = ConfigDiff::between(&config(&with_grace("30s")), &config(&with_grace("5s")));
    assert!(diff.changed.is_empty());
    assert_eq!(diff.tuned.len(), 1);
    assert_eq!(diff.tuned[0].name, "inherits");
    assert_eq!(
        diff.tuned[0].grace(&config(&with_grace("5s")).host),
        Duration::from_secs(5)
    );
    assert_eq!(diff.unchanged, ["own"]);
}

#[test]
fn temporal_and_start_up_only_host_keys_are_reported() {
    let old = config(&entry("a", "q-a", 1));
    let new = config(&format!(
        "[temporal]\nnamespace = \"other\"\n\n[host]\nlisten = \"127.0.0.1:1\"\ndata_dir = \"elsewhere\"\nreload = false\n{}",
        entry("a", "q-a", 1)
    ));
    let diff = ConfigDiff::between(&old, &new);
    assert!(diff.temporal_changed);
    assert_eq!(
        diff.restart_only,
        ["host.listen", "host.data_dir", "host.reload"]
    );
    assert!(diff.changed.is_empty() && !diff.is_empty());
}

#[test]
fn a_changed_table_is_named_with_what_its_change_does() {
    let old = config("[mytable]\ndepth = 1\n");
    let diff = ConfigDiff::between(
        &old,
        &config("[mytable]\ndepth = 2\n\n[frozen]\nsize = 3\n"),
    );
    assert_eq!(
        diff.sections,
        [
            ("frozen", SectionReload::Restart),
            ("mytable", SectionReload::NextRun)
        ]
    );
    assert!(
        ConfigDiff::between(&old, &config("[mytable]\ndepth = 1\nmode = \"\"\n")).is_empty(),
        "writing a default out is no change"
    );
    assert_eq!(
        config("").sections.get::<MyTable>().as_ref(),
        &MyTable::default(),
        "a table left out holds its defaults"
    );
}

#[test]
fn problems_in_a_workload_table_point_at_line_and_column() {
    let text = "[mytable]\ndepth = \"deep\"\ncolour = \"blue\"\n";
    let errors = parse(text).expect_err("two problems").to_string();
    for expected in [
        "workers.toml:2:9: mytable.depth: invalid type: string \"deep\", expected a whole number",
        "workers.toml:3:1: mytable.colour: unknown key",
    ] {
        assert!(
            errors.contains(expected),
            "missing `{expected}` in:\n{errors}"
        );
    }
    let errors = parse("\n[mytable]\nmode = \"x\"\ndepth = 11\n")
        .expect_err("too deep")
        .to_string();
    assert!(
        errors.contains("workers.toml:4:9: mytable.depth: must be at most 10"),
        "{errors}"
    );
}
