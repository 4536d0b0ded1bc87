//! The may hub's coroutine stacks: how many there are and which of their
//! pages are resident (`mincore(2)`), counted from the top of the stack
//! (where a coroutine starts) down to its bottom.
//!
//! A coroutine stack is found in `/proc/self/maps` as a private anonymous
//! read-write area right above a 4 KiB inaccessible guard page, of the size
//! the may profile gives its coroutines; std's thread stacks are larger.

use std::fmt::Write as _;

const PAGE: usize = 4096;

/// Resident pages of the coroutine stacks of one size.
pub struct StackPages {
    /// Stacks found.
    pub stacks: usize,
    /// Resident pages, all stacks.
    pub resident: usize,
    /// Stacks with page `i` (0: the top) resident.
    pub by_page: Vec<usize>,
}

impl StackPages {
    /// The stacks of `bytes` in this process now.
    pub fn now(bytes: usize) -> Self {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let mut found = StackPages {
            stacks: 0,
            resident: 0,
            by_page: vec![0; bytes / PAGE],
        };
        let mut guard_end = None;
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            let anonymous = fields.nth(3).is_none();
            let Some((start, end)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) else {
                continue;
            };
            if anonymous && perms == "rw-p" && end - start == bytes && guard_end == Some(start) {
                found.count(start, bytes);
            }
            guard_end = (anonymous && perms == "---p" && end - start == PAGE).then_some(end);
        }
        found
    }

    fn count(&mut self, start: usize, bytes: usize) {
        let mut vec = vec![0u8; bytes / PAGE];
        // SAFETY: `start..start + bytes` is a mapping of this process (it may
        // have gone since /proc/self/maps was read: then mincore fails).
        let ok = unsafe { libc::mincore(start as *mut libc::c_void, bytes, vec.as_mut_ptr()) };
        if ok != 0 {
            return;
        }
        self.stacks += 1;
        for (i, v) in vec.iter().rev().enumerate() {
            if v & 1 != 0 {
                self.resident += 1;
                self.by_page[i] += 1;
            }
        }
    }

    /// "N stacks, R resident pages each; page i: share of stacks..." for
    /// the pages resident in at least 1 % of them.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} stacks of {} KiB, {:.2} resident pages each (",
            self.stacks,
            self.by_page.len() * PAGE / 1024,
            self.resident as f64 / self.stacks.max(1) as f64
        );
        for (i, n) in self.by_page.iter().enumerate() {
            let share = *n as f64 / self.stacks.max(1) as f64;
            if share >= 0.01 {
                let _ = write!(out, "page {i} from the top: {:.0} %; ", share * 100.0);
            }
        }
        out.push(')');
        out
    }
}
