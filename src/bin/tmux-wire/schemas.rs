//! The JSON Schema of every `--json` document (docs/schemas/), generated
//! from the types and checked against the committed files (test only).

use crate::commands::*;
use crate::contract::{ErrorDoc, Versioned};
use schemars::{JsonSchema, Schema};
use std::path::Path;

/// Every document's schema, by the name of its file in docs/schemas/
/// (`NAME.json`): one per command, and `error` for every failure. The
/// test `committed_schemas_match_the_types` compares and writes them.
pub fn schemas() -> Vec<(&'static str, Schema)> {
    fn of<T: JsonSchema>() -> Schema {
        schemars::schema_for!(Versioned<T>)
    }
    let named = |name: &'static str, mut schema: Schema| {
        let command = match name {
            "error" => "any failure of any command".to_string(),
            name => format!("`tmux-wire --json {name}`"),
        };
        schema.insert("title".into(), format!("tmux-wire: {name}").into());
        schema.insert(
            "description".into(),
            format!("The document of {command} (docs/json.md).").into(),
        );
        (name, schema)
    };
    vec![
        named("error", of::<ErrorDoc>()),
        named("start", of::<start::StartDoc>()),
        named("ls", of::<ls::LsDoc>()),
        named("status", of::<status::StatusDoc>()),
        named("run", of::<run::RunDoc>()),
        named("poll", of::<poll::PollDoc>()),
        named("exec", of::<exec::ExecDoc>()),
        named("logs", of::<logs::LogsDoc>()),
        named("send", of::<send::SendDoc>()),
        named("keys", of::<keys::KeysDoc>()),
        named("wait", of::<wait::WaitDoc>()),
        named("stop", of::<stop::StopDoc>()),
        named("kill-all", of::<kill_all::KillAllDoc>()),
        named("shutdown", of::<shutdown::ShutdownDoc>()),
        named("prune", of::<prune::PruneDoc>()),
        named("clean", of::<clean::CleanDoc>()),
        named("cmd", of::<cmd::CmdDoc>()),
        named("version", of::<version::VersionDoc>()),
        named("events", of::<events::EventDoc>()),
        named("decode", of::<decode::Decoded>()),
    ]
}

/// docs/schemas/ holds the schema of every document as these types
/// generate it. After a change of the contract, regenerate them with
/// `TMUX_WIRE_WRITE_SCHEMAS=1 cargo test --bin tmux-wire schemas`.
#[test]
fn committed_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas");
    let write = std::env::var_os("TMUX_WIRE_WRITE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    let mut names = Vec::new();
    for (name, schema) in schemas() {
        let file = dir.join(format!("{name}.json"));
        names.push(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &text).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(&text) {
            stale.push(file.display().to_string());
        }
    }
    // No schema of a document that is gone.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !names.contains(&name) {
            stale.push(format!("{name} (no such document)"));
        }
    }
    assert!(
        stale.is_empty(),
        "these schemas differ from the types: {stale:?}; regenerate them with \
         TMUX_WIRE_WRITE_SCHEMAS=1 cargo test --bin tmux-wire schemas"
    );
}
