//! Event-driven waits against a real tmux server.

mod common;

use common::panes::{active_pane, type_line};
use common::tmux::TmuxServer;
use common::wait::until_async;
use regex::Regex;
use std::time::Duration;
use tmux_wire::client::{commands, Client, ConnectOptions, TransportChoice};
use tmux_wire::protocol::PaneId;
use tmux_wire::watch::{
    arm_exit, arm_for, exit_status, wait_exit, wait_for, wait_idle, ExitStatus, ExitWatch,
    IdleWhen, Since, WatchError,
};

const LIMIT: Duration = Duration::from_secs(20);

async fn setup(server: &TmuxServer) -> (Client, PaneId) {
    let client = Client::connect(&options(server)).await.unwrap();
    let pane = active_pane(&client).await;
    (client, pane)
}

fn re(s: &str) -> Regex {
    Regex::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_printed_later_wakes_the_wait() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    let armed = arm_for(&client, pane, &re(r"READY-\d+"), Since::Screen)
        .await
        .unwrap();
    type_line(&client, pane, "sleep 1; echo READY-$((6*7))").await;
    let found = armed.wait(LIMIT).await.unwrap();
    assert_eq!(found.matched, "READY-42");
    assert!(!found.on_screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_begun_before_the_wait_is_joined_with_what_follows() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    // "half-" is on the screen before the wait begins, "done" comes after.
    // (The typed line reads `ha''lf-`, so only the output matches.)
    type_line(&client, pane, "printf 'ha''lf-'; sleep 1.5; echo done").await;
    wait_for(&client, pane, &re("half-"), LIMIT).await.unwrap();
    let found = wait_for(&client, pane, &re("half-done"), LIMIT)
        .await
        .unwrap();
    assert_eq!(found.matched, "half-done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_already_on_screen_counts() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    type_line(&client, pane, "echo DONE-$((1+1))").await;
    wait_for(&client, pane, &re("DONE-2"), LIMIT).await.unwrap();
    // A second wait, begun after the fact, finds it on the screen.
    let found = wait_for(&client, pane, &re("DONE-2"), LIMIT).await.unwrap();
    assert!(found.on_screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_may_span_chunks_and_escape_sequences() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    let armed = arm_for(&client, pane, &re("abcdef REDY-9"), Since::Now)
        .await
        .unwrap();
    // "abc" and "def" arrive in separate %output lines; the colour codes
    // around "RE" are not part of the text a person reads.
    type_line(
        &client,
        pane,
        r"printf 'abc'; sleep 0.4; printf 'def \033[31mRE\033[0mDY-%s\n' $((3*3))",
    )
    .await;
    let found = armed.wait(LIMIT).await.unwrap();
    assert_eq!(found.matched, "abcdef REDY-9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_that_never_comes_times_out() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    let err = wait_for(
        &client,
        pane,
        &re("never-printed"),
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, WatchError::Timeout(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_means_quiet_and_back_at_the_shell() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    type_line(
        &client,
        pane,
        "for i in 1 2 3 4; do echo tick; sleep 0.2; done",
    )
    .await;
    let idle = wait_idle(
        &client,
        pane,
        Duration::from_millis(500),
        IdleWhen::AtShell,
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(idle.current_command, "sh");
    // It did not resolve while the loop was still ticking: all four ticks
    // (and the typed line) are on the screen.
    let target = pane.to_string();
    let screen = client
        .command(["capture-pane", "-p", "-t", target.as_str()])
        .await
        .unwrap();
    let ticks = String::from_utf8_lossy(&screen.output())
        .matches("tick")
        .count();
    assert_eq!(ticks, 5, "{}", String::from_utf8_lossy(&screen.output()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_pane_is_never_idle() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    type_line(&client, pane, "while :; do echo busy; sleep 0.05; done").await;
    let err = wait_idle(
        &client,
        pane,
        Duration::from_millis(500),
        IdleWhen::Quiet,
        Duration::from_millis(1500),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, WatchError::Timeout(_)), "{err}");
}

fn options(server: &TmuxServer) -> ConnectOptions {
    ConnectOptions::attach("t")
        .socket_path(server.socket())
        .transport(TransportChoice::Direct)
}

/// A new window whose process waits for `release` to exist before it runs
/// `then`, so the test can arm the wait first; returns the pane.
async fn held_window(
    client: &Client,
    dir: &std::path::Path,
    then: &str,
) -> (PaneId, std::path::PathBuf) {
    let release = dir.join(format!("release-{}", rand_suffix()));
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; {then}",
        release.display()
    );
    let reply = client
        .command([
            "new-window",
            "-d",
            "-P",
            "-F",
            "#{pane_id}",
            "sh",
            "-c",
            script.as_str(),
        ])
        .await
        .unwrap();
    (reply.parse().unwrap(), release)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_signals_are_reported() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for how in [ExitWatch::Auto, ExitWatch::ViaServer] {
        exit_codes_and_signals_are_reported_by(how).await;
    }
}

async fn exit_codes_and_signals_are_reported_by(how: ExitWatch) {
    let server = TmuxServer::start();
    let (client, _) = setup(&server).await;
    let (pane, release) = held_window(&client, server.dir(), "exit 7").await;
    let armed = arm_exit(&client, pane, how).await.unwrap();
    let waiting = tokio::spawn(armed.wait(LIMIT));
    std::fs::write(&release, "").unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), ExitStatus::Exited(7));
    // Asked again after the fact (with no time limit), the answer is the
    // same.
    assert_eq!(
        wait_exit(&client, pane, None).await.unwrap(),
        ExitStatus::Exited(7)
    );
    assert_eq!(
        exit_status(&client, pane).await.unwrap(),
        Some(ExitStatus::Exited(7))
    );

    let (pane, release) = held_window(&client, server.dir(), "exec sleep 30").await;
    let pid: i32 = client
        .command(commands::display(pane, "#{pane_pid}"))
        .await
        .unwrap()
        .parse()
        .unwrap();
    let waiting = tokio::spawn(arm_exit(&client, pane, how).await.unwrap().wait(LIMIT));
    std::fs::write(&release, "").unwrap();
    // Kill the sleep (the pane's process after exec) with SIGTERM, once
    // the exec has happened.
    until_async("the exec", LIMIT, || {
        std::future::ready(
            std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() == "sleep\n",
        )
    })
    .await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), ExitStatus::Signaled(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_exits_racing_the_wait_are_all_seen() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for how in [ExitWatch::Auto, ExitWatch::ViaServer] {
        many_exits_racing_the_wait_are_all_seen_by(how).await;
    }
}

async fn many_exits_racing_the_wait_are_all_seen_by(how: ExitWatch) {
    // Processes that exit at once, before, during or after the wait is
    // armed: every wait must end with the right code, none by timeout.
    let server = TmuxServer::start();
    let (client, _) = setup(&server).await;
    let mut waits = Vec::new();
    for code in 0..12 {
        let (pane, release) = held_window(&client, server.dir(), &format!("exit {code}")).await;
        // Exit-reporting must be on before the process can exit.
        for command in tmux_wire::watch::exit_reporting(pane) {
            client.command(command).await.unwrap();
        }
        if code % 3 == 0 {
            std::fs::write(&release, "").unwrap();
        }
        let c = client.clone();
        waits.push((
            code,
            tokio::spawn(async move { arm_exit(&c, pane, how).await?.wait(LIMIT).await }),
        ));
        if code % 3 == 1 {
            std::fs::write(&release, "").unwrap();
        } else if code % 3 == 2 {
            let release = release.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                std::fs::write(&release, "").unwrap();
            });
        }
    }
    for (code, wait) in waits {
        assert_eq!(wait.await.unwrap().unwrap(), ExitStatus::Exited(code));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_pane_ends_the_wait_with_pane_gone() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, _) = setup(&server).await;
    let (pane, _release) = held_window(&client, server.dir(), "true").await;
    let waiting = tokio::spawn(
        arm_exit(&client, pane, ExitWatch::Auto)
            .await
            .unwrap()
            .wait(LIMIT),
    );
    client
        .command(["kill-pane", "-t", &pane.to_string()])
        .await
        .unwrap();
    // Either the wait sees the pane go, or (through the pidfd) the process
    // end by the SIGHUP that killing its pane sends; never a timeout.
    let result = waiting.await.unwrap();
    assert!(
        matches!(result, Err(WatchError::PaneGone(p)) if p == pane)
            || matches!(result, Ok(ExitStatus::Signaled(1))),
        "{result:?}"
    );
}

/// A wait from now, after typing, matches neither what was on the screen
/// before nor the echo of the typed line: only the command's own output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_from_now_skips_old_output_and_the_echo() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    // The shell's prompt first (`$ `, or `# ` for root), so that what is
    // typed is not mixed with the shell starting up.
    wait_for(&client, pane, &re(r"^[$#] $"), LIMIT)
        .await
        .unwrap();
    type_line(&client, pane, "echo OLD-MARK").await;
    wait_for(&client, pane, &re("^OLD-MARK$"), LIMIT)
        .await
        .unwrap();
    let typed = "sleep 1; echo MARK-1; echo MARK-2";
    let mut armed = arm_for(&client, pane, &re("MARK.*"), Since::Now)
        .await
        .unwrap();
    armed.skip_echo(typed.as_bytes());
    type_line(&client, pane, typed).await;
    let found = armed.wait(LIMIT).await.unwrap();
    // Not "MARK" of the old line on the screen, not "MARK-1; echo MARK-2"
    // of the typed line: the first line the command printed.
    assert_eq!(found.matched, "MARK-1");
    assert!(!found.on_screen);
    let screen = client
        .command(["capture-pane", "-p", "-t", &pane.to_string()])
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&screen.output()).into_owned();
    assert_eq!(text.matches("MARK-1").count(), 2, "{text}");
}

