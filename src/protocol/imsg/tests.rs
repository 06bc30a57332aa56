//! The imsg codec's tests: captured vectors byte for byte, refusals,
//! round trips and garbage.

use super::*;
use crate::protocol::ProtocolError;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The vectors captured with strace (control-samples.txt and section 1.2).
#[cfg(target_endian = "little")]
#[test]
fn captured_vectors_byte_for_byte() {
    use HeaderLayout::{A, B};
    let cases: Vec<(Message, HeaderLayout, &str)> = vec![
        (
            Message::IdentifyFlags(0x10012000),
            A,
            "64000000 1400 0000 08000000 ffffffff 00200110",
        ),
        (
            Message::IdentifyStdin,
            A,
            "68000000 1000 0100 08000000 ffffffff",
        ),
        (
            Message::IdentifyStdin,
            B,
            "68000000 10000080 08000000 ffffffff",
        ),
        (
            Message::Command(vec![b"attach".to_vec()]),
            A,
            "c8000000 1b00 0000 08000000 ffffffff 01000000 61747461636800",
        ),
        (
            Message::Exit {
                retval: Some(0),
                message: None,
            },
            A,
            "cb000000 1400 0000 08000000 ffffffff 00000000",
        ),
        (
            Message::Detach(b"ns1".to_vec()),
            A,
            "c9000000 1400 0000 08000000 ffffffff 6e733100",
        ),
        (
            Message::IdentifyLongFlags(0x4010012000),
            B,
            "6f000000 18000000 08000000 ffffffff 0020011040000000",
        ),
        (Message::Version, A, "0c000000 1000 0000 08000000 ffffffff"),
        // Appendix A.
        (
            Message::IdentifyFlags(0x12000),
            A,
            "64000000 1400 0000 08000000 ffffffff 00200100",
        ),
        (
            Message::IdentifyLongFlags(0x12000),
            A,
            "6f000000 1800 0000 08000000 ffffffff 0020010000000000",
        ),
        (
            Message::IdentifyTerm(b"xterm".to_vec()),
            A,
            "65000000 1600 0000 08000000 ffffffff 787465726d00",
        ),
        (
            Message::IdentifyTtyName(Vec::new()),
            A,
            "66000000 1100 0000 08000000 ffffffff 00",
        ),
        (
            Message::IdentifyCwd(b"/".to_vec()),
            A,
            "6c000000 1200 0000 08000000 ffffffff 2f00",
        ),
        (
            Message::IdentifyStdout,
            A,
            "6e000000 1000 0100 08000000 ffffffff",
        ),
        (
            Message::IdentifyStdout,
            B,
            "6e000000 10000080 08000000 ffffffff",
        ),
        (
            Message::IdentifyDone,
            A,
            "6a000000 1000 0000 08000000 ffffffff",
        ),
    ];
    for (m, layout, want) in cases {
        let got = m.encode(layout).unwrap();
        assert_eq!(got, hex(want), "{m:?} {layout:?}");
        let mut d = Decoder::new(layout);
        d.feed(&got);
        let frame = d.next_frame().unwrap().unwrap();
        assert_eq!(frame.has_fd, m.carries_fd());
        assert_eq!(frame.protocol_version(), PROTOCOL_VERSION);
        assert_eq!(Message::decode(&frame).unwrap(), m);
    }
}

#[cfg(target_endian = "little")]
#[test]
fn messages_without_fd_are_identical_in_both_layouts() {
    let m = Message::Command(vec![
        b"display-message".to_vec(),
        b"-p".to_vec(),
        b"#{version}".to_vec(),
    ]);
    assert_eq!(
        m.encode(HeaderLayout::A).unwrap(),
        m.encode(HeaderLayout::B).unwrap()
    );
}

#[test]
fn layout_from_version() {
    for (v, l) in [
        ("3.2", HeaderLayout::A),
        ("3.3a", HeaderLayout::A),
        ("3.5a", HeaderLayout::A),
        ("3.6", HeaderLayout::B),
        ("3.6a", HeaderLayout::B),
        ("3.7c", HeaderLayout::B),
        ("4.0", HeaderLayout::B),
        ("next-3.8", HeaderLayout::B),
        ("master", HeaderLayout::B),
        ("openbsd-7.5", HeaderLayout::A),
        ("", HeaderLayout::A),
    ] {
        assert_eq!(HeaderLayout::for_server_version(v), l, "{v}");
    }
}

