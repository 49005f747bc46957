//! Name constraints as Go's `crypto/x509` applies them (verify.go `isValid`,
//! `checkNameConstraints`), which is what cosign's certificate check runs.
//!
//! - A CA's constraints apply to the SANs of every certificate below it in the path
//!   (leaf and intermediates), never to a subject CN (OpenSSL's legacy rule checks a
//!   hostname-like CN against DNS constraints when there is no DNS SAN; Go does not).
//! - dNSName, rfc822Name, uniformResourceIdentifier and iPAddress are checked; other SAN
//!   forms are ignored. A DNS constraint with a leading period needs at least one more
//!   label (Go's extension of RFC 5280); an empty constraint matches everything.
//! - A wildcard DNS SAN (`*.example.com`) is excluded by an excluded constraint for any
//!   name the wildcard could stand for (`bar.example.com`), as Go since CVE-2025-61727.
//! - Constraint types Go does not handle (directoryName, otherName, …) are parse-time
//!   facts: see [`super::path`] (a critical extension holding one is unhandled).
//! - At most [`MAX_COMPARISONS`] comparisons per CA, as Go's default.

use std::net::IpAddr;

/// Go's `MaxConstraintComparisions` default.
pub const MAX_COMPARISONS: usize = 250_000;

/// One parsed constraint subtree (`base` only: Go ignores minimum/maximum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subtree {
    Dns(String),
    Email(String),
    Uri(String),
    /// Network address and mask, both 4 or both 16 bytes.
    Ip(Vec<u8>, Vec<u8>),
}

/// A CA's nameConstraints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameConstraints {
    pub permitted: Vec<Subtree>,
    pub excluded: Vec<Subtree>,
}

/// A SAN entry as the name-constraint check sees it (validated at parse time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    Dns(String),
    Email(String),
    Uri(String),
    Ip(IpAddr),
    /// otherName, directoryName, …: not constrained (Go ignores them).
    Other,
}

/// Go's `domainToReverseLabels`: labels of printable ASCII, none empty, no trailing dot.
pub fn reverse_labels(domain: &str) -> Option<Vec<&str>> {
    if domain.is_empty() {
        return Some(Vec::new());
    }
    let labels: Vec<&str> = domain.rsplit('.').collect();
    if labels.iter().any(|l| l.is_empty() || l.bytes().any(|c| !(33..=126).contains(&c))) {
        return None;
    }
    Some(labels)
}

/// Go's `parseRFC2821Mailbox`, reduced to what matching needs: (local part, domain).
pub fn parse_mailbox(s: &str) -> Option<(String, String)> {
    let (local, domain) = if let Some(rest) = s.strip_prefix('"') {
        let mut local = String::new();
        let mut chars = rest.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => local.push(chars.next()?.1),
                c if (c as u32) < 128 => local.push(c),
                _ => return None,
            }
        }
        let after = &rest[end?..];
        (local, after.strip_prefix('@')?.to_owned())
    } else {
        let at = s.find('@')?;
        let (l, d) = (&s[..at], &s[at + 1..]);
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if l.is_empty() || !l.chars().all(atext) || l.starts_with('.') || l.ends_with('.') || l.contains("..") {
            return None;
        }
        (l.to_owned(), d.to_owned())
    };
    if domain.is_empty() || reverse_labels(&domain).is_none() {
        return None;
    }
    Some((local, domain))
}

/// Go's `matchDomainConstraint`.
fn match_domain(domain: &str, constraint: &str) -> Result<bool, String> {
    if constraint.is_empty() {
        return Ok(true);
    }
    let labels = reverse_labels(domain).ok_or_else(|| format!("cannot parse domain {domain:?}"))?;
    let (must_have_sub, c) = match constraint.strip_prefix('.') {
        Some(c) => (true, c),
        None => (false, constraint),
    };
    let clabels = reverse_labels(c).ok_or_else(|| format!("cannot parse constraint {constraint:?}"))?;
    if labels.len() < clabels.len() || (must_have_sub && labels.len() == clabels.len()) {
        return Ok(false);
    }
    Ok(clabels.iter().zip(&labels).all(|(c, d)| c.eq_ignore_ascii_case(d)))
}

/// For an excluded constraint and a wildcard SAN: could `*.base` stand for a name the
/// constraint excludes? (Go's CVE-2025-61727 fix.)
fn wildcard_hits_excluded(san: &str, constraint: &str) -> bool {
    let Some(base) = san.strip_prefix("*.") else { return false };
    let c = constraint.strip_prefix('.').unwrap_or(constraint);
    let (Some(bl), Some(cl)) = (reverse_labels(base), reverse_labels(c)) else { return false };
    // The wildcard stands for exactly one label: the constraint names base plus one label.
    cl.len() == bl.len() + 1 && bl.iter().zip(&cl).all(|(b, c)| b.eq_ignore_ascii_case(c))
}

