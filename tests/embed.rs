//! The keeper embedded in a program that is not `tmux-wire` (this test
//! binary, `harness = false`): its `main` calls `helper_main` first, as an
//! application does, and the tmux server it starts has no `tmux-wire` on
//! its PATH. The log writer, restarts and kill-after are this program
//! running as its own helper.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tmux_wire::keeper::{Keeper, LineForm, RestartPolicy, RestartWhen, StartSpec, State};
use tmux_wire::server::SocketSpec;

#[path = "common/tmux.rs"]
mod tmux;

/// One case: a name, and the case run on a keeper of its own socket.
type Case = (&'static str, fn(&Keeper) -> Result<(), String>);

/// Where the tmux server finds programs: no `tmux-wire` there.
const SERVER_PATH: &str = "/usr/bin:/bin";

fn main() -> ExitCode {
    if let Some(code) = tmux_wire::keeper::helper_main() {
        return code;
    }
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    // The tmux under test, found before PATH changes; then a PATH with no
    // tmux-wire in it, which the server (started by the keeper) inherits.
    let program = tmux::program();
    let tmux = if program.components().count() > 1 {
        program
    } else {
        which(&program).expect("tmux on PATH")
    };
    for dir in SERVER_PATH.split(':') {
        assert!(
            !Path::new(dir).join("tmux-wire").exists(),
            "{dir} holds a tmux-wire: the test needs a PATH without one"
        );
    }
    std::env::set_var("PATH", SERVER_PATH);
    std::env::set_var("TMUX_WIRE_TMUX", &tmux);
    std::env::remove_var("TMUX");
    if !tmux_wire::protocol::version_at_least(tmux::version(), 3, 2) {
        eprintln!(
            "SKIPPED embed on tmux {}: the keeper needs tmux 3.2",
            tmux::version()
        );
        return ExitCode::SUCCESS;
    }
    let cases: [Case; 4] = [
        ("logs_are_written", logs_are_written),
        (
            "a_program_that_is_no_helper_is_refused",
            a_program_that_is_no_helper_is_refused,
        ),
        ("a_restart_policy_restarts", a_restart_policy_restarts),
        ("kill_after_ends_the_run", kill_after_ends_the_run),
    ];
    let mut failed = 0;
    let mut ran = 0;
    for (name, case) in cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        ran += 1;
        let dir = tempfile::Builder::new()
            .prefix("tmux-wire-embed")
            .tempdir()
            .unwrap();
        let keeper = Keeper::new(&SocketSpec::Path(dir.path().join("s"))).unwrap();
        let result = case(&keeper);
        let _ = std::process::Command::new(&tmux)
            .arg("-S")
            .arg(dir.path().join("s"))
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
        match result {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n  {e}");
            }
        }
    }
    println!("embed: {ran} run, {failed} failed");
    if failed > 0 || ran == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn which(program: &Path) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn argv(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

/// Look at `name`'s status until `done` says yes (20 s at most).
async fn until(
    keeper: &Keeper,
    name: &str,
    what: &str,
    done: impl Fn(&tmux_wire::keeper::ProcessInfo) -> bool,
) -> Result<tmux_wire::keeper::ProcessInfo, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = keeper.status(name).await.map_err(|e| e.to_string())?;
        if done(&info) {
            return Ok(info);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: not within 20 s; status: {info:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The log writer is this program: what the process prints is in its log.
fn logs_are_written(keeper: &Keeper) -> Result<(), String> {
    block_on(async {
        let spec = StartSpec::default()
            .ready(regex::Regex::new("embedded-hello").unwrap())
            .timeout(Duration::from_secs(20));
        let started = keeper
            .start(
                "logs",
                &argv(&["sh", "-c", "echo embedded-hello; exec sleep 300"]),
                &spec,
            )
            .await
            .map_err(|e| format!("start: {e}"))?;
        if started.ready.as_deref() != Some("embedded-hello") {
            return Err(format!("ready: {:?}", started.ready));
        }
        let (lines, _) = keeper
            .logs("logs", 10, LineForm::Rendered)
            .map_err(|e| e.to_string())?;
        if !lines.iter().any(|l| l == "embedded-hello") {
            return Err(format!("the log: {lines:?}"));
        }
        let info = keeper.status("logs").await.map_err(|e| e.to_string())?;
        if !info.log_writer.as_ref().is_some_and(|w| w.is_writing()) || info.error.is_some() {
            return Err(format!("status: {info:?}"));
        }
        Ok(())
    })
}

/// `restart-due` and `restart` are this program: a failing run is started
/// again as often as the policy says.
fn a_restart_policy_restarts(keeper: &Keeper) -> Result<(), String> {
    block_on(async {
        let spec = StartSpec::default().restart(RestartPolicy::new(
            RestartWhen::OnFailure,
            2,
            Duration::from_millis(50),
        ));
        // Each run leaves a line in a file beside the socket (a restarted
        // run's first output can miss the log on some tmux versions: see
        // README, "Restart policies").
        let runs = keeper.socket().with_file_name("runs");
        let script = format!("echo run >> '{}'; exit 3", runs.display());
        keeper
            .start("flaky", &argv(&["sh", "-c", &script]), &spec)
            .await
            .map_err(|e| format!("start: {e}"))?;
        let info = until(keeper, "flaky", "two restarts and three exits", |p| {
            p.restarts == Some(2) && p.exits.len() == 3
        })
        .await?;
        if info.state != (State::Exited { code: 3 }) || info.error.is_some() {
            return Err(format!("status: {info:?}"));
        }
        let ran = std::fs::read_to_string(&runs).map_err(|e| e.to_string())?;
        if ran.lines().count() != 3 {
            return Err(format!("3 runs, not {ran:?}"));
        }
        // Each run is marked in the log.
        let (lines, _) = keeper
            .logs("flaky", 20, LineForm::Rendered)
            .map_err(|e| e.to_string())?;
        let marks = lines
            .iter()
            .filter(|l| l.starts_with("--- tmux-wire: run of"))
            .count();
        if marks != 3 {
            return Err(format!("3 runs marked in the log, not {marks}: {lines:?}"));
        }
        Ok(())
    })
}

/// `expire` is this program: a run past its limit is ended, and status
/// says why.
fn kill_after_ends_the_run(keeper: &Keeper) -> Result<(), String> {
    block_on(async {
        let spec = StartSpec::default()
            .kill_after(Duration::from_millis(500))
            .kill_grace(Duration::from_millis(200));
        keeper
            .start("limited", &argv(&["sleep", "300"]), &spec)
            .await
            .map_err(|e| format!("start: {e}"))?;
        let info = until(keeper, "limited", "the run ended by its limit", |p| {
            matches!(p.state, State::Exited { .. } | State::Killed { .. })
        })
        .await?;
        if info.killed_after != Some(1) || info.error.is_some() {
            return Err(format!("status: {info:?}"));
        }
        Ok(())
    })
}

/// A keeper whose helper program is not one refuses to start anything,
/// and says what to do.
fn a_program_that_is_no_helper_is_refused(keeper: &Keeper) -> Result<(), String> {
    block_on(async {
        // `yes` prints without end: the check reads a few KiB and goes on.
        for program in [
            "/bin/true",
            "/nonexistent/helper",
            "no-such-helper-on-path",
            "yes",
        ] {
            let keeper = keeper.clone().helper_program(program);
            let spec = StartSpec::default();
            match keeper.start("web", &argv(&["sleep", "300"]), &spec).await {
                Err(e @ tmux_wire::keeper::KeeperError::HelperUnusable { .. }) => {
                    let message = e.to_string();
                    if !message.contains("helper_main") || !message.contains("helper_program") {
                        return Err(format!("{program}: the error says what to do? {message}"));
                    }
                }
                other => return Err(format!("{program}: {other:?}")),
            }
            // Nothing was created: no server, so no session either.
            if keeper.socket().exists() {
                return Err(format!("{program}: a server runs on the socket"));
            }
            let listed = keeper.list().await.map_err(|e| e.to_string())?;
            if !listed.is_empty() {
                return Err(format!("{program}: {listed:?}"));
            }
        }
        // On a server that runs, no session either.
        keeper
            .start("good", &argv(&["sleep", "300"]), &StartSpec::default())
            .await
            .map_err(|e| format!("start: {e}"))?;
        let refused = keeper
            .clone()
            .helper_program("/bin/true")
            .start("web", &argv(&["sleep", "300"]), &StartSpec::default())
            .await;
        if !matches!(
            refused,
            Err(tmux_wire::keeper::KeeperError::HelperUnusable { .. })
        ) {
            return Err(format!("/bin/true on a running server: {refused:?}"));
        }
        let names: Vec<String> = keeper
            .list()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|p| p.name)
            .collect();
        if names != ["good"] {
            return Err(format!("sessions: {names:?}"));
        }
        Ok(())
    })
}