/// A prompt already on the screen counts with its trailing space (which
/// capture-pane drops): `> $` matches the line being written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_on_the_screen_keeps_its_trailing_space() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    // The shell's prompt first, so the typed line does not mix with it.
    wait_for(&client, pane, &re(r"^[$#] $"), LIMIT)
        .await
        .unwrap();
    type_line(&client, pane, "printf 'ask''> '; sleep 30").await;
    wait_for(&client, pane, &re("ask>"), LIMIT).await.unwrap();
    let found = wait_for(&client, pane, &re("^ask> $"), LIMIT)
        .await
        .unwrap();
    assert_eq!(found.matched, "ask> ");
    assert!(found.on_screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_dropped_by_its_caller_puts_back_what_it_changed() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    // Session `t` was made by plain tmux; this program keeps its
    // connections, so tmux's own undo (when they all end) is not what
    // puts it back here.
    let server = TmuxServer::start();
    let (client, pane) = setup(&server).await;
    let keeper = tmux_wire::keeper::Keeper::new(&tmux_wire::server::SocketSpec::Path(
        server.socket().to_path_buf(),
    ))
    .unwrap();
    let own_remain = || {
        let client = client.clone();
        async move {
            let show = tmux_wire::protocol::Command::from_argv([
                "show-options",
                "-p",
                "-v",
                "-t",
                &pane.to_string(),
                "remain-on-exit",
            ]);
            client
                .command(show)
                .await
                .unwrap()
                .text()
                .trim()
                .to_string()
        }
    };
    assert_eq!(own_remain().await, "");
    let process = keeper.process("t").await.unwrap();
    assert_eq!(process.pane(), pane);
    let waiting = tokio::spawn(async move { process.wait_exit(LIMIT).await });
    until_async(
        "the wait to keep the pane (remain-on-exit on)",
        LIMIT,
        || async move { own_remain().await == "on" },
    )
    .await;
    // The caller gives up: the wait is dropped mid-way.
    waiting.abort();
    assert!(waiting.await.unwrap_err().is_cancelled());
    until_async("remain-on-exit put back", LIMIT, || async move {
        own_remain().await.is_empty()
    })
    .await;
}
