//! The default peer identity: who a node is and how it proves it.
//!
//! - [`Identity`]: the local node's secret keys — an Ed25519 signing key (its
//!   identity) and an X25519 key for the tunnel layers addressed to it —
//!   saved to and loaded from a PEM file readable by its owner only.
//! - [`PeerId`]: SHA-256 of an Ed25519 identity public key.
//! - [`PeerInfo`]: what a node knows of a peer (id, identity key, listening
//!   address, tunnel key); the handshake only builds one whose id is the hash
//!   of its key.
//! - [`LocalPeer`]: an identity together with its own [`PeerInfo`].
//! - [`KeyBinding`]: an identity's Ed25519 signature over its own two public
//!   keys, which proves to anyone that the X25519 tunnel key belongs to the
//!   identity (the known-key handshake of [`crate::auth`] relies on it).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::Signer as _;
use mydht_base::peer::X25519_PUBLIC_KEY_LEN;
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result};
use openssl::error::ErrorStack;
use openssl::pkey::{Id, PKey, PKeyRef, Private};

/// Length of an Ed25519 public key.
pub const IDENTITY_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a [`PeerId`] (a SHA-256 digest).
pub const PEER_ID_LEN: usize = 32;
/// Longest listening address a [`PeerInfo`] may carry, in bytes.
pub const MAX_ADDRESS_LEN: usize = 256;

/// An identity file is two small PEM blocks: anything larger is not one, and
/// is refused before it is read into memory.
const MAX_IDENTITY_FILE_LEN: u64 = 16 * 1024;
const PEM_END: &str = "-----END PRIVATE KEY-----";
/// What an identity signs to bind its tunnel key to itself.
const BINDING_LABEL: &[u8] = b"mydht key binding v1\0";

/// An identity's Ed25519 signature over its identity key and its X25519
/// tunnel key: proof that whoever holds the identity key chose that tunnel
/// key. Made once per identity ([`Identity::key_binding`]); checked by
/// [`KeyBinding::verify`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyBinding(pub [u8; SIGNATURE_LEN]);

impl fmt::Debug for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBinding(..)")
    }
}

impl KeyBinding {
    /// The signed message: a label, then both public keys.
    fn message(
        identity_key: &[u8; IDENTITY_KEY_LEN],
        tunnel_key: &[u8; X25519_PUBLIC_KEY_LEN],
    ) -> Vec<u8> {
        [BINDING_LABEL, &identity_key[..], &tunnel_key[..]].concat()
    }

    /// True when this is `identity_key`'s signature binding `tunnel_key`.
    /// One Ed25519 verification: callers cache the answer.
    pub fn verify(
        &self,
        identity_key: &[u8; IDENTITY_KEY_LEN],
        tunnel_key: &[u8; X25519_PUBLIC_KEY_LEN],
    ) -> bool {
        verify_signature(
            identity_key,
            &Self::message(identity_key, tunnel_key),
            &self.0,
        )
    }
}

/// True when `signature` is `identity_key`'s Ed25519 signature of
/// `message` (no pre-hash), checked strictly: a key or a signature's point
/// of small order, or a non-canonical encoding, is refused (with a
/// small-order key, anyone could sign for its peer id).
///
/// ed25519-dalek rather than openssl 3.0: the signed handshake takes
/// 0.56 of the time it took with openssl's (the crate README's handshake
/// figures), and the signatures are the same (Ed25519 signing is
/// deterministic; a test checks both libraries accept each other's).
pub(crate) fn verify_signature(
    identity_key: &[u8; IDENTITY_KEY_LEN],
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(identity_key) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &signature).is_ok()
}

/// A peer's id: SHA-256 of its Ed25519 identity public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId([u8; PEER_ID_LEN]);

impl PeerId {
    /// The id of the peer owning `identity_key`. Hashed by openssl's
    /// streaming SHA-256, whose one-shot `SHA256` fetches the digest anew
    /// on every call in openssl 3 (twice per known-key flight accepted).
    pub fn of_key(identity_key: &[u8; IDENTITY_KEY_LEN]) -> Self {
        let mut hash = openssl::sha::Sha256::new();
        hash.update(identity_key);
        PeerId(hash.finish())
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; PEER_ID_LEN] {
        &self.0
    }
}

impl From<[u8; PEER_ID_LEN]> for PeerId {
    fn from(bytes: [u8; PEER_ID_LEN]) -> Self {
        PeerId(bytes)
    }
}

