//! The identity file: saved owner-only, loaded back the same, refused when
//! others may read it or when it does not hold the right keys.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use mydht::{Identity, PeerId};
use mydht_base::{ErrorKind, ErrorLevel, Peer};

/// A fresh path in a per-test directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mydht-identity-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn an_identity_survives_save_and_load() {
    let dir = TempDir::new();
    let path = dir.file("id.pem");
    let identity = Identity::generate().unwrap();
    identity.save(&path).unwrap();
    let loaded = Identity::load(&path).unwrap();
    assert_eq!(loaded.id(), identity.id());
    assert_eq!(loaded.identity_key(), identity.identity_key());
    assert_eq!(loaded.tunnel_key(), identity.tunnel_key());
    // Same secret key: same (deterministic Ed25519) signature.
    assert_eq!(loaded.sign(b"m").unwrap(), identity.sign(b"m").unwrap());
}

#[test]
fn the_id_is_the_sha256_of_the_public_key() {
    let identity = Identity::generate().unwrap();
    let digest = openssl::sha::sha256(identity.identity_key());
    assert_eq!(identity.id().as_bytes(), &digest);
    assert_eq!(*identity.id(), PeerId::of_key(identity.identity_key()));
    let info = identity.peer_info("10.0.0.1:4000".into()).unwrap();
    assert_eq!(info.get_id(), identity.id());
    assert_eq!(info.tunnel_public_key(), identity.tunnel_key());
}

#[test]
fn the_file_is_created_owner_only() {
    let dir = TempDir::new();
    let path = dir.file("id.pem");
    Identity::generate().unwrap().save(&path).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn saving_over_a_readable_file_makes_it_owner_only() {
    let dir = TempDir::new();
    let path = dir.file("id.pem");
    fs::write(&path, "old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    Identity::generate().unwrap().save(&path).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    Identity::load(&path).unwrap();
}

#[test]
fn a_file_others_may_read_is_refused() {
    let dir = TempDir::new();
    let path = dir.file("id.pem");
    Identity::generate().unwrap().save(&path).unwrap();
    for mode in [0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let err = Identity::load(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "mode {mode:o}");
        assert_eq!(err.level(), ErrorLevel::Fatal);
    }
}

#[test]
fn a_file_without_valid_keys_is_refused() {
    let dir = TempDir::new();
    let path = dir.file("id.pem");
    let wrong_type = [
        openssl::pkey::PKey::generate_x25519().unwrap(),
        openssl::pkey::PKey::generate_ed25519().unwrap(),
    ]
    .iter()
    .flat_map(|k| k.private_key_to_pem_pkcs8().unwrap())
    .collect::<Vec<u8>>();
    let truncated = {
        Identity::generate().unwrap().save(&path).unwrap();
        let pem = fs::read(&path).unwrap();
        pem[..pem.len() / 3].to_vec()
    };
    let bad: [&[u8]; 5] = [
        b"",
        b"not a key at all",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        &wrong_type,
        &truncated,
    ];
    for content in bad {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = Identity::load(&path).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Decode,
            "{:?}",
            String::from_utf8_lossy(content)
        );
        assert_eq!(err.level(), ErrorLevel::Fatal);
    }
}

#[test]
fn an_oversized_file_is_refused_unread() {
    let dir = TempDir::new();
    let path = dir.file("id.pem");
    fs::write(&path, vec![b'A'; 1 << 20]).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        Identity::load(&path).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = TempDir::new();
    let err = Identity::load(dir.file("absent.pem")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io(std::io::ErrorKind::NotFound));
}
