//! # readwrite-comp
//!
//! Composable stream layers (placeholder, filled in by the readwrite-comp work).