impl fmt::Display for PeerId {
    /// Lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for PeerId {
    /// The first 8 bytes in hex: enough to tell peers apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId(")?;
        self.0[..8].iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "…)")
    }
}

/// What a node knows of a peer, as proven by the handshake.
///
/// Built by [`Identity::peer_info`] for the local node, or by the handshake
/// from a peer's message after checking that the id is the hash of the key.
/// Cloning it allocates nothing (the address is shared), so services pass
/// it by value wherever a peer goes.
///
/// It may carry the peer's [`KeyBinding`] ([`key_binding`](Self::key_binding)):
/// a node's own always does, a peer learned from a handshake or from
/// another peer does when that peer sent it. A binding is a claim until a
/// node checks it (once per peer, before it dials known-key); equality and
/// hashing ignore it (the peer is its keys and address).
#[derive(Clone, Debug)]
pub struct PeerInfo {
    id: PeerId,
    identity_key: [u8; IDENTITY_KEY_LEN],
    address: Arc<String>,
    tunnel_key: [u8; X25519_PUBLIC_KEY_LEN],
    /// Shared as the address is: a peer stays small to move and to clone.
    binding: Option<Arc<KeyBinding>>,
}

impl PartialEq for PeerInfo {
    /// Id, keys and address; the binding is not compared.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.identity_key == other.identity_key
            && self.address == other.address
            && self.tunnel_key == other.tunnel_key
    }
}

impl Eq for PeerInfo {}

impl std::hash::Hash for PeerInfo {
    /// What equality compares.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.identity_key.hash(state);
        self.address.hash(state);
        self.tunnel_key.hash(state);
    }
}

impl PeerInfo {
    /// A peer info from its parts; the id is computed from the identity key.
    ///
    /// Fails with `TooLarge` when the address is longer than
    /// [`MAX_ADDRESS_LEN`].
    pub fn new(
        identity_key: [u8; IDENTITY_KEY_LEN],
        address: String,
        tunnel_key: [u8; X25519_PUBLIC_KEY_LEN],
    ) -> Result<Self> {
        if address.len() > MAX_ADDRESS_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::ShutDown,
                format!("peer address of {} bytes", address.len()),
            ));
        }
        Ok(PeerInfo {
            id: PeerId::of_key(&identity_key),
            identity_key,
            address: Arc::new(address),
            tunnel_key,
            binding: None,
        })
    }

    /// The same peer carrying `binding`, as the peer claims it (checked by
    /// whoever relies on it, see [`KeyBinding::verify`]).
    pub fn with_binding(mut self, binding: KeyBinding) -> Self {
        self.binding = Some(Arc::new(binding));
        self
    }

    /// The peer's Ed25519 identity public key.
    pub fn identity_key(&self) -> &[u8; IDENTITY_KEY_LEN] {
        &self.identity_key
    }

    /// The binding of the peer's tunnel key to its identity key, when known
    /// (not checked here): what lets a node dial the peer known-key at
    /// first contact.
    pub fn key_binding(&self) -> Option<&KeyBinding> {
        self.binding.as_deref()
    }
}

// Plain values: a command of the application may carry them across
// threads as they are (`sref_enum!` fields, say).
mydht_base::sref_as_itself!(PeerId, PeerInfo);

impl Peer for PeerInfo {
    type Id = PeerId;
    type Address = String;

    fn get_id(&self) -> &PeerId {
        &self.id
    }

    fn get_address(&self) -> &String {
        &self.address
    }

    fn tunnel_public_key(&self) -> &[u8; X25519_PUBLIC_KEY_LEN] {
        &self.tunnel_key
    }
}

/// The local node's secret keys: Ed25519 identity and X25519 tunnel key.
///
/// Cloning is cheap (the keys are reference counted).
///
/// ```
/// use mydht::Identity;
///
/// let path = std::env::temp_dir().join(format!("mydht-doc-{}.pem", std::process::id()));
/// let identity = Identity::generate()?;
/// identity.save(&path)?; // mode 0600
/// assert_eq!(Identity::load(&path)?.id(), identity.id());
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Identity {
    /// The identity key (ed25519-dalek signs: [`Identity::sign`]; openssl
    /// reads and writes it as PEM).
    signer: Arc<ed25519_dalek::SigningKey>,
    identity_key: [u8; IDENTITY_KEY_LEN],
    tunnel: PKey<Private>,
    tunnel_key: [u8; X25519_PUBLIC_KEY_LEN],
    id: PeerId,
    binding: KeyBinding,
}

