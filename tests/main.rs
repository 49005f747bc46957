//! All integration tests, in one binary. They run the real `sealift` binary against real
//! `docker-registry` processes started on free 127.0.0.1 ports (see `support`).

mod support;

mod access;
mod admission;
mod audit;
mod faults;
mod gate;
mod hardening;
mod inventory;
mod promises;
mod promises_load;
mod registry;
mod resume;
mod save_load;
mod seal;
mod sign;
mod verify_cli;
mod verify_rules;
