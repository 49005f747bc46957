//! The text and JSON renderings of an [`AuditReport`]. Text is for a terminal: a summary,
//! then one line per image with every failure reason and every rejected signature's
//! reason. Control characters from untrusted strings are escaped so a hostile reference
//! cannot rewrite the terminal.

use std::fmt::Write as _;

use super::report::{format_label, AuditReport, ImageReport, Outcome, PolicySource, SignatureVerdict, Subject};

/// Pretty JSON with a trailing newline; field order is the model's declaration order.
pub fn render_json(report: &AuditReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report is plain data");
    s.push('\n');
    s
}

/// Replaces control characters (ESC, CR, ...) with `\u{..}` escapes.
pub fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

pub fn render_text(r: &AuditReport) -> String {
    let mut out = String::new();
    let subject = match &r.subject {
        Subject::Bundle { path, size, index_digest } => {
            let mut s = format!("bundle {}", clean(path));
            if let Some(n) = size {
                let _ = write!(s, " ({})", crate::transfer::inspect::human(*n));
            }
            if let Some(d) = index_digest {
                let _ = write!(s, ", index.json {d}");
            }
            s
        }
        Subject::Registry { registry, prefix } if prefix.is_empty() => format!("registry {}", clean(registry)),
        Subject::Registry { registry, prefix } => format!("registry {}/{}", clean(registry), clean(prefix)),
    };
    let _ = writeln!(out, "sealift audit of {subject} at {}", r.generated_at);
    let policy = match (&r.policy.source, &r.policy.path) {
        (PolicySource::File, Some(p)) => format!("policy file {}", clean(p)),
        _ => "policy from the command line".to_owned(),
    };
    let _ = writeln!(out, "{policy}, {} rule(s)", r.policy.rules.len());
    for rule in &r.policy.rules {
        let _ = writeln!(
            out,
            "  rule {}: {} -> {}",
            clean(&rule.name),
            clean(&rule.repositories.join(", ")),
            clean(&rule.summary)
        );
    }
    if let Some(seal) = &r.seal {
        let _ = write!(out, "seal: {}", seal.verdict);
        if let Some(s) = &seal.signer {
            let _ = write!(out, ", signed by {}", clean(s));
        }
        if let Some(a) = &seal.algorithm {
            let _ = write!(out, " ({a})");
        }
        if let Some(why) = &seal.reason {
            let _ = write!(out, ": {}", clean(why));
        }
        out.push('\n');
    }
    let t = &r.totals;
    let _ = writeln!(
        out,
        "{}: {} of {} image(s) passed, {} failed; signatures: {} verified, {} rejected, {} not verifiable; attestations: {} verified, {} rejected",
        r.verdict.word(),
        t.passed,
        t.images,
        t.failed,
        t.signatures.verified,
        t.signatures.rejected,
        t.signatures.not_verified,
        t.attestations.verified,
        t.attestations.rejected
    );
    for img in &r.images {
        out.push('\n');
        image(&mut out, img);
    }
    out
}

fn image(out: &mut String, img: &ImageReport) {
    let _ = write!(out, "{}  {}  {}", img.verdict.word(), clean(&img.reference), img.digest);
    if !img.platforms.is_empty() {
        let _ = write!(out, "  ({})", clean(&img.platforms.join(", ")));
    }
    out.push('\n');
    let _ =
        writeln!(out, "      rule: {}", img.rule.as_deref().map(clean).unwrap_or_else(|| "(none covers it)".into()));
    if img.verdict == Outcome::Fail {
        for reason in &img.reasons {
            let _ = writeln!(out, "      reason: {}", clean(reason));
        }
    }
    if img.signatures.is_empty() && img.reasons.is_empty() {
        let _ = writeln!(out, "      no signatures");
    }
    for s in &img.signatures {
        let who = s.signer.as_ref().map(|s| clean(&s.identity())).unwrap_or_else(|| "unknown signer".into());
        let verdict = match s.verdict {
            SignatureVerdict::Verified => "verified",
            SignatureVerdict::Rejected => "REJECTED",
            SignatureVerdict::PresentNotVerified => "NOT VERIFIED",
        };
        let _ = write!(out, "      signature {verdict}: {who}");
        if let Some(issuer) = s.signer.as_ref().and_then(|s| s.issuer()) {
            let _ = write!(out, ", issuer {}", clean(issuer));
        }
        if let Some(a) = &s.algorithm {
            let _ = write!(out, ", {a}");
        }
        if let Some(t) = &s.trusted_time {
            let _ = write!(out, ", time {} ({})", t.time, t.source);
        }
        let _ = write!(out, " [{}]", format_label(s.format));
        out.push('\n');
        if let Some(why) = &s.reason {
            let _ = writeln!(out, "        why: {}", clean(why));
        }
        for c in &s.chain {
            let _ = writeln!(out, "        cert {} (valid {} .. {})", clean(&c.subject), c.not_before, c.not_after);
        }
        let _ = writeln!(out, "        checks: {}", s.checks);
    }
    for a in &img.attestations {
        let verdict = if a.verdict == SignatureVerdict::Verified { "verified" } else { "REJECTED" };
        let _ = write!(
            out,
            "      attestation {verdict}: {}",
            clean(a.predicate_type.as_deref().unwrap_or("(no predicate type)"))
        );
        if let Some(s) = &a.signer {
            let _ = write!(out, " by {}", clean(s));
        }
        if let Some(why) = &a.reason {
            let _ = write!(out, ": {}", clean(why));
        }
        out.push('\n');
    }
}
