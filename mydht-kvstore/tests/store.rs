//! Both stores pass one behaviour suite; the redb store persists and
//! refuses files that are not its own.

mod common;

use std::error::Error as _;

use common::{identity, value, TempDir, T0};
use mydht_base::{ErrorKind, ErrorLevel, KVStore};
use mydht_kvstore::store::STORE_FILE_NAME;
use mydht_kvstore::{
    Key, ManualClock, MemoryValueStore, RedbStore, SignedValue, StoreConf, StoreError, Stored,
    ValueError, ValueLimits, ValueStore,
};

const HOUR: u64 = 3_600_000;

fn conf(capacity: usize) -> StoreConf {
    StoreConf {
        limits: ValueLimits {
            max_value_len: 1024,
        },
        capacity,
    }
}

/// The behaviour every store shows: `make` gives an empty store of the
/// given capacity reading the given clock.
fn behaviour_suite<S>(mut make: impl FnMut(usize, ManualClock) -> S)
where
    S: ValueStore + KVStore<SignedValue>,
{
    let (alice, bob) = (identity(1), identity(2));
    let clock = ManualClock::new(T0);
    let mut store = make(8, clock.clone());
    assert!(KVStore::is_empty(&store));

    // Stored, then read back both ways.
    let v1 = value(&alice, "k", b"one", T0, HOUR);
    assert_eq!(store.put_at(v1.clone(), T0).unwrap(), Stored::New);
    assert_eq!(store.get_at(v1.key(), T0).unwrap(), Some(v1.clone()));
    assert_eq!(KVStore::get(&store, v1.key()), Some(v1.clone()));
    assert_eq!(KVStore::len(&store), 1);

    // A bad signature, an over-size value, an expired value: refused, the
    // stored value kept.
    let mut parts = value(&alice, "k", b"two", T0 + 1, HOUR).to_parts();
    parts.value = b"forged".to_vec();
    let forged = SignedValue::from_parts(parts);
    assert!(matches!(
        store.put_at(forged.clone(), T0 + 1),
        Err(StoreError::Refused(ValueError::BadSignature { .. }))
    ));
    let big = value(&alice, "k", &[0; 1025], T0 + 1, HOUR);
    assert!(matches!(
        store.put_at(big, T0 + 1),
        Err(StoreError::Refused(ValueError::TooLarge {
            len: 1025,
            max: 1024
        }))
    ));
    let stale = value(&alice, "k", b"stale", T0 - HOUR, HOUR);
    assert!(matches!(
        store.put_at(stale, T0),
        Err(StoreError::Refused(ValueError::Expired { .. }))
    ));
    // Through the KVStore trait: the same refusal as a mydht_base::Error
    // keeping the StoreError as its cause.
    let e = KVStore::put(&mut store, forged).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.level(), ErrorLevel::Ignore);
    let cause = e.source().and_then(|s| s.downcast_ref::<StoreError>());
    assert!(
        matches!(
            cause,
            Some(StoreError::Refused(ValueError::BadSignature { .. }))
        ),
        "{cause:?}"
    );
    assert_eq!(store.get_at(v1.key(), T0).unwrap(), Some(v1.clone()));

    // Older and equal versions of the same publisher refused, a newer one
    // accepted.
    let older = value(&alice, "k", b"older", T0 - 1, HOUR);
    assert!(matches!(
        store.put_at(older, T0),
        Err(StoreError::Refused(ValueError::Older {
            stored: T0,
            offered
        })) if offered == T0 - 1
    ));
    let equal = value(&alice, "k", b"same version", T0, HOUR);
    assert!(matches!(
        store.put_at(equal, T0),
        Err(StoreError::Refused(ValueError::Older { .. }))
    ));
    assert!(matches!(
        store.put_at(v1.clone(), T0),
        Err(StoreError::Refused(ValueError::Older { .. }))
    ));
    let v2 = value(&alice, "k", b"two", T0 + 5, HOUR);
    assert_eq!(store.put_at(v2.clone(), T0 + 5).unwrap(), Stored::Replaced);
    assert_eq!(store.get_at(v2.key(), T0 + 5).unwrap(), Some(v2.clone()));
    assert_eq!(store.count(), 1);

    // Another publisher cannot take a live key, whatever its version...
    let bobs = value(&bob, "k", b"bob's", T0 + 10, HOUR);
    match store.put_at(bobs.clone(), T0 + 10) {
        Err(StoreError::Refused(ValueError::OtherPublisher { owner })) => {
            assert_eq!(owner, *alice.id())
        }
        other => panic!("{other:?}"),
    }
    // ...and can once it has expired: the expired value is not returned.
    let later = T0 + 5 + HOUR;
    assert_eq!(store.get_at(v2.key(), later).unwrap(), None);
    let bobs = value(&bob, "k", b"bob's", later, HOUR);
    assert_eq!(store.put_at(bobs.clone(), later).unwrap(), Stored::New);
    assert_eq!(store.get_at(bobs.key(), later).unwrap(), Some(bobs.clone()));

    // Remove.
    assert_eq!(store.remove_key(bobs.key()).unwrap(), Some(bobs.clone()));
    assert_eq!(store.remove_key(bobs.key()).unwrap(), None);
    assert_eq!(store.count(), 0);

    // Purge drops the expired values only, and the KVStore view (on the
    // clock) hides expired ones.
    for (i, ttl) in [(0, 10), (1, 20), (2, HOUR), (3, 10)] {
        let v = value(&alice, &format!("p{i}"), b"p", T0, ttl);
        store.put_at(v, T0).unwrap();
    }
    assert_eq!(store.purge(T0 + 15).unwrap(), 2);
    assert_eq!(store.count(), 2);
    assert_eq!(store.purge(T0 + 15).unwrap(), 0);
    assert!(store
        .get_at(&Key::hash_of(b"p2"), T0 + 15)
        .unwrap()
        .is_some());
    assert_eq!(store.get_at(&Key::hash_of(b"p3"), T0 + 15).unwrap(), None);
    clock.set(T0 + 20);
    assert_eq!(KVStore::get(&store, &Key::hash_of(b"p1")), None);
    assert!(KVStore::get(&store, &Key::hash_of(b"p2")).is_some());
    clock.set(T0 + 15);

    // KVStore put/remove on the clock.
    let kv = value(&bob, "kv", b"via the trait", T0 + 15, HOUR);
    KVStore::put(&mut store, kv.clone()).unwrap();
    assert_eq!(KVStore::get(&store, kv.key()), Some(kv.clone()));
    assert_eq!(KVStore::remove(&mut store, kv.key()), Some(kv));
}