impl fmt::Debug for Identity {
    /// Never prints the secret keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("id", &self.id).finish()
    }
}

impl Identity {
    /// A fresh identity with new random keys.
    pub fn generate() -> Result<Self> {
        init_crypto();
        let signing = PKey::generate_ed25519().map_err(crypto_error)?;
        let tunnel = PKey::generate_x25519().map_err(crypto_error)?;
        Self::from_keys(signing, tunnel)
    }

    /// The identity whose Ed25519 key is `seed` (its raw private key) and
    /// whose X25519 tunnel key is the SHA-256 of the seed: the same seed
    /// gives the same identity, so simulations and tests get the same peer
    /// ids run after run. The keys are as secret as the seed: never use a
    /// guessable seed for a real node.
    pub fn from_seed(seed: [u8; 32]) -> Result<Self> {
        init_crypto();
        let signing = PKey::private_key_from_raw_bytes(&seed, Id::ED25519).map_err(crypto_error)?;
        let tunnel_seed = openssl::sha::sha256(&seed);
        let tunnel =
            PKey::private_key_from_raw_bytes(&tunnel_seed, Id::X25519).map_err(crypto_error)?;
        Self::from_keys(signing, tunnel)
    }

    fn from_keys(signing: PKey<Private>, tunnel: PKey<Private>) -> Result<Self> {
        let identity_key = raw_public_key(&signing, Id::ED25519, "identity")?;
        let tunnel_key = raw_public_key(&tunnel, Id::X25519, "tunnel")?;
        let mut seed = signing.raw_private_key().map_err(crypto_error)?;
        let signer = <[u8; 32]>::try_from(seed.as_slice())
            .map(|seed| ed25519_dalek::SigningKey::from_bytes(&seed));
        seed.fill(0);
        let signer = signer.map_err(|_| {
            Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "identity key: not a 32-byte Ed25519 seed",
            )
        })?;
        if signer.verifying_key().as_bytes() != &identity_key {
            return Err(Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "identity key: openssl and ed25519-dalek disagree on its public key",
            ));
        }
        let binding = signer.sign(&KeyBinding::message(&identity_key, &tunnel_key));
        Ok(Identity {
            id: PeerId::of_key(&identity_key),
            signer: Arc::new(signer),
            identity_key,
            tunnel,
            tunnel_key,
            binding: KeyBinding(binding.to_bytes()),
        })
    }

    /// Loads an identity saved by [`Identity::save`].
    ///
    /// Fails with `Config` when the file may be read by anyone but its owner
    /// (its keys must be assumed leaked), `TooLarge` when it cannot be an
    /// identity file, `Decode` when it does not hold an Ed25519 then an X25519
    /// private key in PEM, and `Io` when it cannot be read. All are `Fatal`:
    /// a node cannot run without its identity.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        init_crypto();
        let path = path.as_ref();
        let fatal = |e: std::io::Error| Error::from(e).with_level(ErrorLevel::Fatal);
        let file = fs::File::open(path).map_err(fatal)?;
        let meta = file.metadata().map_err(fatal)?;
        check_owner_only(path, &meta)?;
        if meta.len() > MAX_IDENTITY_FILE_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                ErrorLevel::Fatal,
                format!("identity file {} is {} bytes", path.display(), meta.len()),
            ));
        }
        let mut pem = String::new();
        // `take` keeps the bound even if the file grows after the check.
        file.take(MAX_IDENTITY_FILE_LEN)
            .read_to_string(&mut pem)
            .map_err(|_| bad_identity_file(path, "not text"))?;
        let split = pem
            .find(PEM_END)
            .map(|i| i + PEM_END.len())
            .ok_or_else(|| bad_identity_file(path, "no PEM private key"))?;
        let (first, second) = pem.split_at(split);
        let signing = PKey::private_key_from_pem(first.as_bytes())
            .map_err(|_| bad_identity_file(path, "bad identity key"))?;
        let tunnel = PKey::private_key_from_pem(second.as_bytes())
            .map_err(|_| bad_identity_file(path, "bad tunnel key"))?;
        if signing.id() != Id::ED25519 || tunnel.id() != Id::X25519 {
            return Err(bad_identity_file(path, "keys are not Ed25519 then X25519"));
        }
        Self::from_keys(signing, tunnel).map_err(|e| e.with_level(ErrorLevel::Fatal))
    }

    /// Saves the identity as two PEM (PKCS#8) private keys, Ed25519 then
    /// X25519, in a file readable and writable by its owner only (mode 0600
    /// on Unix). An existing file is replaced.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut seed = self.signer.to_bytes();
        let signing = PKey::private_key_from_raw_bytes(&seed, Id::ED25519);
        seed.fill(0);
        let mut pem = signing
            .and_then(|key| key.private_key_to_pem_pkcs8())
            .map_err(crypto_error)?;
        pem.extend(
            self.tunnel
                .private_key_to_pem_pkcs8()
                .map_err(crypto_error)?,
        );
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path.as_ref())?;
        // An existing file keeps its mode on open: restrict it before writing
        // any secret into it.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(&pem)?;
        file.sync_all()?;
        Ok(())
    }

    /// This node's id.
    pub fn id(&self) -> &PeerId {
        &self.id
    }

    /// The Ed25519 identity public key.
    pub fn identity_key(&self) -> &[u8; IDENTITY_KEY_LEN] {
        &self.identity_key
    }

    /// The X25519 tunnel public key.
    pub fn tunnel_key(&self) -> &[u8; X25519_PUBLIC_KEY_LEN] {
        &self.tunnel_key
    }

    /// The signature binding [`tunnel_key`](Self::tunnel_key) to this
    /// identity, made when the identity was built.
    pub fn key_binding(&self) -> &KeyBinding {
        &self.binding
    }

    /// The X25519 tunnel private key, for the tunnel layers addressed to
    /// this node (and the static key of the known-key handshake).
    pub fn tunnel_private_key(&self) -> &PKeyRef<Private> {
        &self.tunnel
    }

    /// This node's [`PeerInfo`] when it listens on `address`, with its
    /// [`KeyBinding`].
    pub fn peer_info(&self, address: String) -> Result<PeerInfo> {
        PeerInfo::new(self.identity_key, address, self.tunnel_key)
            .map(|info| info.with_binding(self.binding))
    }

    /// Signs `message` with the identity key (Ed25519, no pre-hash).
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
        Ok(self.signer.sign(message).to_bytes())
    }
}

