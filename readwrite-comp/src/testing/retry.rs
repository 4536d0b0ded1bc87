//! Repeating a call after `WouldBlock`, as a non-blocking caller does.

use std::io;

/// Most attempts [`retry`] makes before giving up.
pub const RETRY_LIMIT: usize = 1_000_000;

/// Calls `op` again while it fails with `WouldBlock` or `Interrupted` (the
/// resumability contract says the same call may be repeated), at most
/// [`RETRY_LIMIT`] times; then the last such error is returned.
///
/// ```
/// use readwrite_comp::testing::{retry, FaultPlan, FaultyReader};
/// use std::io::Read;
///
/// let mut r = FaultyReader::new(&b"abc"[..], FaultPlan::new().block_at([0, 1]));
/// let mut b = [0; 3];
/// let n = retry(|| r.read(&mut b))?;
/// assert_eq!(&b[..n], b"a"); // blocks stop reads at the chosen offsets
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut attempts = 0;
    loop {
        match op() {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                attempts += 1;
                if attempts >= RETRY_LIMIT {
                    return Err(e);
                }
            }
            res => return res,
        }
    }
}
