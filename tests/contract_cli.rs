//! The `--json` contract through the real binary against a real tmux on a
//! private socket: one golden test per command and outcome (errors
//! included) pins each document's shape, and every document printed is
//! validated against its committed schema in docs/schemas/.
//!
//! A shape is the document with its values replaced by their JSON types
//! (`"string"`, `"number"`, `"bool"`, `"null"`, an array by the shape of
//! its first element), except the values that say which shape it is and
//! what happened (`version`, `type`, `kind`, `state`, `outcome`,
//! `exit_code`), which are pinned as they are, and `pid`, which is
//! `"number|null"` (an ended pane's pid is there on some tmux versions).
//! Times, pids, ids, paths and cursors are thereby normalised away. The goldens are
//! tests/golden/CASE.json; after an intended change of the contract,
//! write them anew with `TMUX_WIRE_BLESS=1 cargo test --test contract_cli`
//! and review the diff.

mod common;

use common::cli::Socket;
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Keys whose values are pinned, not reduced to a type.
const PINNED: &[&str] = &["version", "type", "kind", "state", "outcome", "exit_code"];

fn shape(v: &Value, key: Option<&str>) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), shape(v, Some(k))))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => {
            Value::Array(items.first().map(|i| shape(i, None)).into_iter().collect())
        }
        v if key.is_some_and(|k| PINNED.contains(&k)) => v.clone(),
        // A pid is there or not as tmux's version has it.
        Value::Number(_) | Value::Null if key == Some("pid") => json!("number|null"),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed schema of `name`'s document.