fn match_email(mailbox: &(String, String), constraint: &str) -> Result<bool, String> {
    if constraint.contains('@') {
        let (cl, cd) = parse_mailbox(constraint).ok_or_else(|| format!("cannot parse constraint {constraint:?}"))?;
        return Ok(mailbox.0 == cl && mailbox.1.eq_ignore_ascii_case(&cd));
    }
    match_domain(&mailbox.1, constraint)
}

/// The host of a URI, as Go's `matchURIConstraint` takes it (errors for no host or an IP).
fn uri_host(uri: &str) -> Result<String, String> {
    let after_scheme = uri.split_once(':').map(|(_, r)| r).ok_or_else(|| format!("URI {uri:?} has no scheme"))?;
    let authority = after_scheme
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .ok_or_else(|| format!("URI {uri:?} has no host and cannot be matched against constraints"))?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() {
        return Err(format!("URI {uri:?} has no host and cannot be matched against constraints"));
    }
    if hostport.starts_with('[') {
        return Err(format!("URI with IP ({uri:?}) cannot be matched against constraints"));
    }
    let host = hostport.split_once(':').map_or(hostport, |(h, _)| h);
    if host.parse::<IpAddr>().is_ok() {
        return Err(format!("URI with IP ({uri:?}) cannot be matched against constraints"));
    }
    Ok(host.to_owned())
}

fn match_ip(ip: &IpAddr, net: &[u8], mask: &[u8]) -> bool {
    let bytes = match ip {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    };
    bytes.len() == net.len() && bytes.iter().zip(net).zip(mask).all(|((b, n), m)| b & m == n & m)
}

fn describe(n: &Name) -> String {
    match n {
        Name::Dns(s) => format!("DNS name {s:?}"),
        Name::Email(s) => format!("email address {s:?}"),
        Name::Uri(s) => format!("URI {s:?}"),
        Name::Ip(ip) => format!("IP address {ip}"),
        Name::Other => "name".to_owned(),
    }
}

fn subtree_text(s: &Subtree) -> String {
    match s {
        Subtree::Dns(d) | Subtree::Email(d) | Subtree::Uri(d) => format!("{d:?}"),
        Subtree::Ip(n, m) => format!("{}/{}", ip_text(n), m.iter().map(|b| b.count_ones()).sum::<u32>()),
    }
}

fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(b).expect("length checked")).to_string(),
        16 => IpAddr::from(<[u8; 16]>::try_from(b).expect("length checked")).to_string(),
        _ => format!("{b:02x?}"),
    }
}

/// Does `subtree` match `name`? `None` when they are of different types.
fn matches(name: &Name, subtree: &Subtree, excluded: bool) -> Option<Result<bool, String>> {
    Some(match (name, subtree) {
        (Name::Dns(d), Subtree::Dns(c)) => {
            match_domain(d, c).map(|m| m || (excluded && d.starts_with("*.") && wildcard_hits_excluded(d, c)))
        }
        (Name::Email(e), Subtree::Email(c)) => match parse_mailbox(e) {
            Some(mb) => match_email(&mb, c),
            None => Err(format!("cannot parse rfc822Name {e:?}")),
        },
        (Name::Uri(u), Subtree::Uri(c)) => uri_host(u).and_then(|h| match_domain(&h, c)),
        (Name::Ip(ip), Subtree::Ip(n, m)) => Ok(match_ip(ip, n, m)),
        _ => return None,
    })
}

