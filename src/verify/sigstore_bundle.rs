//! Sigstore bundle v0.3 (cosign v3's default signature format): placeholder.
