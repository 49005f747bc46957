//! The registry client (`sealift::registry`) against real distribution registries, plus an
//! in-process misbehaving server for faults a real registry cannot show.

use crate::support::*;

#[test]
fn harness_starts_registries() {
    let reg = TestRegistry::start();
    let img = random_image(&reg.addr, "harness/plain", "v1", &[10, 2000]);
    assert_eq!(skopeo_inspect_raw(&format!("{}/harness/plain:v1", reg.addr)), img.manifest);
    let auth = TestRegistry::start_with_auth("alice", "s3cret");
    let r = Raw::new(&auth.addr).request("GET", "/v2/", &[], b"");
    assert_eq!(r.status, 401);
    Raw::new(&auth.addr).with_basic("alice", "s3cret").random_image("harness/auth", "v1", &[5]);
    let (tls, ca) = TestRegistry::start_tls();
    assert!(ca.exists() && tls.addr.starts_with("127.0.0.1:"));
}