/// Checks `names` (the SANs of one certificate below the CA) against the CA's
/// constraints; `Err` says which name and which constraint. `count` carries Go's
/// comparison budget across the certificates checked for this CA.
pub fn check(nc: &NameConstraints, names: &[Name], count: &mut usize) -> Result<(), String> {
    for name in names {
        if *name == Name::Other {
            continue;
        }
        let same_type = |s: &&Subtree| matches(name, s, false).is_some();
        let excluded: Vec<&Subtree> = nc.excluded.iter().filter(same_type).collect();
        *count += excluded.len();
        if *count > MAX_COMPARISONS {
            return Err("too many name constraint comparisons (Go's limit is 250000)".to_owned());
        }
        for s in excluded {
            if matches(name, s, true).expect("same type")? {
                return Err(format!("{} is excluded by constraint {}", describe(name), subtree_text(s)));
            }
        }
        let permitted: Vec<&Subtree> = nc.permitted.iter().filter(same_type).collect();
        *count += permitted.len();
        if *count > MAX_COMPARISONS {
            return Err("too many name constraint comparisons (Go's limit is 250000)".to_owned());
        }
        if permitted.is_empty() {
            continue;
        }
        let mut ok = false;
        for s in permitted {
            if matches(name, s, false).expect("same type")? {
                ok = true;
                break;
            }
        }
        if !ok {
            return Err(format!("{} is not permitted by any constraint", describe(name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nc(permitted: Vec<Subtree>, excluded: Vec<Subtree>) -> NameConstraints {
        NameConstraints { permitted, excluded }
    }

    #[test]
    fn dns_rules_as_go() {
        let dns = |s: &str| Subtree::Dns(s.into());
        let n = |s: &str| vec![Name::Dns(s.into())];
        let mut c = 0;
        assert!(check(&nc(vec![dns("example.com")], vec![]), &n("foo.bar.example.com"), &mut c).is_ok());
        assert!(check(&nc(vec![dns("example.com")], vec![]), &n("example.com"), &mut c).is_ok());
        assert!(check(&nc(vec![dns(".example.com")], vec![]), &n("example.com"), &mut c).is_err());
        assert!(check(&nc(vec![dns("example.com")], vec![]), &n("notexample.com"), &mut c).is_err());
        assert!(check(&nc(vec![], vec![dns("example.com")]), &n("a.EXAMPLE.com"), &mut c).is_err());
        // CVE-2025-61727: a wildcard could stand for the excluded name.
        assert!(check(&nc(vec![], vec![dns("bar.example.com")]), &n("*.example.com"), &mut c).is_err());
        assert!(check(&nc(vec![dns("foo.example.com")], vec![]), &n("*.example.com"), &mut c).is_err());
        assert!(check(&nc(vec![dns("foo.com")], vec![]), &n("*.foo.com"), &mut c).is_ok());
        // Other types are not constrained by a DNS subtree.
        assert!(check(&nc(vec![dns("example.com")], vec![]), &[Name::Email("a@b.org".into())], &mut c).is_ok());
        assert!(check(&nc(vec![dns("example.com")], vec![]), &[Name::Other], &mut c).is_ok());
    }

    #[test]
    fn email_uri_ip_rules_as_go() {
        let mut c = 0;
        let email = |s: &str| Subtree::Email(s.into());
        let e = |s: &str| vec![Name::Email(s.into())];
        assert!(check(&nc(vec![email("foo@example.com")], vec![]), &e("foo@example.com"), &mut c).is_ok());
        assert!(check(&nc(vec![email("example.com")], vec![]), &e("foo@example.com"), &mut c).is_ok());
        assert!(check(&nc(vec![email("*@example.com")], vec![]), &e("user@example.com"), &mut c).is_err());
        assert!(check(&nc(vec![email("*@example.com")], vec![]), &e("*@example.com"), &mut c).is_ok());
        let uri = vec![Subtree::Uri("example.com".into())];
        assert!(check(&nc(uri.clone(), vec![]), &[Name::Uri("https://example.com/x".into())], &mut c).is_ok());
        assert!(check(&nc(uri.clone(), vec![]), &[Name::Uri("https://evil.org:443/".into())], &mut c).is_err());
        assert!(check(&nc(uri, vec![]), &[Name::Uri("https://10.0.0.1/".into())], &mut c).is_err());
        let net = Subtree::Ip(vec![192, 0, 2, 0], vec![255, 255, 255, 0]);
        assert!(check(&nc(vec![net.clone()], vec![]), &[Name::Ip("192.0.2.7".parse().unwrap())], &mut c).is_ok());
        assert!(check(&nc(vec![net.clone()], vec![]), &[Name::Ip("192.0.3.7".parse().unwrap())], &mut c).is_err());
        assert!(check(&nc(vec![], vec![net]), &[Name::Ip("192.0.2.7".parse().unwrap())], &mut c).is_err());
    }

    #[test]
    fn comparison_budget() {
        let many: Vec<Subtree> = (0..1000).map(|i| Subtree::Dns(format!("x{i}.example"))).collect();
        let names: Vec<Name> = (0..300).map(|i| Name::Dns(format!("y{i}.example"))).collect();
        let mut c = 0;
        let err = check(&nc(vec![], many), &names, &mut c).unwrap_err();
        assert!(err.contains("too many"), "{err}");
    }
}
