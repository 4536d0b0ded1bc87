//! # mydht-tcp
//!
//! TCP transports for MyDHT (being written).
