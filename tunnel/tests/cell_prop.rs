//! Property: whatever the route, the payload size, the way writes and reads
//! are split and where the streams block, every hop forwards cells of one
//! length and the receiver reads exactly the payload.

mod cell_util;

use cell_util::*;
use proptest::prelude::*;
use tunnel::cell::{CellLayout, ENTRY_LEN};

const MAX_LAYERS: usize = 7;

fn schedule() -> impl Strategy<Value = Schedule> {
    prop::collection::vec(
        prop_oneof![1 => Just(None), 3 => (1usize..300).prop_map(Some)],
        0..8,
    )
    // A schedule made only of WouldBlock would never progress.
    .prop_map(|mut s| {
        s.push(Some(1 + s.len() * 37));
        s
    })
}

fn splits() -> impl Strategy<Value = Splits> {
    (
        prop::collection::vec(1usize..700, 0..6),
        prop::collection::vec(1usize..700, 0..6),
        schedule(),
        schedule(),
        any::<bool>(),
    )
        .prop_map(
            |(writes, reads, write_schedule, read_schedule, relay_by_read)| Splits {
                writes,
                reads,
                write_schedule,
                read_schedule,
                relay_by_read,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn query_and_reply_deliver_the_payload_whatever_the_splits(
        relays in 0usize..MAX_LAYERS,
        // The smallest cell keeps one data byte beside the link entry.
        cell_size in ((MAX_LAYERS + 1) * ENTRY_LEN + 1)..700,
        len in 0usize..2500,
        splits in splits(),
    ) {
        let layout = CellLayout::with_sizes(cell_size, MAX_LAYERS).unwrap();
        let data = payload(len);
        let expected = layout.cells_for(len as u64) as usize * cell_size;

        let (frames, got) = QueryRoute::new(layout, relays, 20).run(&data, &splits);
        prop_assert_eq!(&got, &data);
        for f in &frames {
            prop_assert_eq!(f.len(), expected);
        }

        let (frames, got) = ReplyRoute::new(layout, relays, 21).run(&data, &splits);
        prop_assert_eq!(&got, &data);
        let expected = layout.reply().cells_for(len as u64) as usize * cell_size;
        for f in &frames {
            prop_assert_eq!(f.len(), expected);
        }
    }
}
