//! The documentation runs: every shell block of README.md and docs/*.md
//! is executed with the built `tmux-wire` first on `PATH`, against private
//! tmux sockets in a temporary directory, and must exit 0; a `console`
//! block's output must be what it shows. Every relative link and anchor
//! must resolve. The Rust blocks are doctests (`src/lib.rs` includes the
//! files that hold them); the one shape that needs a live server is
//! compiled only there (`no_run`) and run here against a private server.
//!
//! A block is not run only when the line before its fence is
//! `<!-- docs-test: skip: REASON -->`; [`SKIPPED_BLOCKS`] lists each such
//! block, so adding one is a change to this file too.

mod common;

use common::tmux;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tmux-wire");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// How long one block may run.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(120);
const SKIP_MARK: &str = "<!-- docs-test: skip: ";

/// The blocks that are not run (file, first line), and why.
const SKIPPED_BLOCKS: &[(&str, &str, &str)] = &[
    (
        "README.md",
        "cargo install --path .",
        "installs into ~/.cargo/bin",
    ),
    (
        "README.md",
        "cargo run --release -- start web",
        "builds a release binary; the same start runs in README's first block",
    ),
    ("README.md", "cargo test --locked", "the test suite itself"),
    (
        "docs/development.md",
        "TMUX_WIRE_TEST_TMUX=/path/to/tmux",
        "the test suite itself",
    ),
    (
        "docs/development.md",
        "cargo install cargo-fuzz",
        "installs cargo-fuzz, then fuzzes for ten minutes",
    ),
    (
        "docs/tmux-versions.md",
        "TMUX_WIRE_TEST_TMUX=/path/to/tmux",
        "the test suite itself",
    ),
    (
        "docs/benchmarks.md",
        "cargo bench --manifest-path",
        "a benchmark: minutes, figures of one machine",
    ),
    (
        "docs/benchmarks.md",
        "cargo build --release && cargo build",
        "a benchmark: a 1 GiB flood",
    ),
];

/// The Rust blocks compiled but not run by `cargo test --doc`, each run
/// here by [`library_examples_run_against_a_private_server`].
const NO_RUN_BLOCKS: &[(&str, &str)] = &[
    (
        "README.md",
        "use tmux_wire::{client::{Client, ConnectOptions}",
    ),
    ("docs/library.md", "use std::time::Duration;"),
];

/// The files `src/lib.rs` includes as doctests.
const DOCTEST_FILES: &[&str] = &["README.md", "docs/library.md"];

/// Blocks that run servers on port 8000 (the examples' web server) or the
/// library example's server take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// One fenced block of a Markdown file.
#[derive(Debug, Clone)]
struct Block {
    file: String,
    /// The line of its opening fence (1-based).
    line: usize,
    lang: String,
    /// The `REASON` of a skip mark on the line before the fence.
    skip: Option<String>,
    body: String,
}