#[test]
fn encoder_refusals() {
    let too_big = Message::IdentifyEnviron(vec![b'x'; MAX_PAYLOAD_LEN]);
    assert!(too_big.encode(HeaderLayout::A).is_err());
    let fits = Message::IdentifyEnviron(vec![b'x'; MAX_PAYLOAD_LEN - 1]);
    assert_eq!(fits.encode(HeaderLayout::A).unwrap().len(), MAX_MESSAGE_LEN);
    assert!(Message::IdentifyTerm(b"a\0b".to_vec())
        .encode(HeaderLayout::A)
        .is_err());
    assert!(Message::Command(vec![b"a\0".to_vec()])
        .encode(HeaderLayout::A)
        .is_err());
    assert!(Message::Other {
        typ: msg::EXITING,
        payload: vec![1]
    }
    .encode(HeaderLayout::A)
    .is_err());
    assert!(Message::Exit {
        retval: None,
        message: Some(b"x".to_vec())
    }
    .encode(HeaderLayout::A)
    .is_err());
}

#[test]
fn decoder_rejects_bad_lengths_once() {
    for layout in [HeaderLayout::A, HeaderLayout::B] {
        let mut d = Decoder::new(layout);
        let mut h = msg::EXIT.to_ne_bytes().to_vec();
        h.extend_from_slice(&[8, 0, 0, 0]); // len 8 < 16
        h.extend_from_slice(&[0; 8]);
        d.feed(&h);
        assert!(matches!(
            d.next_frame(),
            Some(Err(ProtocolError::BadFrameLength { .. }))
        ));
        assert!(d.next_frame().is_none());
        assert!(d.is_broken());
    }
    // The 3.6+ STDIN header read with the old layout: len 0x10010 reads as 16, flags 0x8000.
    let mut d = Decoder::new(HeaderLayout::B);
    d.feed(&Message::IdentifyStdin.encode(HeaderLayout::A).unwrap());
    let f = d.next_frame().unwrap();
    assert!(
        matches!(f, Err(ProtocolError::BadFrameLength { len: 0x10010 })),
        "{f:?}"
    );
}

#[test]
fn payload_errors() {
    let frame = |typ, payload: &[u8]| Frame {
        typ,
        has_fd: false,
        peerid: 8,
        payload: payload.to_vec(),
    };
    assert!(Message::decode(&frame(msg::EXITING, b"x")).is_err());
    assert!(Message::decode(&frame(msg::DETACH, b"ns1")).is_err());
    assert!(Message::decode(&frame(msg::FLAGS, b"1234")).is_err());
    assert!(Message::decode(&frame(msg::COMMAND, b"\x02\0\0\0a\0")).is_err());
    assert!(Message::decode(&frame(msg::WRITE_OPEN, b"\x01\0\0\0")).is_err());
    assert_eq!(
        Message::decode(&frame(msg::EXIT, b"\x00\0\0\0too far behind\0")).unwrap(),
        Message::Exit {
            retval: Some(0),
            message: Some(b"too far behind".to_vec())
        }
    );
    assert_eq!(
        Message::decode(&frame(999, b"zz")).unwrap(),
        Message::Other {
            typ: 999,
            payload: b"zz".to_vec()
        }
    );
}

fn bytes_no_nul() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(1u8..=255, 0..40)
}

