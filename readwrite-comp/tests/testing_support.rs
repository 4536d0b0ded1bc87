//! The public test helpers behave as documented, since other crates' tests
//! rely on them; and layers work through `&mut` as well as boxed.

use readwrite_comp::testing::{retry, FaultPlan, FaultyReader, FaultyWriter};
use readwrite_comp::{CompR, CompW, LimiterR, LimiterW};
use std::io::{ErrorKind, Read, Write};

#[test]
fn blocks_come_exactly_at_the_chosen_offsets() {
    let data: Vec<u8> = (0..20).collect();
    let mut r = FaultyReader::new(&data[..], FaultPlan::new().block_at([0, 5, 12]));
    let mut b = [0; 20];
    let mut seen = Vec::new();
    let mut got = 0;
    while got < 20 {
        match r.read(&mut b[got..]) {
            Ok(n) => got += n,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock);
                seen.push(r.position());
            }
        }
    }
    assert_eq!(seen, [0, 5, 12]);
    assert_eq!(&b[..], &data[..]);
}

#[test]
fn max_io_cuts_every_call() {
    let mut w = FaultyWriter::new(Vec::new(), FaultPlan::new().max_io(3));
    assert_eq!(w.write(b"abcdefg").unwrap(), 3);
    let mut r = FaultyReader::new(&b"abcdefg"[..], FaultPlan::new().max_io(1));
    assert_eq!(r.read(&mut [0; 7]).unwrap(), 1);
}

#[test]
fn seeded_plans_repeat_and_always_let_retries_through() {
    let run = |seed| {
        let data = vec![7u8; 5000];
        let mut r = FaultyReader::new(&data[..], FaultPlan::new().max_io(64).seeded(seed, 900));
        let mut lens = Vec::new();
        let mut b = [0; 100];
        loop {
            let n = retry(|| r.read(&mut b)).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= 64);
            lens.push(n);
        }
        assert_eq!(lens.iter().sum::<usize>(), 5000);
        lens
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn layers_work_borrowed() {
    let mut layer = LimiterW::new(16).unwrap();
    let mut wire = Vec::new();
    for m in [&b"one"[..], b"two"] {
        let mut w = CompW::new(&mut wire, &mut layer);
        w.write_all(m).unwrap();
        w.write_end().unwrap();
    }
    let mut reader = LimiterR::new(16).unwrap();
    let mut stream = &wire[..];
    for m in [&b"one"[..], b"two"] {
        let mut r = CompR::new(&mut stream, &mut reader);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        r.read_end().unwrap();
        assert_eq!(got, m);
    }
    assert!(stream.is_empty());
}