/// A full store refuses new keys, keeps taking newer versions of its keys,
/// and makes room by dropping expired values only.
fn capacity_suite<S>(mut make: impl FnMut(usize, ManualClock) -> S)
where
    S: ValueStore + KVStore<SignedValue>,
{
    let alice = identity(1);
    let mut store = make(3, ManualClock::new(T0));
    let short = value(&alice, "a", b"a", T0, 10);
    store.put_at(short, T0).unwrap();
    store
        .put_at(value(&alice, "b", b"b", T0, HOUR), T0)
        .unwrap();
    store
        .put_at(value(&alice, "c", b"c", T0, HOUR), T0)
        .unwrap();
    assert_eq!(store.count(), 3);
    match store.put_at(value(&alice, "d", b"d", T0, HOUR), T0) {
        Err(StoreError::Full { capacity: 3 }) => {}
        other => panic!("{other:?}"),
    }
    // A newer version of a stored key needs no room.
    let b2 = value(&alice, "b", b"b2", T0 + 1, HOUR);
    assert_eq!(store.put_at(b2.clone(), T0 + 1).unwrap(), Stored::Replaced);
    // Once "a" has expired, "d" takes its place; nothing live is evicted.
    let d = value(&alice, "d", b"d", T0 + 10, HOUR);
    assert_eq!(store.put_at(d.clone(), T0 + 10).unwrap(), Stored::New);
    assert_eq!(store.count(), 3);
    assert_eq!(store.get_at(d.key(), T0 + 10).unwrap(), Some(d));
    assert_eq!(store.get_at(b2.key(), T0 + 10).unwrap(), Some(b2));
    assert!(store
        .get_at(&Key::hash_of(b"c"), T0 + 10)
        .unwrap()
        .is_some());
    assert!(matches!(
        store.put_at(value(&alice, "e", b"e", T0 + 10, HOUR), T0 + 10),
        Err(StoreError::Full { .. })
    ));
    assert_eq!(store.conf().capacity, 3);
}

