//! All integration tests, in one binary. They run the real `sealift` binary against real
//! `docker-registry` processes started on free 127.0.0.1 ports (see `support`).

mod support;

mod access;
mod admission;
mod attach_bundle;
mod audit;
mod delta;
mod faults;
mod gate;
mod hardening;
mod inventory;
mod legacy_timestamp;
mod parallel;
mod pipe;
mod promises;
mod promises_load;
mod publish;
mod referrers_api;
mod registry;
mod resume;
mod save_load;
mod seal;
mod serve;
mod sign;
mod sign_bundle;
mod signature_checks;
mod verify_cli;
mod verify_rules;
mod volumes;
