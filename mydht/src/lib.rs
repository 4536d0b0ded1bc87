//! # mydht
//!
//! A MyDHT node. For now: the default peer identity, the three-message
//! authentication and the session shadow (stream encryption).