fn any_message() -> impl Strategy<Value = Message> {
    use Message as M;
    prop_oneof![
        Just(M::Version),
        any::<i32>().prop_map(M::IdentifyFlags),
        bytes_no_nul().prop_map(M::IdentifyTerm),
        bytes_no_nul().prop_map(M::IdentifyTtyName),
        Just(M::IdentifyStdin),
        Just(M::IdentifyStdout),
        bytes_no_nul().prop_map(M::IdentifyEnviron),
        Just(M::IdentifyDone),
        any::<i32>().prop_map(M::IdentifyClientPid),
        bytes_no_nul().prop_map(M::IdentifyCwd),
        any::<u64>().prop_map(M::IdentifyLongFlags),
        proptest::collection::vec(bytes_no_nul(), 0..6).prop_map(M::Command),
        bytes_no_nul().prop_map(M::Detach),
        (
            proptest::option::of(any::<i32>()),
            proptest::option::of(bytes_no_nul())
        )
            .prop_map(|(r, m)| M::Exit {
                retval: r.or(m.as_ref().map(|_| 1)),
                message: m
            }),
        Just(M::Exited),
        Just(M::Exiting),
        Just(M::Shutdown),
        (bytes_no_nul(), bytes_no_nul()).prop_map(|(command, shell)| M::Exec { command, shell }),
        any::<u64>().prop_map(M::Flags),
        (any::<i32>(), any::<i32>(), bytes_no_nul()).prop_map(|(stream, fd, path)| M::ReadOpen {
            stream,
            fd,
            path
        }),
        (any::<i32>(), any::<i32>(), any::<i32>(), bytes_no_nul()).prop_map(
            |(stream, fd, flags, path)| M::WriteOpen {
                stream,
                fd,
                flags,
                path
            }
        ),
        (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(stream, data)| M::Write { stream, data }),
        (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(stream, data)| M::Read { stream, data }),
        (any::<i32>(), any::<i32>()).prop_map(|(stream, error)| M::WriteReady { stream, error }),
        (any::<i32>(), any::<i32>()).prop_map(|(stream, error)| M::ReadDone { stream, error }),
        any::<i32>().prop_map(|stream| M::WriteClose { stream }),
        (1000u32..2000, proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(typ, payload)| M::Other { typ, payload }),
    ]
}

proptest! {
    #[test]
    fn encode_decode_round_trip(
        msgs in proptest::collection::vec(any_message(), 1..12),
        b in any::<bool>(),
        cuts in proptest::collection::vec(1usize..64, 0..20),
    ) {
        let layout = if b { HeaderLayout::B } else { HeaderLayout::A };
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend(m.encode(layout).unwrap());
        }
        let mut d = Decoder::new(layout);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().chain(std::iter::repeat(&usize::MAX)) {
            if rest.is_empty() { break; }
            let (now, later) = rest.split_at((*cut).min(rest.len()));
            d.feed(now);
            rest = later;
            while let Some(f) = d.next_frame() {
                let f = f.unwrap();
                prop_assert_eq!(f.has_fd, matches!(Message::decode(&f).unwrap(), Message::IdentifyStdin | Message::IdentifyStdout));
                got.push(Message::decode(&f).unwrap());
            }
        }
        prop_assert_eq!(got, msgs);
        prop_assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), b in any::<bool>()) {
        let mut d = Decoder::new(if b { HeaderLayout::B } else { HeaderLayout::A });
        d.feed(&bytes);
        while let Some(f) = d.next_frame() {
            if let Ok(f) = f { let _ = Message::decode(&f); }
        }
    }
}

/// The one table agrees with the decoder: a type with a variant of its own
/// never decodes as `Other`, and its number and name round-trip.
#[test]
fn the_type_table_matches_the_decoder() {
    for typ in 0..1000 {
        let frame = Frame {
            typ,
            has_fd: false,
            peerid: PROTOCOL_VERSION,
            payload: Vec::new(),
        };
        match Message::decode(&frame) {
            Ok(Message::Other { .. }) => assert!(variant_of(typ).is_none(), "{typ}"),
            Ok(m) => {
                assert_eq!(m.typ(), typ);
                assert_eq!(msg::name(typ), Some(m.kind()));
                assert!(variant_of(typ).is_some(), "{typ}");
            }
            // Only a known type has a payload shape to get wrong.
            Err(_) => assert!(variant_of(typ).is_some(), "{typ}"),
        }
    }
    assert_eq!(msg::name(msg::IDENTIFY_OLDCWD), Some("IDENTIFY_OLDCWD"));
    assert_eq!(variant_of(msg::IDENTIFY_OLDCWD), None);
}
