//! Byte- and JSON-aware mutations of a seed, driven by a small seeded generator so that a
//! run is reproducible from its seed (no coverage feedback: see docs/fuzzing.md).

/// xorshift64*: enough randomness for mutation, deterministic from the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Inputs never grow past this: a mutated input is bounded, so a slow or large run is the
/// parser's doing.
pub const MAX_INPUT: usize = 1 << 20;

/// Tokens that tend to reach the corners of JSON, TOML, PEM, DER and tar parsers.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e999",
    b"-0",
    b"18446744073709551616",
    b"9223372036854775807",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\\",
    b"\n",
    b"=",
    b"[[rule]]",
    b"'''",
    b"\"\"\"",
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----END CERTIFICATE-----\n",
    b"sha256:",
    b"sha512:",
    b"../",
    b"/",
    b"\x00",
    b"\xff",
    b"\x80",
    b"\x30\x82\xff\xff",
    b"\x30\x80",
    b"\x06\x09",
    b"\x1b[2J",
    b"\"schemaVersion\":2",
    b"\"mediaType\":",
    b"\"digest\":",
    b"\"size\":",
    b"\"annotations\":{}",
    b"\"manifests\":[]",
    b"\"layers\":[]",
];

/// Applies 1 to 8 stacked mutations; `others` are the other seeds, for splicing.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>], json: bool) {
    let n = 1 + rng.below(8);
    for _ in 0..n {
        if json && rng.chance(4) {
            if let Some(v) = json_mutation(rng, input) {
                *input = v;
                continue;
            }
        }
        byte_mutation(rng, input, others);
    }
    input.truncate(MAX_INPUT);
}

fn byte_mutation(rng: &mut Rng, v: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = v.len();
    match rng.below(12) {
        0 if len > 0 => {
            let i = rng.below(len);
            v[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            v[i] = [0u8, 0xff, 0x7f, 0x80, b'0', b'"', b'\\', b' '][rng.below(8)];
        }
        2 if len > 0 => {
            // Overwrite a 1/2/4/8-byte field with an interesting value (tar sizes, DER lengths).
            let w = [1usize, 2, 4, 8][rng.below(4)].min(len);
            let i = rng.below(len - w + 1);
            let val: u64 = [0, 1, u64::MAX, 0x7fff_ffff, 0x8000_0000, 0xffff][rng.below(6)];
            for (k, b) in v[i..i + w].iter_mut().enumerate() {
                *b = (val >> (8 * k)) as u8;
            }
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            v.drain(i..i + n);
        }
        4 => {
            let i = rng.below(len + 1);
            let t = TOKENS[rng.below(TOKENS.len())];
            v.splice(i..i, t.iter().copied());
        }
        5 if len > 0 => {
            // Duplicate a chunk, sometimes many times (deep nesting, long runs).
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(256));
            let chunk = v[i..i + n].to_vec();
            let times = if rng.chance(8) { 1 + rng.below(2000) } else { 1 };
            let at = rng.below(len + 1);
            let mut ins = Vec::with_capacity(chunk.len() * times);
            for _ in 0..times {
                ins.extend_from_slice(&chunk);
            }
            ins.truncate(MAX_INPUT.saturating_sub(len));
            v.splice(at..at, ins);
        }
        6 if len > 0 => v.truncate(rng.below(len)),
        7 if !others.is_empty() => {
            // Splice: our head, another seed's tail.
            let o = &others[rng.below(others.len())];
            let i = rng.below(len + 1);
            let j = rng.below(o.len() + 1);
            v.truncate(i);
            v.extend_from_slice(&o[j..]);
        }
        8 if len > 1 => {
            let i = rng.below(len);
            let j = rng.below(len);
            v.swap(i, j);
        }
        9 if len > 0 => {
            // Replace a run with a repeated byte.
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(32));
            let b = v[rng.below(len)];
            v[i..i + n].fill(b);
        }
        10 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            v.splice(i..i, ins);
        }
        _ => {
            // Decimal digit runs: ASCII numbers are how JSON and tar headers carry sizes.
            if let Some(i) = (0..8).map(|_| rng.below(len.max(1))).find(|&i| v.get(i).is_some_and(u8::is_ascii_digit)) {
                v[i] = b"0123456789"[rng.below(10)];
            } else if len > 0 {
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(1);
            }
        }
    }
}

/// Parses the input as JSON, changes one node, and writes it back: reaches the checks
/// behind the syntax (types, required fields, values) that byte flips mostly miss.
fn json_mutation(rng: &mut Rng, input: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(input).ok()?;
    let mut paths = Vec::new();
    collect(&value, &mut Vec::new(), &mut paths);
    let path = paths.get(rng.below(paths.len().max(1)))?.clone();
    let node = walk(&mut value, &path)?;
    use serde_json::Value as V;
    let old = node.clone();
    *node = match rng.below(10) {
        0 => V::Null,
        1 => V::from(-1),
        2 => V::from(u64::MAX),
        3 => V::from(""),
        4 => V::from("\u{1b}[2J\u{0}../x"),
        5 => V::Array(vec![old.clone(), old]),
        6 => {
            let mut m = serde_json::Map::new();
            m.insert("unknownField".into(), old);
            V::Object(m)
        }
        7 => match old {
            V::String(s) => V::from(format!("{s}{s}")),
            V::Number(n) => V::from(n.as_f64().unwrap_or(0.0) * -1.5),
            other => other,
        },
        8 => match old {
            V::Array(mut a) if !a.is_empty() => {
                a.remove(rng.below(a.len()));
                V::Array(a)
            }
            V::Object(mut o) if !o.is_empty() => {
                let k = o.keys().nth(rng.below(o.len())).cloned()?;
                o.remove(&k);
                V::Object(o)
            }
            other => other,
        },
        _ => V::from(true),
    };
    let mut out = serde_json::to_vec(&value).ok()?;
    if rng.chance(4) {
        // Duplicate keys cannot be built through a Value: copy a `"key":value,` pair textually.
        if let Some(i) = out.iter().position(|&b| b == b'{') {
            if let Some(end) = out[i..].iter().position(|&b| b == b',') {
                let pair = out[i + 1..i + end + 1].to_vec();
                out.splice(i + 1..i + 1, pair);
            }
        }
    }
    Some(out)
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn collect(v: &serde_json::Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        serde_json::Value::Object(m) => {
            for (k, c) in m {
                at.push(Step::Key(k.clone()));
                collect(c, at, out);
                at.pop();
            }
        }
        serde_json::Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                at.push(Step::Index(i));
                collect(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn walk<'a>(v: &'a mut serde_json::Value, path: &[Step]) -> Option<&'a mut serde_json::Value> {
    let mut cur = v;
    for s in path {
        cur = match s {
            Step::Key(k) => cur.get_mut(k)?,
            Step::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}
