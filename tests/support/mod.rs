//! Shared test helpers: real registry processes, running the sealift binary, temp dirs.
#![allow(dead_code)]
