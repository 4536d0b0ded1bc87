//! # mydht-basetest
//!
//! What MyDHT tests and demos share (being written).
