//! A hop that cannot go on reports back; the sender learns which hop failed
//! and why, as a typed error.

mod full_util;

use full_util::*;
use readwrite_comp::ExtRead;
use tunnel::full::ERROR_REPORT_LEN;
use tunnel::{HopFailure, HopKind, HopReader, TunnelConfig, TunnelError};

/// Reads the header of `frame` at `node`, whatever comes of it.
fn read_at(node: &Node, frame: &[u8]) -> HopReader {
    let mut reader = node.full.view().new_reader();
    let _ = reader.read_header(&mut &frame[..]);
    reader
}

#[test]
fn an_unreachable_next_hop_is_reported_to_the_sender() {
    let mut nodes = nodes(TunnelConfig::default(), 5);
    // Alice 0 -> 1 -> 2 -> 3 -> Bob 4; node 3 cannot reach Bob.
    let (frames, writer) = send_query(&mut nodes, 0, &[1, 2, 3, 4], None, b"x");
    let readers: Vec<HopReader> = (0..3).map(|k| read_at(&nodes[k + 1], &frames[k])).collect();
    let mut report = readers[2].error_report(HopFailure::Unreachable).unwrap();
    let on_the_wire = report;
    readers[1].wrap_error_report(&mut report).unwrap();
    // Each hop's layer changes the frame: two links cannot be matched.
    assert_ne!(report, on_the_wire);
    readers[0].wrap_error_report(&mut report).unwrap();
    let err = writer.read_error_report(&report);
    assert!(
        matches!(
            err,
            TunnelError::HopFailed {
                hop: 2,
                failure: HopFailure::Unreachable
            }
        ),
        "{err}"
    );
    // The keys taken apart from the writer read it the same, the writer
    // gone (a pump may hold it while the report comes).
    let reports = writer.report_reader();
    drop(writer);
    assert_eq!(reports.read(&report).to_string(), err.to_string());
    assert_eq!(reports.reply_relays(), None);
}

#[test]
fn a_bad_header_is_reported_as_the_hop_that_could_not_read_it() {
    let mut nodes = nodes(TunnelConfig::default(), 4);
    let (mut frames, writer) = send_query(&mut nodes, 0, &[1, 2, 3], None, b"x");
    frames[2][100] ^= 1;
    let r1 = read_at(&nodes[1], &frames[0]);
    let r2 = read_at(&nodes[2], &frames[1]);
    let r3 = read_at(&nodes[3], &frames[2]);
    assert_eq!(r3.kind(), None);
    let mut report = r3.error_report(HopFailure::BadContent).unwrap();
    assert!(r3.wrap_error_report(&mut report).is_err());
    r2.wrap_error_report(&mut report).unwrap();
    r1.wrap_error_report(&mut report).unwrap();
    let err = writer.read_error_report(&report);
    assert!(
        matches!(
            err,
            TunnelError::HopFailed {
                hop: 2,
                failure: HopFailure::BadHeader
            }
        ),
        "{err}"
    );
}

#[test]
fn the_exit_can_report_and_a_changed_report_is_refused() {
    let mut nodes = nodes(TunnelConfig::default(), 3);
    let (frames, writer) = send_query(&mut nodes, 0, &[1, 2], None, b"x");
    let r1 = read_at(&nodes[1], &frames[0]);
    let r2 = read_at(&nodes[2], &frames[1]);
    let mut report = r2.error_report(HopFailure::BadContent).unwrap();
    r1.wrap_error_report(&mut report).unwrap();
    assert!(matches!(
        writer.read_error_report(&report),
        TunnelError::HopFailed {
            hop: 1,
            failure: HopFailure::BadContent
        }
    ));
    for pos in 0..ERROR_REPORT_LEN {
        let mut bad = report;
        bad[pos] ^= 0x40;
        let err = writer.read_error_report(&bad);
        assert!(
            matches!(err, TunnelError::BadErrorReport),
            "byte {pos}: {err}"
        );
    }
    // Zeros behind every layer of a query without a reply route: nobody's.
    let mut zeros = [0u8; ERROR_REPORT_LEN];
    r2.wrap_error_report(&mut zeros).unwrap();
    r1.wrap_error_report(&mut zeros).unwrap();
    assert!(matches!(
        writer.read_error_report(&zeros),
        TunnelError::BadErrorReport
    ));
    // Another onion's writer recognises none of it.
    let (_, other) = send_query(&mut nodes, 0, &[1, 2], None, b"x");
    assert!(matches!(
        other.read_error_report(&report),
        TunnelError::BadErrorReport
    ));
}

#[test]
fn a_reply_relay_reports_back_through_the_exit_and_the_query_route() {
    let mut nodes = nodes(TunnelConfig::default(), 5);
    // Query Alice 0 -> 1 -> Bob 2; reply Bob -> 3 -> 4 -> Alice.
    let (frames, writer) = send_query(&mut nodes, 0, &[1, 2], Some(&[3, 4, 0]), b"x");
    assert_eq!(writer.reply_relays(), Some(2));
    let r1 = read_at(&nodes[1], &frames[0]);
    let mut bob = nodes[2].full.view().new_reader();
    let mut input = &frames[1][..];
    bob.read_header(&mut input).unwrap();
    assert_eq!(read_payload(&mut bob, &mut input).unwrap(), b"x");
    let mut reply = bob.reply_writer().unwrap();
    let to_3 = write_message(&mut reply, b"pong").unwrap();
    let r3 = read_at(&nodes[3], &to_3);
    let next = nodes[4].address.clone();
    let to_4 = relay(&mut nodes[3], &to_3, HopKind::ReplyRelay, &next).unwrap();
    let r4 = read_at(&nodes[4], &to_4);
    // Each hop back to Alice adds its layer: the reply relays before the
    // failed hop, Bob, relay 1.
    let back = |mut report: [u8; ERROR_REPORT_LEN], through: &[&HopReader]| {
        for r in through.iter().chain([&&bob, &&r1]) {
            r.wrap_error_report(&mut report).unwrap();
        }
        writer.read_error_report(&report)
    };
    let cases: [(&HopReader, &[&HopReader], HopFailure, usize); 3] = [
        (&r4, &[&r3], HopFailure::BadContent, 1),
        (&r4, &[&r3], HopFailure::Unreachable, 1),
        (&r3, &[], HopFailure::Unreachable, 0),
    ];
    for (reader, through, failure, hop) in cases {
        let err = back(reader.error_report(failure).unwrap(), through);
        assert!(
            matches!(err, TunnelError::ReplyHopFailed { hop: h, failure: f } if h == hop && f == failure),
            "{err}"
        );
    }
    // A reply relay that could not read its header sends zeros.
    let err = back([0u8; ERROR_REPORT_LEN], &[&r3]);
    assert!(
        matches!(
            err,
            TunnelError::ReplyHopFailed {
                hop: 1,
                failure: HopFailure::BadHeader
            }
        ),
        "{err}"
    );
    // The sender could not read the reply's header: her zeros came back
    // around both routes, every hop adding its layer.
    let err = back([0u8; ERROR_REPORT_LEN], &[&r4, &r3]);
    assert!(
        matches!(
            err,
            TunnelError::ReplyHopFailed {
                hop: 2,
                failure: HopFailure::BadHeader
            }
        ),
        "{err}"
    );
    // The exit's own report stays a query-route hop's.
    let mut report = bob.error_report(HopFailure::Unreachable).unwrap();
    r1.wrap_error_report(&mut report).unwrap();
    assert!(matches!(
        writer.read_error_report(&report),
        TunnelError::HopFailed {
            hop: 1,
            failure: HopFailure::Unreachable
        }
    ));
}