#[test]
fn memory_store_behaviour() {
    behaviour_suite(|capacity, clock| MemoryValueStore::new(conf(capacity)).with_clock(clock));
}

#[test]
fn redb_store_behaviour() {
    let mut dirs: Vec<TempDir> = Vec::new();
    behaviour_suite(|capacity, clock| {
        dirs.push(TempDir::new("behaviour"));
        RedbStore::open(dirs.last().unwrap().path(), conf(capacity))
            .unwrap()
            .with_clock(clock)
    });
}

#[test]
fn memory_store_is_bounded() {
    capacity_suite(|capacity, clock| MemoryValueStore::new(conf(capacity)).with_clock(clock));
    // However many values are offered, it holds at most its capacity.
    let alice = identity(1);
    let mut store = MemoryValueStore::new(conf(16));
    let mut refused = 0;
    for i in 0..100 {
        let v = value(&alice, &format!("k{i}"), b"v", T0, HOUR);
        if let Err(StoreError::Full { capacity: 16 }) = store.put_at(v, T0) {
            refused += 1;
        }
        assert!(store.count() <= 16);
    }
    assert_eq!((store.count(), refused), (16, 84));
    assert_eq!(store.values().count(), 16);
}

#[test]
fn redb_store_is_bounded() {
    let dir = TempDir::new("bounded");
    let mut opened = 0;
    capacity_suite(|capacity, clock| {
        opened += 1;
        RedbStore::open(dir.path().join(opened.to_string()), conf(capacity))
            .unwrap()
            .with_clock(clock)
    });
}

#[test]
fn persistence_survives_reopen() {
    let dir = TempDir::new("reopen");
    let alice = identity(1);
    let kept = value(&alice, "kept", b"kept across reopen", T0, HOUR);
    let replaced = value(&alice, "replaced", b"first", T0, HOUR);
    let newer = value(&alice, "replaced", b"second", T0 + 1, HOUR);
    let removed = value(&alice, "removed", b"gone", T0, HOUR);
    {
        let mut store = RedbStore::open(dir.path(), conf(8)).unwrap();
        assert_eq!(store.path(), dir.path().join(STORE_FILE_NAME));
        store.put_at(kept.clone(), T0).unwrap();
        store.put_at(replaced, T0).unwrap();
        store.put_at(newer.clone(), T0 + 1).unwrap();
        store.put_at(removed.clone(), T0).unwrap();
        store.remove_key(removed.key()).unwrap();
        // While it is open, nobody else opens it.
        assert!(matches!(
            RedbStore::open(dir.path(), conf(8)),
            Err(StoreError::Locked { .. })
        ));
    }
    let mut store = RedbStore::open(dir.path(), conf(8)).unwrap();
    assert_eq!(store.count(), 2);
    assert_eq!(store.get_at(kept.key(), T0 + 2).unwrap(), Some(kept));
    assert_eq!(
        store.get_at(newer.key(), T0 + 2).unwrap(),
        Some(newer.clone())
    );
    assert_eq!(store.get_at(removed.key(), T0 + 2).unwrap(), None);
    // The policy holds across the reopen: the older version is still older.
    let older = value(&alice, "replaced", b"first again", T0, HOUR);
    assert!(matches!(
        store.put_at(older, T0 + 2),
        Err(StoreError::Refused(ValueError::Older { .. }))
    ));
    // And a purge after the reopen is kept by the next one.
    assert_eq!(store.purge(T0 + HOUR + 1).unwrap(), 2);
    drop(store);
    let store = RedbStore::open(dir.path(), conf(8)).unwrap();
    assert_eq!(store.count(), 0);
}

