//! A node on a redb directory, stopped and started again on it, still
//! serves its values, to itself and to a peer, and still holds their
//! versions.

mod common;
mod dht_support;

use common::TempDir;
use dht_support::{conf, link, wait_peers, walk, T};
use mydht::prelude::Peer;
use mydht::service::kvstore::QueryMode;
use mydht_kvstore::dht::{Dht, DhtError, DhtSettings, Refusal, StoreChoice};
use mydht_kvstore::{Key, SignedValue, StoreError};

fn on_disk(dir: &TempDir) -> DhtSettings {
    DhtSettings {
        store: StoreChoice::Redb(dir.path().to_path_buf()),
        ..DhtSettings::default()
    }
}

#[test]
fn persistence_restarted_node_serves_its_values() {
    let dir = TempDir::new("dht-restart");
    let keys: Vec<Key> = (0..3)
        .map(|i| Key::hash_of(format!("kept {i}").as_bytes()))
        .collect();
    let first = Dht::start(conf(41, on_disk(&dir), None)).unwrap();
    for (i, k) in keys.iter().enumerate() {
        first.put(*k, vec![i as u8; 8], T).unwrap();
    }
    let held = first.get(keys[0], T).unwrap();
    first.stop().unwrap();

    // Same identity, same directory, a new port.
    let again = Dht::start(conf(41, on_disk(&dir), None)).unwrap();
    let peer = Dht::start(conf(42, DhtSettings::default(), None)).unwrap();
    link(&peer, &again);
    wait_peers(&again, 1);
    for (i, k) in keys.iter().enumerate() {
        let v = peer.get_with(*k, walk(QueryMode::AProxy, 1), T).unwrap();
        assert_eq!(v[0].value(), vec![i as u8; 8].as_slice());
        assert_eq!(v[0].publisher(), *again.local_peer().get_id());
    }
    // The version it held is still the one to beat.
    let older = SignedValue::sign_versioned(
        &dht_support::identity(41),
        keys[0],
        b"older".to_vec(),
        held.version() - 1,
        held.expires_at(),
    )
    .unwrap();
    match again.put_signed(older, walk(QueryMode::AProxy, 0), T) {
        Err(DhtError::Refused(Refusal::Older { stored, .. })) => {
            assert_eq!(stored, held.version())
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(again.get(keys[0], T).unwrap(), held);
    again.stop().unwrap();
    peer.stop().unwrap();
}

/// A node started on a data directory whose `values.redb` is not a store
/// (another program's file) fails to start with the store's clear error,
/// `StoreError::NotAStore` in its chain of causes, and leaves the file as
/// it was.
#[test]
fn persistence_a_foreign_file_is_a_clear_error() {
    let dir = TempDir::new("dht-foreign");
    let file = dir.path().join("values.redb");
    let foreign = b"#!/bin/sh\necho not a store\n".repeat(100);
    std::fs::write(&file, &foreign).unwrap();
    let err = match Dht::start(conf(43, on_disk(&dir), None)) {
        Err(e) => e,
        Ok(d) => {
            d.stop().unwrap();
            panic!("a node started on a foreign file");
        }
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut not_a_store = false;
    while let Some(e) = cause {
        if let Some(StoreError::NotAStore { .. }) = e.downcast_ref::<StoreError>() {
            not_a_store = true;
        }
        cause = e.source();
    }
    assert!(not_a_store, "{err}: {err:?}");
    assert!(err.to_string().contains("not a"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), foreign, "left as it was");
}