/// An [`Identity`] with the [`PeerInfo`] it announces.
#[derive(Clone, Debug)]
pub struct LocalPeer {
    identity: Identity,
    info: PeerInfo,
}

impl LocalPeer {
    /// The local node `identity` listening on `address`.
    pub fn new(identity: Identity, address: String) -> Result<Self> {
        let info = identity.peer_info(address)?;
        Ok(LocalPeer { identity, info })
    }

    /// The secret keys.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// What this node announces of itself.
    pub fn info(&self) -> &PeerInfo {
        &self.info
    }
}

/// An openssl failure: not the peer's fault, but the connection cannot go on.
/// The `ErrorStack` is kept as the source.
pub(crate) fn crypto_error(e: ErrorStack) -> Error {
    Error::new(
        ErrorKind::Other,
        ErrorLevel::ShutDown,
        format!("openssl: {e}"),
    )
    .with_source(e)
}

fn raw_public_key<const N: usize>(key: &PKey<Private>, id: Id, what: &str) -> Result<[u8; N]> {
    let raw = key.raw_public_key().map_err(crypto_error)?;
    if key.id() != id {
        return Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::Fatal,
            format!("{what} key has the wrong type"),
        ));
    }
    raw.try_into().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            ErrorLevel::Fatal,
            format!("{what} public key has the wrong length"),
        )
    })
}

fn bad_identity_file(path: &Path, why: &str) -> Error {
    Error::new(
        ErrorKind::Decode,
        ErrorLevel::Fatal,
        format!("identity file {}: {why}", path.display()),
    )
}