#[test]
fn persistence_rejects_foreign_file() {
    let garbage: Vec<u8> = (0u32..4096).map(|i| (i * 7 + 3) as u8).collect();
    let text = b"{\"not\": \"a redb file\"}\n".to_vec();
    for (what, bytes) in [("garbage", garbage), ("text", text)] {
        let dir = TempDir::new("foreign");
        let path = dir.path().join(STORE_FILE_NAME);
        std::fs::write(&path, &bytes).unwrap();
        match RedbStore::open(dir.path(), conf(8)) {
            Err(StoreError::NotAStore {
                path: p,
                reason: "not a redb database",
                ..
            }) => assert_eq!(p, path),
            other => panic!("{what}: {other:?}"),
        }
        // Left as it was, and reported as a fatal configuration error.
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}");
        let e: mydht_base::Error = RedbStore::open(dir.path(), conf(8)).unwrap_err().into();
        assert_eq!(
            (e.kind(), e.level()),
            (ErrorKind::Config, ErrorLevel::Fatal)
        );
    }
}

#[test]
fn persistence_rejects_another_programs_redb() {
    let dir = TempDir::new("other-redb");
    let path = dir.path().join(STORE_FILE_NAME);
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("other");
            txn.open_table(table).unwrap().insert("x", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    match RedbStore::open(dir.path(), conf(8)) {
        Err(StoreError::NotAStore { reason, .. }) => {
            assert_eq!(reason, "a redb database of another program")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn persistence_rejects_a_damaged_redb() {
    let dir = TempDir::new("damaged");
    RedbStore::open(dir.path(), conf(8)).unwrap();
    let path = dir.path().join(STORE_FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    // redb's magic number, then garbage.
    for (i, b) in bytes.iter_mut().enumerate().skip(9) {
        *b = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    // No panic, and a typed error keeping redb's.
    match RedbStore::open(dir.path(), conf(8)) {
        Err(e @ StoreError::NotAStore { .. }) => {
            assert!(e.source().is_some(), "{e:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// Set in the child process of [`persistence_survives_a_crash`]: the store
/// directory it writes to before it aborts.
const CRASH_DIR_VAR: &str = "MYDHT_KVSTORE_CRASH_DIR";

#[test]
fn persistence_survives_a_crash() {
    let alice = identity(1);
    let values: Vec<SignedValue> = (0..5)
        .map(|i| value(&alice, &format!("crash{i}"), b"committed", T0, HOUR))
        .collect();
    if let Some(dir) = std::env::var_os(CRASH_DIR_VAR) {
        // The child: every put is committed, then the process ends without
        // closing the database (no destructor runs, as in a crash; `exit`
        // rather than `abort` leaves no core file).
        let mut store = RedbStore::open(dir, conf(8)).unwrap();
        for v in &values {
            store.put_at(v.clone(), T0).unwrap();
        }
        std::process::exit(86);
    }
    let dir = TempDir::new("crash");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "persistence_survives_a_crash",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_VAR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(86), "the child ends mid-run");
    let mut store = RedbStore::open(dir.path(), conf(8)).unwrap();
    assert_eq!(store.count(), values.len());
    for v in &values {
        assert_eq!(store.get_at(v.key(), T0).unwrap().as_ref(), Some(v));
    }
}
