//! The client over a pipe that plays tmux: what no live server does on
//! demand (it stops reading our input; its last replies arrive after it
//! said the session is over).

use std::time::Duration;
use tmux_wire::client::{Client, ClientError, CloseReason};
use tmux_wire::transport::{ControlPipe, Ending, TransportInfo, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every wait is bounded: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(5);

/// The tmux side of the pipe.
struct Fake {
    to_client: tokio::io::DuplexStream,
    from_client: Option<tokio::io::DuplexStream>,
    ending: Option<tokio::sync::oneshot::Sender<Ending>>,
}

/// A client attached through a fake tmux.
async fn attached() -> (Client, Fake) {
    let (client_r, mut to_client) = tokio::io::duplex(1 << 20);
    let (from_client, client_w) = tokio::io::duplex(1 << 20);
    let (ending_tx, ending) = tokio::sync::oneshot::channel();
    let pipe = ControlPipe {
        reader: Box::new(client_r),
        writer: Box::new(client_w),
        ending,
        info: TransportInfo {
            kind: TransportKind::Process,
            server_version: None,
            layout: None,
            reason: "test".into(),
        },
    };
    to_client
        .write_all(b"%begin 1 1 0\n%end 1 1 0\n")
        .await
        .unwrap();
    let client = Client::from_pipe(pipe).await.unwrap();
    let fake = Fake {
        to_client,
        from_client: Some(from_client),
        ending: Some(ending_tx),
    };
    (client, fake)
}

#[tokio::test]
async fn commands_after_a_failed_write_fail_at_once() {
    let (client, mut fake) = attached().await;
    // tmux stops reading our input.
    drop(fake.from_client.take());
    let _ = tokio::time::timeout(LIMIT, client.command(["a"])).await;
    let second = tokio::time::timeout(LIMIT, client.command(["b"])).await;
    assert!(
        matches!(second, Ok(Err(ClientError::Closed(_)))),
        "a command after the write failed must fail at once, got {second:?}"
    );
    drop(fake);
}

#[tokio::test]
async fn replies_written_before_the_end_still_answer() {
    let (client, mut fake) = attached().await;
    let other = client.clone();
    // Queued (in order, before the detach), not yet answered.
    let pending = other.enqueue(["last"]).await.unwrap();
    let detaching = tokio::spawn(client.detach());
    let mut written = Vec::new();
    let mut from = fake.from_client.take().unwrap();
    tokio::time::timeout(LIMIT, from.read_to_end(&mut written))
        .await
        .expect("our input ends after the detach")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&written), "last\n");
    // The end is reported before its last reply is read.
    let _ = fake.ending.take().unwrap().send(Ending::Detached {
        session: "s".into(),
    });
    tokio::task::yield_now().await;
    fake.to_client
        .write_all(b"%begin 2 2 1\nok\n%end 2 2 1\n%exit\n")
        .await
        .unwrap();
    drop(fake.to_client);
    let reply = tokio::time::timeout(LIMIT, pending).await.unwrap();
    assert_eq!(reply.unwrap().output(), b"ok");
    let why = tokio::time::timeout(LIMIT, detaching)
        .await
        .unwrap()
        .unwrap();
    // The transport's reason, typed: a detach, not a server's end.
    assert_eq!(
        why,
        CloseReason::Ended(Ending::Detached {
            session: "s".into()
        })
    );
    assert!(!why.server_ended());
}

/// `pane_output_after` reads a pane's output from the moment tmux ran the
/// command: what tmux sent before its reply is not read, what it sent
/// after is, so the reply (a cursor, say) is the state the reader
/// continues.
#[tokio::test]
async fn output_after_a_reply_is_exactly_what_followed_it() {
    let (client, mut fake) = attached().await;
    let pane = tmux_wire::protocol::PaneId(1);
    let reading = {
        let client = client.clone();
        tokio::spawn(async move { client.pane_output_after(pane, ["display"]).await })
    };
    let mut from = fake.from_client.take().unwrap();
    let mut written = Vec::new();
    while !written.ends_with(b"display\n") {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(LIMIT, from.read(&mut buf))
            .await
            .expect("the command is written")
            .unwrap();
        assert!(n > 0, "the command is written");
        written.extend_from_slice(&buf[..n]);
    }
    fake.to_client
        .write_all(b"%output %1 before\\015\\012\n%begin 2 2 1\n3\n%end 2 2 1\n%output %1 after\n")
        .await
        .unwrap();
    let (mut output, reply) = tokio::time::timeout(LIMIT, reading)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.content(), [bytes::Bytes::from_static(b"3")]);
    let first = tokio::time::timeout(LIMIT, output.next()).await.unwrap();
    assert_eq!(
        first,
        Some(tmux_wire::client::PaneEvent::Output(
            bytes::Bytes::from_static(b"after")
        ))
    );
    drop(fake);
}
