//! The HTML rendering of an [`AuditReport`]: one self-contained file (inline CSS, no
//! script, no external asset, so it opens offline and under a strict CSP), a summary
//! first, then one block per image with a red or green badge and the verdict in words,
//! details folded with `<details>`.
//!
//! Every string goes through [`escape_html`]: references, SANs, subjects and reasons come
//! from the bundle or registry and are hostile input.

use std::fmt::Write as _;

use super::report::{
    format_label, AuditReport, CertReport, ImageReport, Outcome, PolicySource, SignatureVerdict, Subject,
};

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business in a report; show them, do not pass them.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#xFFFD;");
            }
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.muted{color:#57606a}
.badge{display:inline-block;min-width:3.5rem;text-align:center;font-weight:700;padding:.15rem .5rem;border-radius:.3rem;color:#fff;margin-right:.5rem}
.badge.pass{background:#1a7f37}.badge.fail{background:#cf222e}.badge.neutral{background:#6e7781}
.summary{border:1px solid #d0d7de;border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}
.summary.pass{border-left:.5rem solid #1a7f37}.summary.fail{border-left:.5rem solid #cf222e}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f6f8fa}
section.image{border:1px solid #d0d7de;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}
section.image.pass{border-left:.5rem solid #1a7f37}section.image.fail{border-left:.5rem solid #cf222e;background:#fff8f8}
ul.reasons{color:#a40e26;margin:.4rem 0}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
td.ok,span.ok{color:#1a7f37;font-weight:600}td.bad,span.bad{color:#cf222e;font-weight:600}
"#;

fn badge(o: Outcome) -> String {
    let class = match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
    };
    format!(r#"<span class="badge {class}">{}</span>"#, o.word())
}

fn opt(s: Option<&str>) -> String {
    s.map(escape_html).unwrap_or_else(|| r#"<span class="muted">&mdash;</span>"#.to_owned())
}

/// The ten per-signature checks (`verify::Checks`), one per line, as the text and JSON
/// reports give them: a failed check in red, a passed one in green.
fn checks_html(checks: &crate::verify::Checks) -> String {
    let mut out = String::from("<span class=\"mono\">");
    for (i, (name, status)) in checks.entries().into_iter().enumerate() {
        let class = match status {
            crate::verify::CheckStatus::Passed => "ok",
            crate::verify::CheckStatus::Failed => "bad",
            _ => "muted",
        };
        let _ = write!(
            out,
            "{}{} <span class=\"{class}\">{}</span>",
            if i == 0 { "" } else { "<br>" },
            escape_html(name),
            escape_html(status.name())
        );
    }
    out.push_str("</span>");
    out
}

fn chain_html(chain: &[CertReport]) -> String {
    if chain.is_empty() {
        return opt(None);
    }
    chain
        .iter()
        .map(|c| {
            format!(
                "{}<br><span class=\"muted\">{} &ndash; {}</span>",
                escape_html(&c.subject),
                escape_html(&c.not_before),
                escape_html(&c.not_after)
            )
        })
        .collect::<Vec<_>>()
        .join("<hr>")
}

pub fn render_html(r: &AuditReport) -> String {
    let mut out = String::new();
    let title = match &r.subject {
        Subject::Bundle { path, .. } => format!("bundle {path}"),
        Subject::Registry { registry, prefix } if prefix.is_empty() => format!("registry {registry}"),
        Subject::Registry { registry, prefix } => format!("registry {registry}/{prefix}"),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>sealift audit: {}</title><style>{CSS}</style></head><body>\n",
        escape_html(&title)
    );
    let _ = writeln!(out, "<h1>sealift audit of {}</h1>", escape_html(&title));
    let _ = writeln!(
        out,
        "<p class=\"muted\">Generated {} by {} {} &middot; schema <code>{}</code></p>",
        escape_html(&r.generated_at),
        r.tool.name,
        escape_html(r.tool.version),
        escape_html(r.schema)
    );
    summary(&mut out, r);
    let _ = writeln!(out, "<h2>Images</h2>");
    if r.images.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">No images.</p>");
    }
    for img in &r.images {
        image(&mut out, img);
    }
    out.push_str("</body></html>\n");
    out
}

fn summary(out: &mut String, r: &AuditReport) {
    let class = if r.passed() { "pass" } else { "fail" };
    let t = &r.totals;
    let _ = writeln!(out, "<div class=\"summary {class}\" id=\"summary\">");
    let _ = writeln!(
        out,
        "<p>{} <strong>{} of {} image(s) passed</strong>, {} failed.</p>",
        badge(r.verdict),
        t.passed,
        t.images,
        t.failed
    );
    out.push_str("<table><tr><th>What</th><th>Result</th></tr>\n");
    match &r.subject {
        Subject::Bundle { path, size, index_digest } => {
            let _ = writeln!(out, "<tr><td>Bundle</td><td><code>{}</code></td></tr>", escape_html(path));
            if let Some(n) = size {
                let _ =
                    writeln!(out, "<tr><td>Size</td><td>{} ({n} bytes)</td></tr>", crate::transfer::inspect::human(*n));
            }
            if let Some(d) = index_digest {
                let _ = writeln!(out, "<tr><td>index.json</td><td><code>{d}</code></td></tr>");
            }
        }
        Subject::Registry { registry, prefix } => {
            let _ = writeln!(
                out,
                "<tr><td>Registry</td><td><code>{}</code> prefix <code>{}</code></td></tr>",
                escape_html(registry),
                escape_html(if prefix.is_empty() { "(all)" } else { prefix })
            );
        }
    }
    if let Some(seal) = &r.seal {
        let seal_class = match seal.verdict {
            "verified" => "ok",
            "rejected" => "bad",
            _ => "",
        };
        let mut text = escape_html(seal.verdict);
        if let Some(s) = &seal.signer {
            let _ = write!(text, ", signed by {}", escape_html(s));
        }
        if let Some(a) = &seal.algorithm {
            let _ = write!(text, " ({})", escape_html(a));
        }
        if let Some(why) = &seal.reason {
            let _ = write!(text, ": {}", escape_html(why));
        }
        let _ = writeln!(out, "<tr><td>Seal</td><td class=\"{seal_class}\">{text}</td></tr>");
        if !seal.chain.is_empty() {
            let _ = writeln!(out, "<tr><td>Seal certificate chain</td><td>{}</td></tr>", chain_html(&seal.chain));
        }
    }
    let _ = writeln!(
        out,
        "<tr><td>Signatures</td><td>{} verified, {} rejected, {} not verifiable</td></tr>",
        t.signatures.verified, t.signatures.rejected, t.signatures.not_verified
    );
    let _ = writeln!(
        out,
        "<tr><td>Attestations</td><td>{} verified, {} rejected</td></tr>",
        t.attestations.verified, t.attestations.rejected
    );
    let policy = match (&r.policy.source, &r.policy.path) {
        (PolicySource::File, Some(p)) => format!("file <code>{}</code>", escape_html(p)),
        _ => "command line".to_owned(),
    };
    let _ = writeln!(out, "<tr><td>Policy</td><td>{policy}</td></tr>");
    out.push_str("</table>\n");
    if !r.policy.rules.is_empty() {
        out.push_str("<details><summary>Policy rules</summary><table><tr><th>Rule</th><th>Repositories</th><th>Requires</th></tr>\n");
        for rule in &r.policy.rules {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape_html(&rule.name),
                escape_html(&rule.repositories.join(", ")),
                escape_html(&rule.summary)
            );
        }
        out.push_str("</table></details>\n");
    }
    out.push_str("</div>\n");
}

fn image(out: &mut String, img: &ImageReport) {
    let class = match img.verdict {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
    };
    let _ = writeln!(out, "<section class=\"image {class}\">");
    let _ =
        writeln!(out, "<h2>{} <span class=\"mono\">{}</span></h2>", badge(img.verdict), escape_html(&img.reference));
    let _ = write!(out, "<p class=\"muted\">digest <code>{}</code>", img.digest);
    if !img.platforms.is_empty() {
        let _ = write!(out, " &middot; {}", escape_html(&img.platforms.join(", ")));
    }
    if let Some(mt) = &img.media_type {
        let _ = write!(out, " &middot; <code>{}</code>", escape_html(mt));
    }
    let _ = writeln!(
        out,
        " &middot; rule {}</p>",
        img.rule.as_deref().map(escape_html).unwrap_or_else(|| "<em>none covers it</em>".to_owned())
    );
    if !img.reasons.is_empty() {
        out.push_str("<ul class=\"reasons\">");
        for reason in &img.reasons {
            let _ = write!(out, "<li>{}</li>", escape_html(reason));
        }
        out.push_str("</ul>\n");
    }
    let verified = img.signatures.iter().filter(|s| s.verdict == SignatureVerdict::Verified).count();
    let _ = writeln!(out, "<details><summary>Signatures: {verified} of {} verified</summary>", img.signatures.len());
    if img.signatures.is_empty() {
        out.push_str("<p class=\"muted\">No signatures.</p>");
    } else {
        out.push_str(
            "<table><tr><th>Verdict</th><th>Signer</th><th>Issuer</th><th>Certificate chain</th>\
             <th>Algorithm</th><th>Trusted time</th><th>Format</th><th>Checks</th></tr>\n",
        );
        for s in &img.signatures {
            let (cls, word) = match s.verdict {
                SignatureVerdict::Verified => ("ok", "verified"),
                SignatureVerdict::Rejected => ("bad", "rejected"),
                SignatureVerdict::PresentNotVerified => ("bad", "not verified"),
            };
            let reason = s.reason.as_deref().map(|r| format!("<br>{}", escape_html(r))).unwrap_or_default();
            let time = s
                .trusted_time
                .as_ref()
                .map(|t| format!("{} ({})", escape_html(&t.time), t.source))
                .unwrap_or_else(|| opt(None));
            let _ = writeln!(
                out,
                "<tr><td class=\"{cls}\">{word}{reason}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{time}</td>\
                 <td>{}<br><span class=\"mono muted\">{}</span></td><td>{}</td></tr>",
                opt(s.signer.as_ref().map(|s| s.identity()).as_deref()),
                opt(s.signer.as_ref().and_then(|s| s.issuer())),
                chain_html(&s.chain),
                opt(s.algorithm.as_deref()),
                format_label(s.format),
                s.holder,
                checks_html(&s.checks)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</details>\n");
    if !img.attestations.is_empty() {
        let ok = img.attestations.iter().filter(|a| a.verdict == SignatureVerdict::Verified).count();
        let _ = writeln!(
            out,
            "<details><summary>Attestations: {ok} of {} verified</summary><table>\
             <tr><th>Verdict</th><th>Predicate type</th><th>Signer</th></tr>",
            img.attestations.len()
        );
        for a in &img.attestations {
            let (cls, word) =
                if a.verdict == SignatureVerdict::Verified { ("ok", "verified") } else { ("bad", "rejected") };
            let reason = a.reason.as_deref().map(|r| format!("<br>{}", escape_html(r))).unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td class=\"{cls}\">{word}{reason}</td><td>{}</td><td>{}</td></tr>",
                opt(a.predicate_type.as_deref()),
                opt(a.signer.as_deref())
            );
        }
        out.push_str("</table></details>\n");
    }
    out.push_str("</section>\n");
}
