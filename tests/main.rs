//! All integration tests, in one binary. They run the real `sealift` binary against real
//! `docker-registry` processes started on free 127.0.0.1 ports (see `support`).

mod support;

mod audit;
mod registry;
mod save_load;