#[cfg(unix)]
fn check_owner_only(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorKind::Config,
            ErrorLevel::Fatal,
            format!(
                "identity file {} has mode {mode:o}: it must be readable by its owner only (0600)",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _meta: &fs::Metadata) -> Result<()> {
    Ok(())
}

/// Initialises openssl the way the `openssl` crate does (once, and without
/// registering `OPENSSL_cleanup` to run at process exit) before this crate's
/// first use of libcrypto. Some of the crate's calls (making an Ed25519 key,
/// for one) reach libcrypto without initialising it; libcrypto then
/// initialises itself and registers its cleanup at exit, which frees
/// per-thread state that service threads still running at exit free too
/// (a double free seen about once in 100 runs of a multi-node test binary).
pub(crate) fn init_crypto() {
    openssl::init();
}

#[cfg(test)]
mod tests {
    use super::{verify_signature, Identity, PeerId};
    use openssl::pkey::{Id, PKey};
    use openssl::sign::{Signer, Verifier};

    #[test]
    fn a_peer_id_is_the_sha256_of_its_identity_key() {
        for key in [[0u8; 32], [7; 32], [0xff; 32]] {
            assert_eq!(PeerId::of_key(&key).0, openssl::sha::sha256(&key));
        }
    }

    #[test]
    fn from_seed_is_deterministic_and_signs() {
        let a = Identity::from_seed([7; 32]).unwrap();
        let b = Identity::from_seed([7; 32]).unwrap();
        let c = Identity::from_seed([8; 32]).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.tunnel_key(), b.tunnel_key());
        assert_ne!(a.id(), c.id());
        assert_ne!(a.tunnel_key(), c.tunnel_key());
        // The tunnel key is not the identity key reused.
        assert_ne!(a.identity_key(), a.tunnel_key());
        // Ed25519 is deterministic: the same seed signs alike.
        assert_eq!(a.sign(b"m").unwrap(), b.sign(b"m").unwrap());
    }

    #[test]
    fn a_key_binding_verifies_for_its_own_keys_only() {
        let a = Identity::from_seed([7; 32]).unwrap();
        let c = Identity::from_seed([8; 32]).unwrap();
        assert!(a.key_binding().verify(a.identity_key(), a.tunnel_key()));
        // Another tunnel key, or another identity's binding: refused.
        assert!(!a.key_binding().verify(a.identity_key(), c.tunnel_key()));
        assert!(!c.key_binding().verify(a.identity_key(), a.tunnel_key()));
        assert!(!a.key_binding().verify(&[0; 32], a.tunnel_key()));
    }

    #[test]
    fn signatures_agree_with_openssl_both_ways() {
        let seed = [9; 32];
        let a = Identity::from_seed(seed).unwrap();
        let signing = PKey::private_key_from_raw_bytes(&seed, Id::ED25519).unwrap();
        let message = b"a transcript's signed message";
        // Ours, checked by openssl.
        let ours = a.sign(message).unwrap();
        let public = PKey::public_key_from_raw_bytes(a.identity_key(), Id::ED25519).unwrap();
        let mut check = Verifier::new_without_digest(&public).unwrap();
        assert!(check.verify_oneshot(&ours, message).unwrap());
        // openssl's, checked by ours: the same bytes (Ed25519 is deterministic).
        let mut theirs = [0u8; 64];
        Signer::new_without_digest(&signing)
            .unwrap()
            .sign_oneshot(&mut theirs, message)
            .unwrap();
        assert_eq!(theirs, ours);
        assert!(verify_signature(a.identity_key(), message, &theirs));
    }

    #[test]
    fn a_bad_signature_or_a_weak_key_is_refused() {
        let a = Identity::from_seed([7; 32]).unwrap();
        let message = b"m";
        let good = a.sign(message).unwrap();
        assert!(verify_signature(a.identity_key(), message, &good));
        // Another message, a flipped bit, a non-canonical S (S + L).
        assert!(!verify_signature(a.identity_key(), b"n", &good));
        let mut flipped = good;
        flipped[10] ^= 1;
        assert!(!verify_signature(a.identity_key(), message, &flipped));
        let mut s_plus_l = good;
        add_group_order(&mut s_plus_l[32..]);
        assert!(!verify_signature(a.identity_key(), message, &s_plus_l));
        // The identity point as a key, with the signature R = identity,
        // S = 0: it holds for every message under the cofactorless
        // equation, so only the strict check refuses it.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        let mut forged = [0u8; 64];
        forged[0] = 1;
        assert!(!verify_signature(&identity_point, message, &forged));
        assert!(!verify_signature(&identity_point, b"n", &forged));
    }

    /// Adds the order of Ed25519's group, little-endian, to `s` (32 bytes).
    fn add_group_order(s: &mut [u8]) {
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (b, l) in s.iter_mut().zip(L) {
            let sum = *b as u16 + l as u16 + carry;
            *b = sum as u8;
            carry = sum >> 8;
        }
    }
}
