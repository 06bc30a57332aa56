//! The keeper embedded in a program: it leaves the host process as it
//! found it. No signal handler of its own (the host's Ctrl-C still ends the
//! host after a wait on a session tmux-wire did not start), and what a
//! dropped wait changed on such a session is put back by
//! [`Keeper::restored`], which the host awaits.

mod common;

use common::tmux::TmuxServer;
use std::process::Command;
use std::time::Duration;
use tmux_wire::keeper::Keeper;
use tmux_wire::server::SocketSpec;

const LIMIT: Duration = Duration::from_secs(20);

/// Set in the child this test runs of its own binary: the socket to use.
const CHILD_SOCKET: &str = "TMUX_WIRE_TEST_HOST_SOCKET";

/// What the child prints when SIGINT did not end it.
const SURVIVED: &str = "survived SIGINT";

/// `remain-on-exit` as set on the pane of `target` itself (empty: unset).
fn own_remain_on_exit(server: &std::path::Path, target: &str) -> String {
    let out = common::tmux::command()
        .arg("-S")
        .arg(server)
        .args(["show-options", "-p", "-v", "-t", target, "remain-on-exit"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The child: a wait on session `t` (made by plain tmux, so the wait
/// changes it and puts it back), then SIGINT to itself, which must end it.
fn child(socket: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let keeper = Keeper::new(&SocketSpec::Path(socket.into())).unwrap();
        let process = keeper.process("t").await.unwrap();
        let idle = process.wait_idle(Duration::from_millis(100), LIMIT).await;
        assert!(idle.is_ok(), "{idle:?}");
    });
    drop(runtime);
    // Sent to this process: with SIGINT's default action the kernel ends
    // all of its threads, this one before `kill` returns, so the process
    // ends here.
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::INT).unwrap();
    println!("{SURVIVED}");
    std::process::exit(0);
}

#[test]
fn the_hosts_ctrl_c_still_ends_it_after_a_wait_on_a_foreign_session() {
    if let Ok(socket) = std::env::var(CHILD_SOCKET) {
        child(&socket);
        return;
    }
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    // A shell without job control starts a background command with SIGINT
    // ignored, and the child would inherit that: then nothing is tested.
    assert!(
        !sigint_ignored(),
        "SIGINT is ignored in this process (started in the background by a shell?): run the tests in the foreground"
    );
    let server = TmuxServer::start();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_hosts_ctrl_c_still_ends_it_after_a_wait_on_a_foreign_session",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SOCKET, server.socket())
        .env("TMUX_WIRE_TMUX", common::tmux::program())
        .env_remove("TMUX")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(rustix::process::Signal::INT.as_raw()),
        "the child was not ended by SIGINT ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!stdout.contains(SURVIVED), "{stdout}");
    // And the wait put the session back as it found it.
    assert_eq!(own_remain_on_exit(server.socket(), "t"), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_wait_is_put_back_by_restored() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let keeper = Keeper::new(&SocketSpec::Path(server.socket().into())).unwrap();
    let process = keeper.process("t").await.unwrap();
    let mut wait = Box::pin(process.wait_exit(LIMIT));
    // Until the wait has changed the session (remain-on-exit on, so that
    // the exit status is kept), then it is dropped, as by a caller's
    // timeout or an interrupt.
    let socket = server.socket().to_path_buf();
    let changed = common::wait::until_async("the wait to change the pane", LIMIT, || {
        let socket = socket.clone();
        async move { own_remain_on_exit(&socket, "t") == "on" }
    });
    tokio::select! {
        ended = &mut wait => panic!("the wait ended: {ended:?}"),
        () = changed => {}
    }
    drop(wait);
    tokio::time::timeout(LIMIT, keeper.restored())
        .await
        .expect("restored() did not finish")
        .unwrap();
    assert_eq!(own_remain_on_exit(server.socket(), "t"), "");
    // Nothing left to put back: at once.
    keeper.restored().await.unwrap();
}

/// Whether this process ignores SIGINT (`SigIgn` in /proc/self/status).
fn sigint_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}
