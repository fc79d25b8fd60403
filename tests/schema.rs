//! Editor support: `worker-host schema` is the JSON Schema shipped as `workers.schema.json`, the
//! shipped `workers.toml` points editors at it, every shipped config passes it and a broken one
//! does not; `worker-host completions` prints a script for each shell.

mod common;

use serde_json::Value as Json;
use std::{path::Path, process::Command};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn run(args: &[&str]) -> String {
    let out = common::run_ok(Command::new(common::binary("worker-host")).args(args));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn printed_schema() -> Json {
    serde_json::from_str(&run(&["schema"])).expect("schema is JSON")
}

/// Problems the schema finds in a TOML text (empty: valid).
fn schema_problems(schema: &Json, toml_text: &str) -> Vec<String> {
    let instance: Json = toml::from_str(toml_text).expect("TOML");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("file:///workers.schema.json", schema.clone())
        .expect("add schema");
    let index = compiler
        .compile("file:///workers.schema.json", &mut schemas)
        .expect("the schema compiles");
    match schemas.validate(&instance, index) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("{e:#}")],
    }
}

#[test]
fn shipped_schema_file_is_what_the_binary_prints() {
    let shipped: Json = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("workers.schema.json"))
            .expect("workers.schema.json is shipped"),
    )
    .expect("workers.schema.json is JSON");
    assert_eq!(
        shipped,
        printed_schema(),
        "workers.schema.json is stale: regenerate it with `worker-host schema > workers.schema.json`"
    );
}

#[test]
fn schema_covers_host_keys_and_workload_tables() {
    let schema = printed_schema();
    let properties = schema["properties"].as_object().expect("root properties");
    for key in ["temporal", "host", "deployment", "workers", "indexing"] {
        assert!(properties.contains_key(key), "schema lacks `{key}`");
    }
    assert_eq!(schema["additionalProperties"], Json::Bool(false));
}

#[test]
fn shipped_workers_toml_points_editors_at_the_schema() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("workers.toml")).expect("workers.toml");
    assert_eq!(
        text.lines().next(),
        Some("#:schema ./workers.schema.json"),
        "the first line of workers.toml is taplo's schema directive"
    );
}

#[test]
fn every_shipped_config_passes_the_schema() {
    let schema = printed_schema();
    let mut files = vec![Path::new(ROOT).join("workers.toml")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    assert!(
        files.len() >= 3,
        "expected workers.toml and example configs"
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read config");
        let problems = schema_problems(&schema, &text);
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
    }
}

#[test]
fn schema_rejects_what_the_loader_rejects() {
    let schema = printed_schema();
    let cases = [
        (
            "unknown key",
            "[host]\nlisten = \"127.0.0.1:9464\"\nlistne = \"x\"\n",
        ),
        ("unknown table key", "[indexing]\nmax_repo_byte = 5\n"),
        ("wrong type", "[temporal]\naddress = 7233\n"),
        (
            "zero slots",
            "[[workers]]\nname = \"a\"\ntask_queue = \"q\"\nworkflows = [\"W\"]\nmax_concurrent_activities = 0\n",
        ),
        (
            "entry without name",
            "[[workers]]\ntask_queue = \"q\"\nworkflows = [\"W\"]\n",
        ),
        (
            "bad versioning",
            "[deployment]\nname = \"d\"\n[[workers]]\nname = \"a\"\ntask_queue = \"q\"\nworkflows = [\"W\"]\nversioning = \"sticky\"\n",
        ),
        ("bad duration", "[host]\nshutdown_grace = \"soon\"\n"),
    ];
    for (what, text) in cases {
        assert!(
            !schema_problems(&schema, text).is_empty(),
            "the schema accepts a config with a {what}:\n{text}"
        );
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for word in ["worker-host", "validate", "schema", "index", "completions"] {
            assert!(
                script.contains(word),
                "{shell} completions lack `{word}`:\n{script}"
            );
        }
    }
}