impl Block {
    fn first_line(&self) -> &str {
        self.body.lines().next().unwrap_or("")
    }

    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// README.md and docs/*.md, as paths relative to the checkout.
fn doc_files() -> Vec<String> {
    let mut files = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap()
}

/// The fenced blocks of `text` (fences at the start of a line).
fn blocks_of(file: &str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = info.trim().to_string();
        let skip = i
            .checked_sub(1)
            .and_then(|p| lines[p].strip_prefix(SKIP_MARK))
            .map(|rest| rest.trim_end_matches("-->").trim().to_string());
        let start = i;
        i += 1;
        let mut body = String::new();
        while i < lines.len() && !lines[i].starts_with("```") {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        assert!(
            i < lines.len(),
            "{file}:{}: a fence that never closes",
            start + 1
        );
        i += 1;
        out.push(Block {
            file: file.to_string(),
            line: start + 1,
            lang,
            skip,
            body,
        });
    }
    out
}

fn all_blocks() -> Vec<Block> {
    doc_files()
        .iter()
        .flat_map(|f| blocks_of(f, &read(f)))
        .collect()
}

fn is_shell(lang: &str) -> bool {
    matches!(lang, "sh" | "bash" | "shell")
}

fn is_rust(lang: &str) -> bool {
    lang.split(',').next() == Some("rust")
}

/// Where a block runs: a temporary directory holding `bin/` (tmux-wire and
/// the tmux under test, first on `PATH`), `home/` (`HOME`), `tmp/`
/// (`TMUX_TMPDIR`: both default sockets are in it), `sock` (`SOCK`, for the
/// recipe that names a socket) and `work/`, the current directory, with a
/// link to the checkout's tests/ (the captures `decode` reads).
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("tmux-wire-docs")
            .tempdir()
            .unwrap();
        for sub in ["bin", "home", "tmp", "work"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let bin = dir.path().join("bin");
        std::os::unix::fs::symlink(BIN, bin.join("tmux-wire")).unwrap();
        let tmux = which(&tmux::program());
        std::os::unix::fs::symlink(&tmux, bin.join("tmux")).unwrap();
        std::os::unix::fs::symlink(Path::new(ROOT).join("tests"), dir.path().join("work/tests"))
            .unwrap();
        Sandbox { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn bash(&self, script: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c").arg(script);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.path("bin")];
        paths.extend(std::env::split_paths(&path));
        c.env("PATH", std::env::join_paths(paths).unwrap())
            .env("HOME", self.path("home"))
            .env("TMUX_TMPDIR", self.path("tmp"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"))
            .env("TMUX_WIRE_TMUX", self.path("bin/tmux"))
            .env("SOCK", self.path("sock"))
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("TMUX_WIRE_SOCKET")
            .env_remove("ENV")
            .env_remove("BASH_ENV")
            .current_dir(self.path("work"))
            .stdin(Stdio::null());
        c
    }

    /// The sockets a block may have started servers on.
    fn sockets(&self) -> Vec<PathBuf> {
        let uid = nix_uid();
        vec![
            self.path(&format!("tmp/tmux-wire-{uid}/default")),
            self.path(&format!("tmp/tmux-{uid}/default")),
            self.path("sock"),
        ]
    }

    /// End every server a block started, and wait until their panes'
    /// processes are gone (the next block may need their port).
    fn end_servers(&self) {
        let mut pids = Vec::new();
        for socket in self.sockets().iter().filter(|s| s.exists()) {
            let out = tmux::command()
                .arg("-S")
                .arg(socket)
                .args(["list-panes", "-a", "-F", "#{pane_pid}"])
                .stderr(Stdio::null())
                .output()
                .unwrap();
            pids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse::<u32>().ok()),
            );
            let _ = tmux::command()
                .arg("-S")
                .arg(socket)
                .arg("kill-server")
                .stderr(Stdio::null())
                .status();
        }
        let started = Instant::now();
        while pids
            .iter()
            .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
        {
            if started.elapsed() > Duration::from_secs(10) {
                for pid in &pids {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.end_servers();
    }
}

fn nix_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `program` as a path: itself if it has a slash, else found on `PATH`.
fn which(program: &Path) -> PathBuf {
    if program.components().count() > 1 {
        return std::fs::canonicalize(program).unwrap();
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{} is not on PATH", program.display()))
}

/// Run `script` in `sandbox`, stdout and stderr together, within
/// [`BLOCK_TIMEOUT`]: its exit status and output.
fn run_script(sandbox: &Sandbox, script: &str) -> (std::process::ExitStatus, String) {
    use std::os::unix::process::CommandExt;
    let out_path = sandbox.path("output");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = sandbox
        .bash(script)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BLOCK_TIMEOUT {
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "still running after {BLOCK_TIMEOUT:?}; output so far:\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned();
    (status, output)
}

/// A `console` block: each `$ COMMAND` (continued on lines ending in `\`)
/// and the output it shows.
fn console_steps(body: &str) -> Vec<(String, Vec<String>)> {
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let mut continuing = false;
    for line in body.lines() {
        if continuing {
            let (command, _) = steps.last_mut().unwrap();
            command.push('\n');
            command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push((command.to_string(), Vec::new()));
            continuing = line.ends_with('\\');
        } else {
            let (_, output) = steps
                .last_mut()
                .expect("a console block starts with a `$ ` line");
            output.push(line.to_string());
        }
    }
    steps
}

/// Whether `line` matches `pattern`, where `...` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("...");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether `lines` match `patterns`, where a line `...` stands for any
/// number of lines.
fn lines_match(patterns: &[String], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p == "..." => (0..=lines.len()).any(|i| lines_match(rest, &lines[i..])),
        Some((p, rest)) => {
            !lines.is_empty() && line_matches(p, lines[0]) && lines_match(rest, &lines[1..])
        }
    }
}

/// The marker a console script prints before step N.
const STEP_MARK: char = '\u{1e}';

/// Run one block; a description of what went wrong, if anything did.
fn run_block(block: &Block) -> Result<(), String> {
    let sandbox = Sandbox::new();
    if is_shell(&block.lang) {
        // Each command is traced into the output, which is shown on failure.
        let script = format!("PS4='+ '\nset -x -e -o pipefail\n{}", block.body);
        let (status, output) = run_script(&sandbox, &script);
        if !status.success() {
            return Err(format!(
                "{}: exited with {status}; output:\n{output}",
                block.at()
            ));
        }
        return Ok(());
    }
    // console
    let steps = console_steps(&block.body);
    let mut script = String::from("set -e -o pipefail\nexec 2>&1\n");
    for (i, (command, _)) in steps.iter().enumerate() {
        script.push_str(&format!("printf '\\036{i}\\n'\n{command}\n"));
    }
    let (status, output) = run_script(&sandbox, &script);
    let mut outputs: Vec<Vec<&str>> = Vec::new();
    for line in output.lines() {
        if line.starts_with(STEP_MARK) {
            outputs.push(Vec::new());
        } else if let Some(last) = outputs.last_mut() {
            last.push(line);
        }
    }
    for (i, (command, expected)) in steps.iter().enumerate() {
        let Some(got) = outputs.get(i) else {
            return Err(format!("{}: `{command}` never ran", block.at()));
        };
        if i + 1 == outputs.len() && !status.success() {
            return Err(format!(
                "{}: `{command}` failed ({status}); its output:\n{}",
                block.at(),
                got.join("\n")
            ));
        }
        if !lines_match(expected, got) {
            return Err(format!(
                "{}: `{command}` printed\n{}\nwhere the doc shows\n{}",
                block.at(),
                got.join("\n"),
                expected.join("\n")
            ));
        }
    }
    if !status.success() {
        return Err(format!("{}: exited with {status}", block.at()));
    }
    Ok(())
}

/// Run every runnable shell and console block of `file`, one at a time.
fn run_blocks_of(file: &str) {
    if !tmux::supports(3, 2, "the keeper") {
        return;
    }
    let blocks: Vec<Block> = blocks_of(file, &read(file))
        .into_iter()
        .filter(|b| (is_shell(&b.lang) || b.lang == "console") && b.skip.is_none())
        .collect();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port_free = std::net::TcpListener::bind(("0.0.0.0", 8000)).is_ok();
    let uses_port = blocks.iter().any(|b| b.body.contains("8000"));
    assert!(
        port_free || !uses_port,
        "port 8000 is in use on this machine; {file}'s examples start a web server on it"
    );
    let failures: Vec<String> = blocks.iter().filter_map(|b| run_block(b).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} blocks of {file} failed:\n\n{}",
        failures.len(),
        blocks.len(),
        failures.join("\n\n")
    );
}

#[test]
fn readme_blocks_run() {
    run_blocks_of("README.md");
}

#[test]
fn cli_guide_blocks_run() {
    run_blocks_of("docs/cli.md");
}

#[test]
fn agents_guide_blocks_run() {
    run_blocks_of("docs/agents.md");
}

#[test]
fn the_other_docs_blocks_run() {
    let covered = ["README.md", "docs/cli.md", "docs/agents.md"];
    for file in doc_files()
        .iter()
        .filter(|f| !covered.contains(&f.as_str()))
    {
        run_blocks_of(file);
    }
}

/// Every block is run, compiled as a doctest, marked as not run (and
/// listed here), or not code.
#[test]
fn every_block_is_run_or_listed() {
    let blocks = all_blocks();
    let mut skipped = BTreeSet::new();
    let mut no_run = BTreeSet::new();
    for b in &blocks {
        if let Some(reason) = &b.skip {
            assert!(
                !reason.is_empty(),
                "{}: a skip mark gives its reason",
                b.at()
            );
            assert!(
                is_shell(&b.lang),
                "{}: only shell blocks are skipped",
                b.at()
            );
            let listed = SKIPPED_BLOCKS
                .iter()
                .any(|(f, first, _)| *f == b.file && b.first_line().starts_with(first));
            assert!(
                listed,
                "{}: skipped but not in SKIPPED_BLOCKS: {}",
                b.at(),
                b.first_line()
            );
            skipped.insert((b.file.clone(), b.first_line().to_string()));
        }
        if is_rust(&b.lang) {
            assert!(
                DOCTEST_FILES.contains(&b.file.as_str()),
                "{}: a Rust block in a file src/lib.rs does not include as doctests",
                b.at()
            );
            if b.lang.contains("no_run") || b.lang.contains("ignore") {
                assert!(
                    !b.lang.contains("ignore"),
                    "{}: an ignored Rust block is not compiled",
                    b.at()
                );
                let listed = NO_RUN_BLOCKS
                    .iter()
                    .any(|(f, first)| *f == b.file && b.first_line().starts_with(first));
                assert!(listed, "{}: no_run but not in NO_RUN_BLOCKS", b.at());
                no_run.insert((b.file.clone(), b.first_line().to_string()));
            }
        }
        if b.lang == "json" {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&b.body);
            assert!(
                parsed.is_ok(),
                "{}: a json block that is not JSON: {parsed:?}",
                b.at()
            );
        }
        let known = is_shell(&b.lang)
            || is_rust(&b.lang)
            || matches!(b.lang.as_str(), "console" | "text" | "json");
        assert!(known, "{}: a block of unknown kind `{}`", b.at(), b.lang);
    }
    assert_eq!(
        skipped.len(),
        SKIPPED_BLOCKS.len(),
        "each listed skip is in the docs"
    );
    assert_eq!(
        no_run.len(),
        NO_RUN_BLOCKS.len(),
        "each listed no_run is in the docs"
    );
    for file in DOCTEST_FILES {
        let lib = read("src/lib.rs");
        assert!(
            lib.contains(&format!("include_str!(\"../{file}\")")),
            "src/lib.rs includes {file} as doctests"
        );
    }
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside fenced blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// `(line, target)` of each `[text](target)` link outside fenced blocks.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            out.push((n + 1, rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    out
}

/// Check `target` (a link from `file`, or a doc reference) and its anchor.
fn check_link(file: &str, target: &str) -> Result<(), String> {
    if target.starts_with("http://") || target.starts_with("https://") {
        return Ok(());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        PathBuf::from(file)
    } else {
        let base = Path::new(file).parent().unwrap_or(Path::new(""));
        normalize(&base.join(path))
    };
    let full = Path::new(ROOT).join(&resolved);
    if !full.exists() {
        return Err(format!("{target}: no {}", resolved.display()));
    }
    if let Some(anchor) = anchor {
        let text = std::fs::read_to_string(&full).map_err(|e| format!("{target}: {e}"))?;
        if !anchors(&text).contains(anchor) {
            return Err(format!(
                "{target}: no heading #{anchor} in {}",
                resolved.display()
            ));
        }
    }
    Ok(())
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[test]
fn every_link_resolves() {
    let mut broken = Vec::new();
    for file in doc_files() {
        for (line, target) in links(&read(&file)) {
            if let Err(e) = check_link(&file, &target) {
                broken.push(format!("{file}:{line}: {e}"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `poll`, `wait` and `logs --help` point at the section that explains
/// cursors, offsets and `--from` together, and it is there.
#[test]
fn help_points_at_the_cursor_section() {
    for command in ["poll", "wait", "logs"] {
        let out = Command::new(BIN)
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let target = help
            .split_whitespace()
            .find(|w| w.starts_with("docs/cli.md#"))
            .unwrap_or_else(|| panic!("{command} --help names no docs/cli.md section:\n{help}"));
        let target = target.trim_end_matches(['.', ',', ')']);
        check_link("README.md", target).unwrap_or_else(|e| panic!("{command} --help: {e}"));
        assert_eq!(target, "docs/cli.md#cursors-offsets-and---from");
    }
}

#[test]
fn readme_is_short() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the rest goes to docs/"
    );
}

/// The library examples of README.md and docs/library.md (compiled as
/// `no_run` doctests: they need a server), run against a private one.
#[test]
fn library_examples_run_against_a_private_server() {
    if !tmux::supports(3, 2, tmux::ATTACH_NEEDS) {
        return;
    }
    use tmux_wire::client::{Client, ConnectOptions};
    use tmux_wire::watch::Since;
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("demo.sock");
    let config = dir.path().join("tmux.conf");
    std::fs::write(&config, "set -g default-shell /bin/sh\n").unwrap();
    let made = tmux::command()
        .arg("-S")
        .arg(&socket)
        .arg("-f")
        .arg(&config)
        .args(["new-session", "-d", "-s", "work", "/bin/sh"])
        .env_remove("ENV")
        .status()
        .unwrap();
    assert!(made.success());
    struct Kill<'a>(&'a Path);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = tmux::command()
                .arg("-S")
                .arg(self.0)
                .arg("kill-server")
                .status();
        }
    }
    let _kill = Kill(&socket);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The same calls as the examples: docs/library.md's pattern, and
    // README's (a line starting with `Finished` after spaces); the
    // commands typed print what they wait for.
    let examples = [
        (
            r"^test result: (ok|FAILED)",
            "echo 'test result: ok'\n",
            "test result: ok",
        ),
        (r"^\s*Finished", "echo '    Finished dev'\n", "    Finished"),
    ];
    for (pattern, typed, matched) in examples {
        // As in the examples, the shell waits at its prompt (text typed
        // before it is drawn would be answered after it, on its line).
        let started = Instant::now();
        loop {
            let screen = tmux::command()
                .arg("-S")
                .arg(&socket)
                .args(["capture-pane", "-p", "-t", "work"])
                .output()
                .unwrap();
            let screen = String::from_utf8_lossy(&screen.stdout).into_owned();
            let last = screen.lines().rev().find(|l| !l.trim().is_empty());
            if matches!(last.map(str::trim), Some("$" | "#")) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no prompt:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let found = rt.block_on(async {
            let client = Client::connect(&ConnectOptions::attach("work").socket_path(&socket))
                .await
                .unwrap();
            let pane = client.active_pane().await.unwrap();
            let verdict = regex::Regex::new(pattern).unwrap();
            let armed = pane.arm_for(&verdict, Since::Now).await.unwrap();
            pane.send_text(typed.as_bytes()).await.unwrap();
            armed.wait(Duration::from_secs(20)).await.unwrap().matched
        });
        assert_eq!(found, matched, "{pattern}");
    }
}

#[test]
fn console_patterns() {
    let p = |s: &str| s.lines().map(String::from).collect::<Vec<_>>();
    assert!(lines_match(&p("a\n...\nd"), &["a", "b", "c", "d"]));
    assert!(lines_match(&p("a\n...\nb"), &["a", "b"]));
    assert!(!lines_match(&p("a\nb"), &["a", "b", "c"]));
    assert!(line_matches("pid ...); log ...", "pid 4); log /x/y"));
    assert!(line_matches("x...", "x"));
    assert!(!line_matches("a...b", "a c"));
    assert!(!line_matches("abc", "abcd"));
}