fn schema(name: &str) -> Value {
    let path = root().join(format!("docs/schemas/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Each line of stdout a document: validated against the schema of
/// `command` (or of `error` for an error document), and their shapes
/// compared with the golden of `case` (each shape once, in the order they
/// first came). The exit status must be `code`.
fn check(case: &str, command: &str, out: &Output, code: i32) -> Vec<Value> {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{case}: {out:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{case}: {e}: {l}")))
        .collect();
    assert!(!docs.is_empty(), "{case}: no document: {out:?}");
    for doc in &docs {
        assert_eq!(doc["version"], 1, "{case}: {doc}");
        assert!(doc["type"].is_string(), "{case}: {doc}");
        let name = if doc["type"] == "error" {
            "error"
        } else {
            command
        };
        let schema = schema(name);
        if let Err(e) = validate(&schema, &schema, doc, "") {
            panic!("{case}: the document does not match docs/schemas/{name}.json: {e}\n{doc}");
        }
    }
    // A stream's shapes once each, in the order they first came.
    let mut shapes: Vec<Value> = Vec::new();
    for doc in &docs {
        let shape = shape(doc, None);
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    golden(case, &Value::Array(shapes));
    docs
}

fn golden(case: &str, shapes: &Value) {
    let path = root().join(format!("tests/golden/{case}.json"));
    let text = serde_json::to_string_pretty(shapes).unwrap() + "\n";
    if std::env::var_os("TMUX_WIRE_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (write it with TMUX_WIRE_BLESS=1 cargo test --test contract_cli {case})",
            path.display()
        )
    });
    assert_eq!(
        text, want,
        "{case}: the documents' shapes differ from {} (after an intended change: TMUX_WIRE_BLESS=1)",
        path.display()
    );
}

/// A JSON Schema validator for the subset schemars generates: `$ref` to
/// `#/$defs/`, `type` (one or a list), `const`, `enum`, `properties`,
/// `required`, `additionalProperties: false`, `items`, `oneOf`, `anyOf`,
/// `allOf`, `minimum`, `maximum`. Any other keyword fails, so that a schema using
/// one is noticed rather than half checked.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        return match schema {
            Value::Bool(true) => Ok(()),
            _ => Err(format!("{at}: schema {schema} refuses everything")),
        };
    };
    for (key, want) in s {
        match key.as_str() {
            "$schema" | "title" | "description" | "format" | "$defs" => {}
            "$ref" => {
                let name = want
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .ok_or_else(|| format!("{at}: unsupported $ref {want}"))?;
                validate(root, &root["$defs"][name], v, at)?;
            }
            "type" => {
                let types: Vec<&str> = match want {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(format!("{at}: bad type {want}")),
                };
                let ok = types.iter().any(|t| match *t {
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "string" => v.is_string(),
                    "boolean" => v.is_boolean(),
                    "null" => v.is_null(),
                    "integer" => v.is_i64() || v.is_u64(),
                    "number" => v.is_number(),
                    _ => false,
                });
                if !ok {
                    return Err(format!("{at}: {v} is not {want}"));
                }
            }
            "const" if v != want => return Err(format!("{at}: {v} is not {want}")),
            "const" => {}
            "enum" => {
                if !want.as_array().is_some_and(|a| a.contains(v)) {
                    return Err(format!("{at}: {v} is not one of {want}"));
                }
            }
            "maximum" => {
                if v.as_f64().zip(want.as_f64()).is_some_and(|(v, m)| v > m) {
                    return Err(format!("{at}: {v} is above {want}"));
                }
            }
            "minimum" => {
                if v.as_f64().zip(want.as_f64()).is_some_and(|(v, m)| v < m) {
                    return Err(format!("{at}: {v} is below {want}"));
                }
            }
            "properties" => {
                if let (Some(props), Some(obj)) = (want.as_object(), v.as_object()) {
                    for (k, p) in props {
                        if let Some(value) = obj.get(k) {
                            validate(root, p, value, &format!("{at}.{k}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(obj) = v.as_object() {
                    for k in want.as_array().into_iter().flatten() {
                        let k = k.as_str().unwrap_or("");
                        if !obj.contains_key(k) {
                            return Err(format!("{at}: {k:?} is missing"));
                        }
                    }
                }
            }
            "additionalProperties" => match (want, v.as_object()) {
                (Value::Bool(false), Some(obj)) => {
                    let known = s.get("properties").and_then(Value::as_object);
                    if let Some(k) = obj
                        .keys()
                        .find(|k| !known.is_some_and(|p| p.contains_key(*k)))
                    {
                        return Err(format!("{at}: {k:?} is not allowed"));
                    }
                }
                (Value::Bool(_), _) => {}
                (schema, Some(obj)) => {
                    for (k, value) in obj {
                        validate(root, schema, value, &format!("{at}.{k}"))?;
                    }
                }
                _ => {}
            },
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    validate(root, want, item, &format!("{at}[{i}]"))?;
                }
            }
            "oneOf" | "anyOf" => {
                let all = want.as_array().ok_or_else(|| format!("{at}: bad {key}"))?;
                let errors: Vec<String> = all
                    .iter()
                    .filter_map(|s| validate(root, s, v, at).err())
                    .collect();
                let matched = all.len() - errors.len();
                if matched == 0 || (key == "oneOf" && matched > 1) {
                    return Err(format!(
                        "{at}: {matched} of the {key} alternatives match ({})",
                        errors.join("; ")
                    ));
                }
            }
            "allOf" => {
                for s in want.as_array().into_iter().flatten() {
                    validate(root, s, v, at)?;
                }
            }
            other => return Err(format!("{at}: the validator does not know {other:?}")),
        }
    }
    Ok(())
}

#[test]
fn the_validator_refuses_what_the_schemas_do_not_allow() {
    let wait = schema("wait");
    let good = json!({"version": 1, "type": "ready", "matched": "up"});
    validate(&wait, &wait, &good, "").unwrap();
    for bad in [
        json!({"version": 2, "type": "ready", "matched": "up"}),
        json!({"version": 1, "type": "ready"}),
        json!({"version": 1, "type": "readyish", "matched": "up"}),
        json!({"version": 1, "type": "exited", "exit": {"type": "exited"}, "code": 1}),
        json!({"version": 1, "type": "ready", "matched": 3}),
    ] {
        assert!(validate(&wait, &wait, &bad, "").is_err(), "{bad}");
    }
    let error = schema("error");
    let doc = json!({"version": 1, "type": "error", "kind": "no_such_kind", "error": "x",
                     "hint": null, "exit_code": 1});
    assert!(validate(&error, &error, &doc, "").is_err());
}

/// No wait in these tests lasts longer: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(30);

fn json(s: &Socket, args: &[&str]) -> Output {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    s.run(&all)
}

/// A socket with `web` running, its first line printed.
fn with_web() -> Socket {
    let s = Socket::new();
    s.ok(&[
        "start",
        "web",
        "--ready",
        "^hi$",
        "--",
        "sh",
        "-c",
        "echo hi; exec sleep 60",
    ]);
    s
}

macro_rules! needs_keeper {
    () => {
        require_tmux!(3, 2, common::tmux::ATTACH_NEEDS)
    };
}

#[test]
fn start_and_its_errors() {
    needs_keeper!();
    let s = Socket::new();
    let out = json(
        &s,
        &[
            "start",
            "web",
            "--ready",
            "^hi$",
            "--",
            "sh",
            "-c",
            "echo hi; exec sleep 60",
        ],
    );
    let doc = &check("start", "start", &out, 0)[0];
    assert_eq!(doc["process"]["state"], "running", "{doc}");
    let out = json(
        &s,
        &["start", "web", "--", "sh", "-c", "echo hi; exec sleep 60"],
    );
    check("start_already_running", "start", &out, 0);
    let out = json(&s, &["start", "x", "--", "/no/such/program"]);
    check("start_cannot_run", "start", &out, 127);
    let out = json(
        &s,
        &[
            "start",
            "slow",
            "--ready",
            "never",
            "--timeout",
            "300ms",
            "--",
            "sleep",
            "60",
        ],
    );
    let doc = &check("start_ready_timeout", "start", &out, 124)[0];
    assert!(
        doc["hint"]
            .as_str()
            .unwrap()
            .contains("tmux-wire stop slow"),
        "{doc}"
    );
    assert!(
        !doc["error"].as_str().unwrap().contains("tmux-wire stop"),
        "{doc}"
    );
    let out = json(&s, &["start", "bad.name", "--", "true"]);
    check("start_bad_name", "start", &out, 1);
    let file = s.dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = json(
        &s,
        &["start", "c", "--cwd", file.to_str().unwrap(), "--", "true"],
    );
    let doc = &check("start_bad_cwd", "start", &out, 1)[0];
    assert!(doc["hint"].as_str().unwrap().contains("--cwd"), "{doc}");
}

#[test]
fn ls_and_status() {
    needs_keeper!();
    let s = with_web();
    check("ls", "ls", &json(&s, &["ls"]), 0);
    check("status", "status", &json(&s, &["status", "web"]), 0);
    let out = json(&s, &["status", "nope"]);
    check("status_not_found", "status", &out, 1);
    // An ended process: its exit, and the shell's code.
    s.ok(&["start", "done", "--", "sh", "-c", "exit 3"]);
    s.ok(&["wait", "done", "--exit"]);
    let doc = &check("status_exited", "status", &json(&s, &["status", "done"]), 0)[0];
    assert_eq!(doc["exit"], json!({"type": "exited", "code": 3}), "{doc}");
    assert_eq!(doc["code"], 3, "{doc}");
}

#[test]
fn no_server() {
    let s = Socket::new();
    let out = json(&s, &["cmd", "list-sessions"]);
    let doc = &check("no_server", "cmd", &out, 1)[0];
    assert_eq!(doc["kind"], "no_server", "{doc}");
    // Every command that needs a server says so the same way: a name is
    // not "not found" where no server runs at all.
    for args in [
        &["status", "x"][..],
        &["poll", "x"],
        &["logs", "x"],
        &["wait", "x", "--exit"],
        &["send", "x", "hi"],
        &["stop", "x"],
    ] {
        let out = json(&s, args);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["kind"], "no_server", "{args:?}: {doc}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {doc}");
    }
}

#[test]
fn usage_error() {
    let s = Socket::new();
    let out = s.run(&["--json", "wait", "x", "--ready"]);
    let doc = &check("usage_error", "wait", &out, 2)[0];
    assert_eq!(doc["kind"], "bad_input", "{doc}");
    // The message names what is missing (clap puts it on the lines after
    // its first).
    let out = s.run(&["--json", "wait"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = doc["error"].as_str().unwrap();
    assert!(error.contains("<NAME>"), "{doc}");
    assert!(!error.contains("Usage"), "{doc}");
}

#[test]
fn run_and_its_outcomes() {
    needs_keeper!();
    let s = Socket::new();
    let out = json(&s, &["run", "quick", "--", "sh", "-c", "echo one; exit 4"]);
    check("run_exited", "run", &out, 4);
    let out = json(
        &s,
        &["run", "long", "--yield", "300ms", "--", "sleep", "60"],
    );
    check("run_running", "run", &out, 75);
    let out = json(&s, &["run", "long", "--", "sleep", "60"]);
    let doc = &check("run_already_running", "run", &out, 1)[0];
    assert_eq!(doc["kind"], "already_running", "{doc}");
}

/// A kept process that prints bytes that are not UTF-8: `poll --raw` and
/// `logs --raw` carry them as base64, nothing replaced; without `--raw`
/// the lines are text.
#[test]
fn raw_output_keeps_every_byte() {
    needs_keeper!();
    let s = Socket::new();
    s.ok(&[
        "start",
        "bin",
        "--",
        "sh",
        "-c",
        r"printf 'ok\n\351t\351\nend\n'; exec sleep 60",
    ]);
    let deadline = Instant::now() + LIMIT;
    let lines = loop {
        let doc: Value =
            serde_json::from_slice(&json(&s, &["poll", "bin", "--raw"]).stdout).unwrap();
        if doc["lines"].as_array().is_some_and(|l| l.len() >= 3) || Instant::now() > deadline {
            break doc["lines"].clone();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let bytes = json!({"bytes": "6XTp"});
    assert!(lines.as_array().unwrap().contains(&bytes), "{lines}");
    let doc = &check("poll_raw", "poll", &json(&s, &["poll", "bin", "--raw"]), 0)[0];
    assert!(doc["lines"].as_array().unwrap().contains(&bytes), "{doc}");
    let doc = &check("logs_raw", "logs", &json(&s, &["logs", "bin", "--raw"]), 0)[0];
    assert!(doc["lines"].as_array().unwrap().contains(&bytes), "{doc}");
    let out = json(
        &s,
        &["logs", "bin", "--raw", "--offset", "0", "--limit", "10"],
    );
    let doc = &check("logs_page_raw", "logs", &out, 0)[0];
    assert!(doc["lines"].as_array().unwrap().contains(&bytes), "{doc}");
    // A follow of one that ended: its lines, then how it ended.
    s.ok(&[
        "start",
        "bin2",
        "--",
        "sh",
        "-c",
        r"printf 'ok\n\351t\351\nend\n'",
    ]);
    s.ok(&["wait", "bin2", "--exit"]);
    let out = json(&s, &["logs", "bin2", "--raw", "--follow"]);
    let docs = check("logs_follow_raw", "logs", &out, 0);
    assert!(docs.iter().any(|d| d["line"] == bytes), "{docs:?}");
    // Without --json, the bytes as they are.
    let out = s.run(&["logs", "bin", "--raw"]);
    assert!(
        out.stdout.windows(5).any(|w| w == b"\n\xe9t\xe9\n"),
        "{out:?}"
    );
    let out = s.run(&["poll", "bin", "--raw"]);
    assert!(
        out.stdout.windows(5).any(|w| w == b"\n\xe9t\xe9\n"),
        "{out:?}"
    );
    // Not raw: text.
    let doc = &check("poll", "poll", &json(&s, &["poll", "bin"]), 0)[0];
    assert!(
        doc["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_string),
        "{doc}"
    );
    let out = json(&s, &["poll", "bin", "--cursor", "deadbeef:0"]);
    check("poll_bad_cursor", "poll", &out, 1);
}

#[test]
fn logs_and_follow() {
    needs_keeper!();
    let s = with_web();
    check("logs", "logs", &json(&s, &["logs", "web"]), 0);
    let out = json(&s, &["logs", "web", "--offset", "0", "--limit", "5"]);
    check("logs_page", "logs", &out, 0);
    s.ok(&[
        "start",
        "brief",
        "--ready",
        "^x$",
        "--",
        "sh",
        "-c",
        "echo x; read line; echo y",
    ]);
    let mut follow = s
        .cmd(&["--json", "logs", "brief", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line is there: let it end.
    let mut stdout = BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    s.ok(&["send", "brief", "--enter", "go"]);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = Output {
        status: follow.wait().unwrap(),
        stdout: (first + &rest).into_bytes(),
        stderr: Vec::new(),
    };
    let docs = check("logs_follow", "logs", &out, 0);
    assert_eq!(docs.last().unwrap()["type"], "exited", "{docs:?}");
    let out = json(&s, &["logs", "nope"]);
    check("logs_not_found", "logs", &out, 1);
}

#[test]
fn send_keys_and_their_errors() {
    needs_keeper!();
    let s = Socket::new();
    s.ok(&["start", "cat", "--", "cat"]);
    check(
        "send",
        "send",
        &json(&s, &["send", "cat", "--enter", "hello"]),
        0,
    );
    let out = json(
        &s,
        &["send", "cat", "--enter", "ping", "--then-ready", "^ping$"],
    );
    check("send_then_ready", "send", &out, 0);
    let out = json(&s, &["send", "cat", "--enter", "x", "--then-idle", "200ms"]);
    check("send_then_idle", "send", &out, 0);
    check("keys", "keys", &json(&s, &["keys", "cat", "Enter"]), 0);
    check(
        "keys_unknown",
        "keys",
        &json(&s, &["keys", "cat", "NoSuchKey"]),
        1,
    );
    s.ok(&["start", "gone", "--", "true"]);
    s.ok(&["wait", "gone", "--exit"]);
    let out = json(&s, &["send", "gone", "x"]);
    let doc = &check("send_not_running", "send", &out, 1)[0];
    assert_eq!(doc["kind"], "not_running", "{doc}");
}

#[test]
fn wait_and_its_outcomes() {
    needs_keeper!();
    let s = with_web();
    check(
        "wait_ready",
        "wait",
        &json(&s, &["wait", "web", "--ready", "^hi$", "--from", "start"]),
        0,
    );
    check(
        "wait_idle",
        "wait",
        &json(&s, &["wait", "web", "--idle", "100ms"]),
        0,
    );
    let out = json(
        &s,
        &["wait", "web", "--ready", "never", "--timeout", "200ms"],
    );
    let doc = &check("wait_timeout", "wait", &out, 124)[0];
    assert_eq!(doc["kind"], "timeout", "{doc}");
    s.ok(&["start", "reader", "--", "sh", "-c", "read x"]);
    check(
        "wait_input",
        "wait",
        &json(&s, &["wait", "reader", "--input"]),
        0,
    );
    s.ok(&["start", "ends", "--", "sh", "-c", "exit 5"]);
    check(
        "wait_exit",
        "wait",
        &json(&s, &["wait", "ends", "--exit"]),
        0,
    );
    let out = json(&s, &["wait", "ends", "--ready", "never", "--from", "start"]);
    check("wait_exited_first", "wait", &out, 1);
}

#[test]
fn stop_kill_all_shutdown_prune_clean() {
    needs_keeper!();
    let s = with_web();
    check("stop", "stop", &json(&s, &["stop", "web"]), 0);
    check("stop_not_found", "stop", &json(&s, &["stop", "nope"]), 1);
    s.ok(&["start", "a", "--", "sleep", "60"]);
    check("kill_all", "kill-all", &json(&s, &["kill-all"]), 0);
    check("prune", "prune", &json(&s, &["prune"]), 0);
    s.ok(&["start", "b", "--", "sleep", "60"]);
    check("shutdown", "shutdown", &json(&s, &["shutdown"]), 0);
    check("clean", "clean", &json(&s, &["clean"]), 0);
}

#[test]
fn exec_and_not_a_shell() {
    needs_keeper!();
    let s = Socket::new();
    s.ok(&["start", "sh1", "--", "bash", "--norc", "--noprofile"]);
    let doc = &check(
        "exec",
        "exec",
        &json(&s, &["exec", "sh1", "--raw", "--", "echo hi"]),
        0,
    )[0];
    assert_eq!(doc["outcome"], "finished", "{doc}");
    s.ok(&["start", "sleeper", "--", "sleep", "60"]);
    let out = json(&s, &["exec", "sleeper", "--", "echo hi"]);
    let doc = &check("exec_not_a_shell", "exec", &out, 1)[0];
    assert_eq!(doc["kind"], "not_a_shell", "{doc}");
}

#[test]
fn cmd_version_and_tmux_errors() {
    needs_keeper!();
    let s = with_web();
    check("cmd", "cmd", &json(&s, &["cmd", "list-sessions"]), 0);
    let doc = &check(
        "cmd_refused",
        "cmd",
        &json(&s, &["cmd", "no-such-command"]),
        1,
    )[0];
    assert_eq!(doc["kind"], "tmux", "{doc}");
    check("version", "version", &json(&s, &["version"]), 0);
}

#[test]
fn events() {
    needs_keeper!();
    let s = with_web();
    let mut child = s
        .cmd(&["--json", "events"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // The stream reports what happens after it started: start processes
    // until it says so (it may not be listening yet for the first).
    let deadline = Instant::now() + LIMIT;
    let mut lines = Vec::new();
    for n in 0.. {
        assert!(Instant::now() < deadline, "no event: {lines:?}");
        s.ok(&["start", &format!("e{n}"), "--", "sleep", "60"]);
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
            lines.push(line + "\n");
            break;
        }
    }
    common::tmux::command()
        .arg("-S")
        .arg(&s.path)
        .arg("kill-server")
        .status()
        .unwrap();
    while let Ok(line) = rx.recv_timeout(LIMIT) {
        lines.push(line + "\n");
    }
    child.wait().unwrap();
    let out = Output {
        status: std::process::ExitStatus::default(),
        stdout: lines.concat().into_bytes(),
        stderr: Vec::new(),
    };
    // What it saw depends on when it started: pin the last document.
    let docs = check_each("events", &out);
    assert_eq!(docs.last().unwrap()["type"], "server_gone", "{docs:?}");
}

/// Like [`check`] for a stream whose documents depend on timing (what the
/// stream saw before it started): each document validated, the golden of
/// the last one only.
fn check_each(case: &str, out: &Output) -> Vec<Value> {
    let docs: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!docs.is_empty(), "{case}: nothing");
    let schema = schema(case);
    for doc in &docs {
        if let Err(e) = validate(&schema, &schema, doc, "") {
            panic!("{case}: {e}\n{doc}");
        }
    }
    golden(case, &json!([shape(docs.last().unwrap(), None)]));
    docs
}

#[test]
fn decode() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/control-samples-3.3a.bin");
    let out = std::process::Command::new(common::cli::BIN)
        .args(["--json", "decode", "--client", "obs| "])
        .arg(&fixture)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let docs = check("decode", "decode", &out, code);
    assert!(docs.len() > 10, "{docs:?}");
}

/// A wait on a session tmux-wire did not start, ended by SIGINT: the
/// error document says `interrupted`, exit 130.
#[test]
fn wait_interrupted() {
    needs_keeper!();
    let s = Socket::new();
    s.recipe("recipe", &["sleep", "60"]);
    let child = s
        .cmd(&["--json", "wait", "recipe", "--exit", "--timeout", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    s.until_attached("recipe");
    // Until it catches SIGINT (its handler is there: SigCgt, bit 2).
    let catches = || {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & 2 != 0)
    };
    common::wait::until("the wait to catch SIGINT", LIMIT, catches);
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    let doc = &check("wait_interrupted", "wait", &out, 130)[0];
    assert_eq!(doc["kind"], "interrupted", "{doc}");
}
